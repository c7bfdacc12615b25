// The page: state in the URL hash, the board with its cursor pages, the detail view, live refresh
// with ETags, the token, and the messages people see when something goes wrong.

import { Api, ApiError } from "./api.js";
import { $, h } from "./dom.js";
import { boardRow, headings } from "./board.js";
import { lastEvent, renderFlight, timelineItems } from "./detail.js";
import { clearStats, renderStats } from "./stats.js";
import { AIRPORT_ZONES, carrierName } from "./format.js";

const config = Object.assign({ apiBaseUrl: "", devToken: "", refreshSeconds: 30, pageSize: 50 },
  window.CONTRAIL_CONFIG || {});
const TOKEN_KEY = "contrail.token";
const api = new Api(config.apiBaseUrl);

const state = {
  view: "board",
  airport: "",
  date: "",
  kind: "departures",
  carrier: "",
  status: "",
  tz: "utc",
  limit: clampLimit(config.pageSize),
  flightId: "",
};
/** Board pages as loaded: each is the cursor it was asked with and the API's answer. */
let pages = [];
/** Bumped on every new selection; answers that come back for an older one are dropped. */
let generation = 0;
let loadingMore = false;
let live = true;
let timer = null;
let detailPages = [];
const seenCarriers = new Set();
const seenAirports = new Set();

function clampLimit(n) {
  const v = Number.parseInt(n, 10);
  return Number.isFinite(v) ? Math.min(500, Math.max(1, v)) : 50;
}

// ---------- URL hash <-> state ----------

function boardHash() {
  const q = new URLSearchParams();
  q.set("airport", state.airport);
  q.set("date", state.date);
  q.set("kind", state.kind);
  if (state.carrier) q.set("carrier", state.carrier);
  if (state.status) q.set("status", state.status);
  if (state.tz !== "utc") q.set("tz", state.tz);
  if (state.limit !== clampLimit(config.pageSize)) q.set("limit", String(state.limit));
  return `#/board?${q}`;
}

/** Reads the hash; returns true when it names a complete board or a flight. */
function readHash() {
  const raw = location.hash.replace(/^#/, "");
  if (raw.startsWith("/flight/")) {
    state.view = "detail";
    state.flightId = decodeURIComponent(raw.slice("/flight/".length));
    return true;
  }
  state.view = "board";
  const q = new URLSearchParams(raw.split("?")[1] || "");
  if (q.get("airport")) state.airport = q.get("airport").toUpperCase();
  if (q.get("date")) state.date = q.get("date");
  state.kind = q.get("kind") === "arrivals" ? "arrivals" : "departures";
  state.carrier = (q.get("carrier") || "").toUpperCase();
  state.status = q.get("status") || "";
  state.tz = q.get("tz") === "local" ? "local" : "utc";
  state.limit = clampLimit(q.get("limit") || config.pageSize);
  return Boolean(state.airport && state.date);
}

function go(hash, { replace = false } = {}) {
  if (location.hash === hash) {
    route();
  } else if (replace) {
    history.replaceState(null, "", hash);
    route();
  } else {
    location.hash = hash;
  }
}

// ---------- messages ----------

function notice(kind, title, text, action) {
  const box = $("#notice");
  box.className = `notice notice-${kind}`;
  box.replaceChildren(h("strong", {}, title), " ", h("span", {}, text), action || "");
  box.hidden = false;
}

function clearNotice() {
  const box = $("#notice");
  box.hidden = true;
  box.replaceChildren();
}

/** Explains a failed request in words that say what to do next. */
function showError(err) {
  if (!(err instanceof ApiError)) {
    console.error(err);
    notice("error", "Something went wrong in the page.", String(err?.message || err));
    return;
  }
  const detail = err.code && err.message ? ` (${err.status} ${err.code}: ${err.message})` : ` (${err.status})`;
  switch (err.kind) {
    case "unauthorized":
      notice("auth", "Sign in again.",
        "The API did not accept the token (401 Unauthorized): it is missing, expired or not valid here. " +
        "Paste a fresh bearer token below (for the local stack, the command \"contrail token\" prints one).");
      openTokenBox();
      break;
    case "forbidden":
      notice("auth", "Missing scope.",
        "The token is valid but does not carry the scope this API requires (403 Forbidden), " +
        "flights:read by default. Use a token issued with that scope.");
      openTokenBox();
      break;
    case "network":
      notice("error", "Network error.", `${err.message} Check that the API is running and reachable; ` +
        "the board retries on the next refresh.");
      break;
    case "server":
      notice("error", "The API failed.", `The server could not answer${detail}. It is not your input; ` +
        "the board retries on the next refresh.");
      break;
    case "not_found":
      notice("warn", "Not found.", `The API has no such resource${detail}.`);
      break;
    default:
      notice("warn", "The API refused the request.", `Check the airport, date and filters${detail}.`);
  }
}

function openTokenBox() {
  const box = $("#auth-box");
  box.open = true;
  $("#token").focus();
}

// ---------- token ----------

function loadToken() {
  const stored = sessionStorage.getItem(TOKEN_KEY);
  api.token = stored || config.devToken || "";
  $("#token").value = api.token;
  $("#auth-state").textContent = stored
    ? "· set for this tab"
    : config.devToken ? "· development token from the server" : "· none";
}

function bindToken() {
  $("#auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("#token").value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    loadToken();
    api.forgetCache();
    clearNotice();
    route();
  });
  $("#token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("#token").value = "";
    api.token = "";
    api.forgetCache();
    $("#auth-state").textContent = "· none";
  });
}

