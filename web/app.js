// The page: the board with its cursor pages, the sky map, the delay charts, the detail view with the
// flight's track, live refresh with ETags, the token, and the messages people see when something
// goes wrong. What is shown (the selection) and what the page holds between answers (its pages, the map,
// live refresh) live in state.js.

import { Api, ApiError } from "./api.js";
import { $, h } from "./dom.js";
import { boardRow, headings } from "./board.js";
import { lastEvent, renderFlight, timelineItems } from "./detail.js";
import { clearStats, renderStats } from "./stats.js";
import { AIRPORT_ZONES } from "./format.js";
import { airportName, carrierName, loadNames } from "./names.js";
import { boardHash, config, readHash, session, state } from "./state.js";
import { SkyMap, altitudeText } from "./map.js";
import { altitudeProfile } from "./profile.js";
import { carrierChart, delayLegend, hourlyChart } from "./charts.js";

const TOKEN_KEY = "contrail.token";
const api = new Api(config.apiBaseUrl);

const seenCarriers = new Set();
const seenAirports = new Set();
/** At most this many pages of 500 positions are drawn (10,000 flights). */
const POSITION_PAGES = 20;

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
    if (!known.has(code)) list.append(h("option", { value: code, label: airportName(code) }));
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
  const items = session.pages.flatMap((p) => p.body.items);
  const opts = { kind: state.kind, airport: state.airport, tzMode: state.tz, boardDay: null, onOpen: openFlight };
  // Times on another local day than the board's are marked +1d/-1d; in UTC the board day is the date.
  opts.boardDay = state.tz === "utc" || !AIRPORT_ZONES[state.airport] ? state.date : null;
  rows.replaceChildren(...items.map((f) => boardRow(f, opts)));
  if (focusedId) rows.querySelector(`tr[data-flight-id="${CSS.escape(focusedId)}"] a`)?.focus();
  remember(items);
  syncCarrierOptions();

  const last = session.pages[session.pages.length - 1];
  const more = Boolean(last?.body.next_cursor);
  $("#load-more").hidden = !more;
  $("#page-state").textContent = items.length
    ? `${items.length} flight${items.length === 1 ? "" : "s"} shown${more ? "; more to load" : ""}.`
    : "";
  if (items.length === 0 && session.pages.length) {
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
  const mine = ++session.generation;
  session.pages = [];
  $("#board-rows").replaceChildren();
  $("#load-more").hidden = true;
  $("#empty").hidden = true;
  $("#page-state").textContent = "";
  clearStats();
  syncControls();
  setBusy(true);
  clearDelays();
  const [board, stats, hourly, carriers] = await Promise.allSettled([
    api.get(boardPath(), boardParams(null)),
    api.get("/stats", statsParams()),
    api.get("/stats", delayParams("hour")),
    api.get("/stats", delayParams("carrier")),
  ]);
  if (mine !== session.generation) return;
  setBusy(false);
  const failed = [board, stats, hourly, carriers].find((r) => r.status === "rejected");
  if (failed) showError(failed.reason);
  else clearNotice();
  if (board.status === "fulfilled") {
    session.pages = [{ cursor: null, body: board.value.body }];
    renderRows();
  }
  if (stats.status === "fulfilled") renderStats(stats.value.body, statsScope());
  if (hourly.status === "fulfilled") renderHourly(hourly.value.body);
  if (carriers.status === "fulfilled") renderCarriers(carriers.value.body);
  refreshSky().catch((err) => {
    if (mine === session.generation) showError(err);
  });
  if (!failed) markChecked(true);
}

// ---------- delay charts ----------

/** `/stats?group_by=` for the board's airport and day: departures from it and arrivals to it. */
function delayParams(groupBy) {
  // The hourly chart follows the carrier filter; the carrier chart compares every carrier.
  const carrier = groupBy === "hour" ? state.carrier : "";
  return { date: state.date, airport: state.airport, carrier, group_by: groupBy };
}

function clearDelays() {
  for (const id of ["#hourly-chart", "#carrier-chart", "#hourly-legend"]) $(id).replaceChildren();
  $("#hourly-caption").textContent = "";
  $("#carrier-caption").textContent = "";
}

function renderHourly(body) {
  const only = state.carrier ? `, ${carrierName(state.carrier)} only` : "";
  $("#hourly-caption").textContent =
    `Flights per hour at ${state.airport} on ${state.date}${only}: departures above the line, arrivals below; ` +
    "each bar's colour is the hour's average delay.";
  $("#hourly-chart").replaceChildren(hourlyChart(body.hours || [], state.airport));
  $("#hourly-legend").replaceChildren(delayLegend());
}

