// What the page shows, in one place: the selection kept in the URL hash (airport, date, board kind,
// filters, time zone, page size, or the flight open in the detail view) and how it maps to the hash.

export const config = Object.assign({ apiBaseUrl: "", devToken: "", refreshSeconds: 30, pageSize: 50 },
  window.CONTRAIL_CONFIG || {});

export function clampLimit(n) {
  const v = Number.parseInt(n, 10);
  return Number.isFinite(v) ? Math.min(500, Math.max(1, v)) : 50;
}

export const state = {
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

/** What the page holds between answers: the views read and change it here, not in variables of their own. */
export const session = {
  /** Board pages as loaded: each is the cursor it was asked with and the API's answer. */
  pages: [],
  /** Bumped on every new selection; answers that come back for an older one are dropped. */
  generation: 0,
  /** A next page is being fetched (the scroll asks once). */
  loadingMore: false,
  /** Live refresh is on, and its interval timer while it runs. */
  live: true,
  timer: null,
  /** The detail view's event pages as loaded. */
  detailPages: [],
  /** The map (one, moved between the board and the detail view) and the flights in the air it draws. */
  sky: null,
  skyRows: [],
};

export function boardHash() {
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

/** Reads the hash into `state`; returns true when it names a complete board or a flight. */
export function readHash(hash = location.hash) {
  const raw = hash.replace(/^#/, "");
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