// ---------- default airport and date ----------

function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

function dayShift(day, days) {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86400000).toISOString().slice(0, 10);
}

async function anyDepartingAfter(day) {
  const { body } = await api.get("/flights", { departing_after: `${day}T00:00:00Z`, limit: 1 });
  return body.items[0] || null;
}

/**
 * Today when it has flights; else the next day that has some; else the latest day before today
 * that has some, found by doubling then halving a `departing_after` probe (a few requests of one row).
 */
async function defaultDate() {
  const today = todayUtc();
  const { body } = await api.get("/flights", { date: today, limit: 1 });
  if (body.items.length) return today;
  const next = await anyDepartingAfter(today);
  if (next) return next.date;
  let back = 1;
  while (back <= 8192 && !(await anyDepartingAfter(dayShift(today, -back)))) back *= 2;
  if (back > 8192) return null;
  // Flights depart on or after today-back but none after today-back/2: bisect the days between.
  let lo = back;
  let hi = back === 1 ? 0 : back / 2;
  while (lo - hi > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await anyDepartingAfter(dayShift(today, -mid))) lo = mid;
    else hi = mid;
  }
  const first = await anyDepartingAfter(dayShift(today, -lo));
  return first ? first.date : null;
}

/** The airport with the most departures plus arrivals on the day, from up to 2,000 flights. */
async function busiestAirport(date) {
  const counts = new Map();
  let cursor = null;
  let sampled = 0;
  for (let page = 0; page < 4; page++) {
    const { body } = await api.get("/flights", { date, limit: 500, cursor });
    for (const f of body.items) {
      for (const code of [f.origin, f.destination]) {
        counts.set(code, (counts.get(code) || 0) + 1);
        seenAirports.add(code);
      }
    }
    sampled += body.items.length;
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return ranked.length ? { airport: ranked[0][0], sampled, complete: !cursor } : null;
}

async function chooseDefaults() {
  setBusy(true);
  $("#page-state").textContent = "Finding the busiest airport and the latest day in the data…";
  try {
    const date = state.date || (await defaultDate());
    if (!date) {
      showEmpty("There are no flights in the data yet. Start the simulator (\"contrail up\") or load events " +
        "with \"contrail replay FILE\", then refresh.");
      return;
    }
    const best = state.airport ? { airport: state.airport } : await busiestAirport(date);
    if (!best) {
      showEmpty(`There are no flights on ${date}.`);
      return;
    }
    state.date = date;
    state.airport = best.airport;
    if (best.sampled) {
      $("#airport-hint").textContent = `Showing the busiest airport on ${date} ` +
        `(${best.complete ? "of" : "in a sample of"} ${best.sampled} flights); choose any other above.`;
    }
    go(boardHash(), { replace: true });
  } catch (err) {
    showError(err);
  } finally {
    $("#page-state").textContent = "";
    setBusy(false);
  }
}

// ---------- board ----------

function boardPath() {
  return `/airports/${encodeURIComponent(state.airport)}/${state.kind}`;
}

function boardParams(cursor) {
  return { date: state.date, carrier: state.carrier, status: state.status, limit: state.limit, cursor };
}

function statsParams() {
  const side = state.kind === "departures" ? "origin" : "destination";
  return { date: state.date, [side]: state.airport, carrier: state.carrier };
}

function statsScope() {
  const what = state.kind === "departures" ? `departures from ${state.airport}` : `arrivals at ${state.airport}`;
  return `${what} on ${state.date}${state.carrier ? `, ${carrierName(state.carrier)} only` : ""} (all statuses)`;
}

function setBusy(busy) {
  $("#board").setAttribute("aria-busy", busy ? "true" : "false");
}

function syncControls() {
  $("#airport").value = state.airport;
  $("#date").value = state.date;
  $("#status").value = state.status;
  $("#tz").value = state.tz;
  for (const tab of document.querySelectorAll(".tab")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.kind === state.kind));
  }
  syncCarrierOptions();
  $("#carrier").value = state.carrier;
  const head = headings(state.kind, state.airport, state.tz);
  $("#col-sched").textContent = head.sched;
  $("#col-place").textContent = head.place;
  $("#col-expected").textContent = head.expected;
  const kindText = state.kind === "departures" ? "Departures" : "Arrivals";
  $("#board-title").textContent = `${kindText} · ${state.airport} · ${state.date}`;
  document.title = `${kindText} ${state.airport} ${state.date} · Contrail`;
  const tzNote = state.tz === "local" && !AIRPORT_ZONES[state.airport]
    ? ` Local time is not known for ${state.airport}; times are in UTC.` : "";
  $("#board-caption").textContent = `${kindText} ${state.kind === "departures" ? "from" : "to"} ` +
    `${state.airport} for flights dated ${state.date}, in scheduled order.${tzNote}`;
}