function renderCarriers(body) {
  const side = state.kind === "departures" ? "departure" : "arrival";
  $("#carrier-caption").textContent = `On-time ${side}s by carrier at ${state.airport} ` +
    "(under 15 minutes late, of the flights with an actual time)";
  $("#carrier-chart").replaceChildren(carrierChart(body.carriers || [], side, state.carrier));
}

// ---------- the sky map ----------

/**
 * Every page of GET /positions (airborne flights), revalidated with the ETag of each page.
 * Resolves to {rows, changed}.
 */
async function fetchPositions() {
  const rows = [];
  let changed = false;
  let cursor = null;
  for (let i = 0; i < POSITION_PAGES; i++) {
    const r = await api.get("/positions", { limit: 500, cursor });
    changed ||= r.changed;
    rows.push(...r.body.items);
    cursor = r.body.next_cursor;
    if (!cursor) break;
  }
  return { rows, changed: changed || rows.length !== session.skyRows.length, more: Boolean(cursor) };
}

/** Reloads the flights in the air and redraws the map when they changed. */
async function refreshSky() {
  try {
    const { rows, changed, more } = await fetchPositions();
    if (!changed) return false;
    session.skyRows = rows;
    session.sky.setFlights(rows);
    const highest = rows.reduce((m, r) => Math.max(m, r.altitude_ft ?? 0), 0);
    session.sky.say(rows.length
      ? `${rows.length.toLocaleString("en-US")} flight${rows.length === 1 ? "" : "s"} in the air` +
        `${more ? ` (the first ${rows.length.toLocaleString("en-US")})` : ""}; the highest at ${altitudeText(highest)}.`
      : "No flights are in the air right now.");
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.kind === "not_found") {
      session.sky.say("This API has no /positions route, so the map cannot show the flights in the air.");
      return false;
    }
    throw err;
  }
}

function placeMap(slot) {
  const el = $("#sky");
  if (el.parentElement !== $(slot)) $(slot).append(el);
}

