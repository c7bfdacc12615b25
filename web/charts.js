// The delay charts of an airport's day, from GET /stats?group_by=hour and group_by=carrier:
// departures (up) and arrivals (down) per UTC hour, each bar coloured by the hour's average delay
// and carrying its count, and the on-time share of each carrier as horizontal bars.

import { h, s } from "./dom.js";
import { severity } from "./format.js";
import { carrierName } from "./names.js";

const HOUR = 3_600_000;

function delayLabel(m) {
  if (m === null || m === undefined) return "no actual times yet";
  const r = Math.round(m);
  return r === 0 ? "on time on average" : `${r > 0 ? "+" : "−"}${Math.abs(r)} min average delay`;
}

/** Fills the hours between the first and the last the API returned, so the time axis has no gaps. */
function hourRange(hours) {
  const by = new Map(hours.map((x) => [Date.parse(x.hour), x]));
  const times = [...by.keys()];
  const first = Math.min(...times);
  const last = Math.max(...times);
  const out = [];
  for (let t = first; t <= last; t += HOUR) {
    out.push(by.get(t) || {
      hour: new Date(t).toISOString().replace(".000Z", "Z"), departures: 0, arrivals: 0,
      avg_departure_delay_minutes: null, avg_arrival_delay_minutes: null, missing: true,
    });
  }
  return out;
}

/**
 * The hourly chart. `hours` is the API's `hours` array; `airport` names the axis.
 * Each bar has data-side, data-hour, data-count and data-avg-delay (the API's figure).
 */
export function hourlyChart(hours, airport) {
  if (!hours.length) return h("p", { class: "muted" }, "No flights in this day's hours.");
  const rows = hourRange(hours);
  const max = Math.max(1, ...rows.map((r) => Math.max(r.departures, r.arrivals)));
  const colW = Math.max(22, Math.min(56, Math.floor(960 / rows.length)));
  const left = 86;
  const width = left + rows.length * colW + 10;
  const half = 96;
  const mid = 30 + half;
  const height = mid + half + 30;
  const barW = colW - 6;
  const scale = (n) => (n / max) * (half - 18);

  const bar = (r, i, side) => {
    const n = side === "departure" ? r.departures : r.arrivals;
    const delay = side === "departure" ? r.avg_departure_delay_minutes : r.avg_arrival_delay_minutes;
    const x = left + i * colW + 3;
    const bh = n ? Math.max(3, scale(n)) : 0;
    const y = side === "departure" ? mid - 11 - bh : mid + 11;
    const hourText = r.hour.slice(11, 16);
    const what = side === "departure" ? "departures" : "arrivals";
    return s(
      "g",
      { class: `hour-bar sev-${n ? severity(delay) : "none"}`, "data-side": side, "data-hour": r.hour,
        "data-count": n, "data-avg-delay": delay ?? "" },
      s("title", {}, `${hourText} UTC: ${n} ${what}, ${delayLabel(delay)}`),
      n ? s("rect", { x, y, width: barW, height: bh, rx: 2 }) : null,
      n ? s("text", { x: x + barW / 2, y: side === "departure" ? y - 4 : y + bh + 12, "text-anchor": "middle",
        class: "bar-value" }, String(n)) : null,
    );
  };

  const labels = rows.map((r, i) => (i % Math.max(1, Math.round(3 * 30 / colW)) === 0
    ? s("text", { x: left + i * colW + colW / 2, y: mid + 4, "text-anchor": "middle", class: "hour-label" },
      r.hour.slice(11, 13))
    : null));
  const summary = rows.filter((r) => r.departures || r.arrivals).map((r) =>
    `${r.hour.slice(11, 16)}: ${r.departures} departures (${delayLabel(r.avg_departure_delay_minutes)}), ` +
    `${r.arrivals} arrivals (${delayLabel(r.avg_arrival_delay_minutes)})`).join("; ");
  return s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, width, height, class: "hourly-chart", role: "img",
      "aria-label": `Departures and arrivals at ${airport} per UTC hour. ${summary}` },
    s("text", { x: 0, y: mid - half / 2, class: "side-label" }, "Departures"),
    s("text", { x: 0, y: mid + half / 2 + 6, class: "side-label" }, "Arrivals"),
    s("text", { x: 0, y: mid + 4, class: "hour-label" }, "UTC hour"),
    rows.map((r, i) => bar(r, i, "departure")),
    rows.map((r, i) => bar(r, i, "arrival")),
    labels,
  );
}

/** The legend of the delay colours, in words as well as colours. */
export function delayLegend() {
  const item = (cls, text) => h("li", {}, h("span", { class: `swatch sev-${cls}`, "aria-hidden": "true" }), text);
  return h("ul", { class: "legend", "aria-label": "Bar colour: the hour's average delay" },
    item("early", "early"), item("ontime", "under 15 min late"), item("minor", "15–44 min"),
    item("major", "45 min or more"), item("none", "no actual times yet"));
}

/**
 * On-time share by carrier, for departures or arrivals (`side`), largest carriers first.
 * Each row has data-carrier, data-pct and data-flights.
 */
export function carrierChart(carriers, side, selected) {
  const key = side === "departure" ? "on_time_departure_pct" : "on_time_arrival_pct";
  const count = side === "departure" ? "departures" : "arrivals";
  const rows = carriers.filter((c) => c[count] > 0)
    .sort((a, b) => b[count] - a[count] || a.carrier.localeCompare(b.carrier));
  if (!rows.length) return h("p", { class: "muted" }, `No ${count} to compare.`);
  return h(
    "ol",
    { class: "carrier-chart" },
    rows.map((c) => {
      const pct = c[key];
      return h(
        "li",
        { class: `carrier-row${c.carrier === selected ? " selected" : ""}`, "data-carrier": c.carrier,
          "data-pct": pct ?? "", "data-flights": c[count] },
        h("span", { class: "carrier-name" }, carrierName(c.carrier), " ", h("span", { class: "muted" }, c.carrier)),
        h("span", { class: "carrier-track", "aria-hidden": "true" },
          pct === null ? null : h("span", { class: `carrier-fill${pct < 50 ? " low" : ""}`, style: `width:${pct}%` })),
        h("span", { class: "carrier-value" },
          pct === null ? "no actual times yet" : `${pct.toFixed(1)} % on time`,
          h("span", { class: "muted" }, ` · ${c[count]} ${count}`)),
      );
    }),
  );
}