function syncCarrierOptions() {
  const select = $("#carrier");
  if (state.carrier) seenCarriers.add(state.carrier);
  const have = new Set([...select.options].map((o) => o.value));
  for (const code of [...seenCarriers].sort()) {
    if (!have.has(code)) select.append(h("option", { value: code }, `${code} · ${carrierName(code)}`));
  }
  const list = $("#airport-list");
  const known = new Set([...list.options].map((o) => o.value));
  for (const code of [...seenAirports].sort()) {
    if (!known.has(code)) list.append(h("option", { value: code }));
  }
}

function remember(items) {
  for (const f of items) {
    seenCarriers.add(f.carrier);
    seenAirports.add(f.origin);
    seenAirports.add(f.destination);
  }
}

function renderRows() {
  const rows = $("#board-rows");
  const focusedId = document.activeElement?.closest?.("tr")?.dataset.flightId;
  const items = pages.flatMap((p) => p.body.items);
  const opts = { kind: state.kind, airport: state.airport, tzMode: state.tz, boardDay: null, onOpen: openFlight };
  // Times on another local day than the board's are marked +1d/-1d; in UTC the board day is the date.
  opts.boardDay = state.tz === "utc" || !AIRPORT_ZONES[state.airport] ? state.date : null;
  rows.replaceChildren(...items.map((f) => boardRow(f, opts)));
  if (focusedId) rows.querySelector(`tr[data-flight-id="${CSS.escape(focusedId)}"] a`)?.focus();
  remember(items);
  syncCarrierOptions();

  const last = pages[pages.length - 1];
  const more = Boolean(last?.body.next_cursor);
  $("#load-more").hidden = !more;
  $("#page-state").textContent = items.length
    ? `${items.length} flight${items.length === 1 ? "" : "s"} shown${more ? "; more to load" : ""}.`
    : "";
  if (items.length === 0 && pages.length) {
    const filtered = state.carrier || state.status;
    showEmpty(`No ${state.kind} ${state.kind === "departures" ? "from" : "to"} ${state.airport} on ${state.date}` +
      `${filtered ? " match these filters" : ""}.`, filtered);
  } else {
    $("#empty").hidden = true;
  }
}

function showEmpty(text, offerClear) {
  const box = $("#empty");
  box.replaceChildren(h("span", {}, text));
  if (offerClear) {
    box.append(" ", h("button", {
      type: "button",
      class: "btn",
      onclick: () => {
        state.carrier = "";
        state.status = "";
        go(boardHash());
      },
    }, "Clear filters"));
  }
  box.hidden = false;
}