async function loadMore() {
  const last = session.pages[session.pages.length - 1];
  if (session.loadingMore || !last?.body.next_cursor) return;
  session.loadingMore = true;
  const mine = session.generation;
  const cursor = last.body.next_cursor;
  $("#load-more").disabled = true;
  try {
    const { body } = await api.get(boardPath(), boardParams(cursor));
    if (mine !== session.generation) return;
    session.pages.push({ cursor, body });
    renderRows();
  } catch (err) {
    showError(err);
    return;
  } finally {
    session.loadingMore = false;
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
  const mine = session.generation;
  const fresh = [];
  let changed = false;
  let cursor = null;
  const count = Math.max(1, session.pages.length);
  for (let i = 0; i < count; i++) {
    const r = await api.get(boardPath(), boardParams(cursor));
    if (mine !== session.generation) return;
    if (r.changed || session.pages[i]?.cursor !== cursor) changed = true;
    fresh.push({ cursor, body: r.body });
    cursor = r.body.next_cursor;
    if (!cursor) break;
  }
  if (fresh.length !== session.pages.length) changed = true;
  const [stats, hourly, carriers] = await Promise.all([
    api.get("/stats", statsParams()),
    api.get("/stats", delayParams("hour")),
    api.get("/stats", delayParams("carrier")),
  ]);
  if (mine !== session.generation) return;
  if (changed) {
    session.pages = fresh;
    renderRows();
  }
  if (stats.changed) renderStats(stats.body, statsScope());
  if (hourly.changed) renderHourly(hourly.body);
  if (carriers.changed) renderCarriers(carriers.body);
  const moved = await refreshSky();
  if (mine !== session.generation) return;
  clearNotice();
  markChecked(changed || stats.changed || hourly.changed || carriers.changed || moved);
}

// ---------- detail ----------

function openFlight(id) {
  go(`#/flight/${encodeURIComponent(id)}`);
}

async function loadDetail({ quiet = false } = {}) {
  const mine = ++session.generation;
  const id = state.flightId;
  if (!quiet) {
    $("#detail-title").textContent = id;
    $("#detail-body").replaceChildren(h("p", { class: "muted" }, "Loading…"));
    $("#timeline").replaceChildren();
    $("#profile").replaceChildren();
    $("#history-more").hidden = true;
  }
  try {
    const path = `/flights/${encodeURIComponent(id)}`;
    const [flight, events] = await Promise.all([api.get(path), api.get(`${path}/events`, { limit: 100 })]);
    if (mine !== session.generation) return;
    clearNotice();
    if (quiet && !flight.changed && !events.changed) {
      markChecked(false);
      return;
    }
    const f = flight.body;
    $("#detail-title").textContent = `${f.carrier} ${f.number} · ${f.origin} → ${f.destination} · ${f.date}`;
    document.title = `${f.carrier} ${f.number} ${f.date} · Contrail`;
    $("#detail-body").replaceChildren(renderFlight(f, state.tz));
    await showTrack(f, mine, quiet);
    if (mine !== session.generation) return;
    session.detailPages = [events.body];
    $("#timeline").replaceChildren(...timelineItems(events.body.items, null, f, state.tz));
    $("#history-more").hidden = !events.body.next_cursor;
    $("#history-more").onclick = () => moreHistory(f);
    markChecked(true);
  } catch (err) {
    if (mine !== session.generation) return;
    if (!quiet) $("#detail-body").replaceChildren();
    showError(err);
  }
}

/** The flight's positions from its whole history (pages of 500), in time order. */
async function trackPoints(flightId) {
  const points = [];
  let cursor = null;
  for (let i = 0; i < 20; i++) {
    const { body } = await api.get(`/flights/${encodeURIComponent(flightId)}/events`, { limit: 500, cursor });
    for (const entry of body.items) {
      const p = entry.event?.position;
      if (p && Number.isFinite(p.lat) && Number.isFinite(p.lon)) {
        points.push({ ...p, time: entry.event_time, status: entry.event.status });
      }
    }
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return points;
}

async function showTrack(flight, mine, keepView) {
  const points = await trackPoints(flight.flight_id);
  if (mine !== session.generation) return;
  $("#sky-title").textContent = `Track of ${flight.carrier} ${flight.number}`;
  const done = ["landed", "arrived"].includes(flight.status);
  session.sky.say(points.length
    ? `${points.length} reported position${points.length === 1 ? "" : "s"}: the solid line is where it flew` +
      `${done ? ", to its landing." : ", the dashed one the great circle still ahead."}`
    : "No position has been reported for this flight yet; the dashed line is its great circle.");
  session.sky.showTrack(flight, points, { keepView });
  $("#profile").replaceChildren(altitudeProfile(points));
  $("#profile-caption").textContent = `Altitude of ${flight.carrier} ${flight.number} at each reported position`;
}

async function moreHistory(flight) {
  const last = session.detailPages[session.detailPages.length - 1];
  if (!last?.next_cursor) return;
  try {
    const { body } = await api.get(`/flights/${encodeURIComponent(flight.flight_id)}/events`,
      { limit: 100, cursor: last.next_cursor });
    const prev = lastEvent(session.detailPages.flatMap((p) => p.items), null);
    session.detailPages.push(body);
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
  $("#live-state").textContent = session.live
    ? `Live, ${every}. Checked ${t} UTC${changed ? "" : ": no change"}.`
    : `Paused. Checked ${t} UTC${changed ? "" : ": no change"}.`;
}

async function refresh() {
  try {
    if (state.view === "detail") await loadDetail({ quiet: true });
    else if (session.pages.length) await refreshBoard();
    else if (state.airport && state.date) await loadBoard();
  } catch (err) {
    showError(err);
  }
}

function schedule() {
  clearInterval(session.timer);
  session.timer = null;
  if (session.live && config.refreshSeconds > 0) {
    session.timer = setInterval(() => {
      if (!document.hidden) refresh();
    }, config.refreshSeconds * 1000);
  }
}

function bindLive() {
  const toggle = $("#live-toggle");
  toggle.addEventListener("click", () => {
    session.live = !session.live;
    toggle.setAttribute("aria-pressed", String(session.live));
    toggle.textContent = session.live ? "Pause live refresh" : "Resume live refresh";
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
  $("#sky").dataset.mode = state.view === "detail" ? "track" : "sky";
  if (state.view === "detail") {
    placeMap("#detail-map-slot");
    loadDetail().then(() => $("#detail-title").focus());
    return;
  }
  placeMap("#board-map-slot");
  $("#sky-title").textContent = "In the air now";
  session.sky.showSky();
  if (!complete) {
    chooseDefaults();
    return;
  }
  loadBoard();
}

async function start() {
  await loadNames();
  session.sky = new SkyMap($("#sky"), { onOpen: openFlight });
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
