// The stats strip: the figures of GET /stats as served, and a bar chart of flights by status.

import { $, h, s } from "./dom.js";
import { avgMinutes, percent, titleCase } from "./format.js";

/** Statuses in the order of a flight's life, so the chart reads left to right like a day. */
export const STATUS_ORDER = [
  "scheduled", "delayed", "boarding", "departed", "airborne", "landed", "arrived", "cancelled", "diverted",
];

export function renderStats(stats, scopeText) {
  const set = (key, text) => {
    $(`[data-stat="${key}"]`).textContent = text;
  };
  set("flights", String(stats.flights));
  set("cancelled", String(stats.cancelled));
  set("avg_departure_delay_minutes", avgMinutes(stats.avg_departure_delay_minutes));
  set("avg_arrival_delay_minutes", avgMinutes(stats.avg_arrival_delay_minutes));
  set("on_time_arrival_pct", percent(stats.on_time_arrival_pct));
  $("#stats-chart").replaceChildren(statusChart(stats.by_status || {}));
  $("#stats-caption").textContent = `Flights by status, ${scopeText}`;
}

export function clearStats() {
  for (const dd of document.querySelectorAll("[data-stat]")) dd.textContent = "–";
  $("#stats-chart").replaceChildren();
  $("#stats-caption").textContent = "";
}

/** An inline SVG bar chart; each bar carries its count as text, so the chart never relies on colour. */
export function statusChart(byStatus) {
  const known = STATUS_ORDER.filter((st) => byStatus[st]);
  const extra = Object.keys(byStatus).filter((st) => !STATUS_ORDER.includes(st) && byStatus[st]);
  const entries = [...known, ...extra].map((st) => [st, byStatus[st]]);
  if (entries.length === 0) return h("p", { class: "muted" }, "No flights to chart.");

  const max = Math.max(...entries.map(([, n]) => n));
  const barW = 44;
  const gap = 14;
  const top = 18;
  const plotH = 70;
  const width = entries.length * (barW + gap) + gap;
  const height = top + plotH + 22;
  const summary = entries.map(([st, n]) => `${st} ${n}`).join(", ");

  const bars = entries.map(([st, n], i) => {
    const x = gap + i * (barW + gap);
    const bh = Math.max(2, Math.round((n / max) * plotH));
    const y = top + plotH - bh;
    return s(
      "g",
      { class: `bar status-${st}`, "data-status": st },
      s("rect", { x, y, width: barW, height: bh, rx: 3 }),
      s("text", { x: x + barW / 2, y: y - 4, "text-anchor": "middle", class: "bar-value" }, String(n)),
      s("text", { x: x + barW / 2, y: top + plotH + 15, "text-anchor": "middle", class: "bar-label" },
        titleCase(st).slice(0, 9)),
    );
  });
  return s(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-label": `Flights by status: ${summary}`,
      class: "status-chart",
    },
    s("line", { x1: gap / 2, x2: width - gap / 2, y1: top + plotH, y2: top + plotH, class: "axis" }),
    bars,
  );
}