async function loadBoard() {
  const mine = ++generation;
  pages = [];
  $("#board-rows").replaceChildren();
  $("#load-more").hidden = true;
  $("#empty").hidden = true;
  $("#page-state").textContent = "";
  clearStats();
  syncControls();
  setBusy(true);
  const [board, stats] = await Promise.allSettled([
    api.get(boardPath(), boardParams(null)),
    api.get("/stats", statsParams()),
  ]);
  if (mine !== generation) return;
  setBusy(false);
  const failed = [board, stats].find((r) => r.status === "rejected");
  if (failed) showError(failed.reason);
  else clearNotice();
  if (board.status === "fulfilled") {
    pages = [{ cursor: null, body: board.value.body }];
    renderRows();
  }
  if (stats.status === "fulfilled") renderStats(stats.value.body, statsScope());
  if (!failed) markChecked(true);
}

async function loadMore() {
  const last = pages[pages.length - 1];
  if (loadingMore || !last?.body.next_cursor) return;
  loadingMore = true;
  const mine = generation;
  const cursor = last.body.next_cursor;
  $("#load-more").disabled = true;
  try {
    const { body } = await api.get(boardPath(), boardParams(cursor));
    if (mine !== generation) return;
    pages.push({ cursor, body });
    renderRows();
  } catch (err) {
    showError(err);
    return;
  } finally {
    loadingMore = false;
    $("#load-more").disabled = false;
  }
  autoLoad();
}

/** Infinite scroll: keeps loading while the "Load more" button is within reach of the viewport. */
function autoLoad() {
  const button = $("#load-more");
  if (button.hidden || state.view !== "board") return;
  if (button.getBoundingClientRect().top < window.innerHeight + 200) loadMore();
}

/**
 * Revalidates every loaded page, following the cursors of the current answers. When every page
 * and the stats come back 304 the rendered board is left exactly as it is.
 */
async function refreshBoard() {
  const mine = generation;
  const fresh = [];
  let changed = false;
  let cursor = null;
  const count = Math.max(1, pages.length);
  for (let i = 0; i < count; i++) {
    const r = await api.get(boardPath(), boardParams(cursor));
    if (mine !== generation) return;
    if (r.changed || pages[i]?.cursor !== cursor) changed = true;
    fresh.push({ cursor, body: r.body });
    cursor = r.body.next_cursor;
    if (!cursor) break;
  }
  if (fresh.length !== pages.length) changed = true;
  const stats = await api.get("/stats", statsParams());
  if (mine !== generation) return;
  if (changed) {
    pages = fresh;
    renderRows();
  }
  if (stats.changed) renderStats(stats.body, statsScope());
  clearNotice();
  markChecked(changed || stats.changed);
}

// ---------- detail ----------

function openFlight(id) {
  go(`#/flight/${encodeURIComponent(id)}`);
}

async function loadDetail({ quiet = false } = {}) {
  const mine = ++generation;
  const id = state.flightId;
  if (!quiet) {
    $("#detail-title").textContent = id;
    $("#detail-body").replaceChildren(h("p", { class: "muted" }, "Loading…"));
    $("#timeline").replaceChildren();
    $("#history-more").hidden = true;
  }
  try {
    const path = `/flights/${encodeURIComponent(id)}`;
    const [flight, events] = await Promise.all([api.get(path), api.get(`${path}/events`, { limit: 100 })]);
    if (mine !== generation) return;
    clearNotice();
    if (quiet && !flight.changed && !events.changed) {
      markChecked(false);
      return;
    }
    const f = flight.body;
    $("#detail-title").textContent = `${f.carrier} ${f.number} · ${f.origin} → ${f.destination} · ${f.date}`;
    document.title = `${f.carrier} ${f.number} ${f.date} · Contrail`;
    $("#detail-body").replaceChildren(renderFlight(f, state.tz));
    detailPages = [events.body];
    $("#timeline").replaceChildren(...timelineItems(events.body.items, null, f, state.tz));
    $("#history-more").hidden = !events.body.next_cursor;
    $("#history-more").onclick = () => moreHistory(f);
    markChecked(true);
  } catch (err) {
    if (mine !== generation) return;
    if (!quiet) $("#detail-body").replaceChildren();
    showError(err);
  }
}

