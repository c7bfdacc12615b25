// A flight's altitude profile: altitude against time from the positions in its history, as an SVG
// with labelled axes and one dot per reported position.

import { h, s } from "./dom.js";
import { fullTime } from "./format.js";

const W = 1000;
const H = 220;
const PAD = { left: 64, right: 16, top: 16, bottom: 34 };

/** Niced upper bound of the altitude axis: the next 10,000 ft above the highest point. */
function ceilingOf(max) {
  return Math.max(10000, Math.ceil(max / 10000) * 10000);
}

function hhmm(ms) {
  return new Date(ms).toISOString().slice(11, 16);
}

/** @param {{time: string, altitude_ft: number|null}[]} points positions in time order */
export function altitudeProfile(points) {
  const pts = points.filter((p) => p.altitude_ft !== null && p.altitude_ft !== undefined)
    .map((p) => ({ t: Date.parse(p.time), alt: p.altitude_ft, time: p.time }));
  if (pts.length === 0) {
    return h("p", { class: "muted", "data-points": "0" }, "No altitude has been reported for this flight yet.");
  }
  const t0 = pts[0].t;
  const t1 = Math.max(pts[pts.length - 1].t, t0 + 60_000);
  const top = ceilingOf(Math.max(...pts.map((p) => p.alt)));
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (alt) => PAD.top + (1 - alt / top) * (H - PAD.top - PAD.bottom);

  const grid = [];
  const step = top <= 20000 ? 5000 : 10000;
  for (let a = 0; a <= top; a += step) {
    grid.push(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(a), y2: y(a), class: "grid" }));
    grid.push(s("text", { x: PAD.left - 8, y: y(a) + 4, "text-anchor": "end", class: "tick" },
      a === 0 ? "0 ft" : `${(a / 1000).toFixed(0)},000`));
  }
  const ticks = [];
  const n = Math.min(6, Math.max(1, Math.round((t1 - t0) / 1_800_000)));
  for (let i = 0; i <= n; i++) {
    const t = t0 + ((t1 - t0) * i) / n;
    ticks.push(s("text", { x: x(t), y: H - 10, "text-anchor": i === 0 ? "start" : i === n ? "end" : "middle",
      class: "tick" }, hhmm(t)));
  }
  const line = pts.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.alt).toFixed(1)}`).join(" ");
  const area = `${line} L${x(pts[pts.length - 1].t).toFixed(1)},${y(0)} L${x(pts[0].t).toFixed(1)},${y(0)} Z`;
  const summary = pts.map((p) => `${hhmm(p.t)} UTC ${Math.round(p.alt).toLocaleString("en-US")} ft`).join(", ");
  return s(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "profile", role: "img", "data-points": pts.length,
      "aria-label": `Altitude profile, ${pts.length} reported positions: ${summary}` },
    grid,
    s("path", { d: area, class: "profile-area" }),
    s("path", { d: line, class: "profile-line" }),
    pts.map((p) => s("circle", { cx: x(p.t), cy: y(p.alt), r: 4, class: "profile-dot", "data-altitude": p.alt },
      s("title", {}, `${fullTime(p.time, "UTC")}: ${Math.round(p.alt).toLocaleString("en-US")} ft`))),
    ticks,
    s("text", { x: W - PAD.right, y: PAD.top - 4, "text-anchor": "end", class: "tick" }, "time (UTC)"),
  );
}