async function moreHistory(flight) {
  const last = detailPages[detailPages.length - 1];
  if (!last?.next_cursor) return;
  try {
    const { body } = await api.get(`/flights/${encodeURIComponent(flight.flight_id)}/events`,
      { limit: 100, cursor: last.next_cursor });
    const prev = lastEvent(detailPages.flatMap((p) => p.items), null);
    detailPages.push(body);
    $("#timeline").append(...timelineItems(body.items, prev, flight, state.tz));
    $("#history-more").hidden = !body.next_cursor;
  } catch (err) {
    showError(err);
  }
}

// ---------- live refresh ----------

function markChecked(changed) {
  const t = new Date().toISOString().slice(11, 19);
  const every = `every ${config.refreshSeconds} s`;
  $("#live-state").textContent = live
    ? `Live, ${every}. Checked ${t} UTC${changed ? "" : ": no change"}.`
    : `Paused. Checked ${t} UTC${changed ? "" : ": no change"}.`;
}

async function refresh() {
  try {
    if (state.view === "detail") await loadDetail({ quiet: true });
    else if (pages.length) await refreshBoard();
    else if (state.airport && state.date) await loadBoard();
  } catch (err) {
    showError(err);
  }
}

function schedule() {
  clearInterval(timer);
  timer = null;
  if (live && config.refreshSeconds > 0) {
    timer = setInterval(() => {
      if (!document.hidden) refresh();
    }, config.refreshSeconds * 1000);
  }
}

function bindLive() {
  const toggle = $("#live-toggle");
  toggle.addEventListener("click", () => {
    live = !live;
    toggle.setAttribute("aria-pressed", String(live));
    toggle.textContent = live ? "Pause live refresh" : "Resume live refresh";
    schedule();
    markChecked(true);
  });
  $("#refresh-now").addEventListener("click", () => refresh());
}

// ---------- controls ----------

function bindControls() {
  $("#controls").addEventListener("submit", (e) => {
    e.preventDefault();
    const airport = $("#airport").value.trim().toUpperCase();
    if (!/^[A-Z]{3}$/.test(airport)) {
      notice("warn", "Airport code needed.", "Type a three-letter IATA code such as EWR.");
      $("#airport").focus();
      return;
    }
    state.airport = airport;
    state.date = $("#date").value || state.date;
    state.carrier = $("#carrier").value;
    state.status = $("#status").value;
    state.tz = $("#tz").value;
    go(boardHash());
  });
  // Filters apply as soon as they change; airport and date wait for the button or Enter.
  for (const id of ["carrier", "status", "tz"]) {
    $(`#${id}`).addEventListener("change", () => {
      state[id] = $(`#${id}`).value;
      go(boardHash());
    });
  }
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      state.kind = tab.dataset.kind;
      go(boardHash());
    });
  }
  $("#load-more").addEventListener("click", loadMore);
  // Infinite scroll: the "Load more" button loads itself when it scrolls into view.
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) loadMore();
    }, { rootMargin: "200px" }).observe($("#load-more"));
  }
  window.addEventListener("scroll", autoLoad, { passive: true });
  $("#detail-back").addEventListener("click", () => {
    if (state.airport && state.date) go(boardHash());
    else go("#/board");
  });
}

// ---------- routing ----------

function route() {
  const complete = readHash();
  $("#board-view").hidden = state.view !== "board";
  $("#detail-view").hidden = state.view !== "detail";
  if (state.view === "detail") {
    loadDetail().then(() => $("#detail-title").focus());
    return;
  }
  if (!complete) {
    chooseDefaults();
    return;
  }
  loadBoard();
}

function start() {
  $("#foot-api").textContent = `API: ${config.apiBaseUrl || "this server (same origin)"}`;
  loadToken();
  bindToken();
  bindControls();
  bindLive();
  window.addEventListener("hashchange", route);
  schedule();
  if (!api.token) {
    notice("auth", "Sign in.",
      "Paste a bearer token with the flights:read scope (for the local stack, \"contrail token\" prints one).");
    openTokenBox();
    return;
  }
  route();
}

start();
