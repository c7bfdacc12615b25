// The sky map: one canvas that draws the world, every airborne flight as a marker rotated to its
// heading (markers that would overlap are drawn as one numbered cluster), and in the detail view a
// flight's track. Pan and zoom by mouse, wheel, touch (one finger pans, two pinch) and keyboard.
//
// Canvas rather than SVG: thousands of markers redrawn every frame while panning stay within a
// frame's time, where as many DOM nodes would not. The drawing is in "world units" (geo.js) under
// one transform, so a pan is a change of two numbers and the country shapes are never re-projected.

import { MAX_LAT, WORLD, atlas, graticulePath, greatCircle, latOfWorldY, unwrap, worldX, worldY } from "./geo.js";
import { $, h } from "./dom.js";
import { airportCity, airportPoint, carrierName } from "./names.js";

/** Markers within one cell of this many CSS pixels are drawn as one cluster. */
const CELL = 34;
/** The most list entries kept in the DOM; the rest are counted. */
const LIST_MAX = 60;
const MAX_ZOOM = 96;
const COLORS = {
  ocean: "#0a1628", land: "#22354f", border: "#3d5577", grid: "rgba(140,170,210,0.12)",
  plane: "#ffc845", outline: "#0b1320", cluster: "#ffc845", clusterText: "#111",
  track: "#7cc4ff", planned: "rgba(232,238,247,0.55)", airport: "#e8eef7",
};

/** A plane pointing north, centred on its middle, about 16 px long. */
const PLANE = new Path2D("M0,-8 L1.6,-3 L8,1 L8,3 L1.6,1.2 L1.2,5.5 L3.5,7.5 L3.5,8.5 L0,7.6 " +
  "L-3.5,8.5 L-3.5,7.5 L-1.2,5.5 L-1.6,1.2 L-8,3 L-8,1 L-1.6,-3 Z");

export class SkyMap {
  /**
   * @param {HTMLElement} root the figure holding the canvas, the controls and the flight list
   * @param {{onOpen: (flightId: string) => void}} handlers
   */
  constructor(root, { onOpen }) {
    this.root = root;
    this.canvas = $("canvas", root);
    this.ctx = this.canvas.getContext("2d");
    this.list = $(".sky-list", root);
    this.listNote = $(".sky-list-note", root);
    this.tip = $(".sky-tip", root);
    this.onOpen = onOpen;
    this.flights = [];
    this.mode = "sky";
    this.track = null;
    this.view = null;
    this.width = 0;
    this.height = 0;
    this.dpr = 1;
    this.shapes = null;
    this.detailed = null;
    this.clusterCache = null;
    this.drawn = [];
    this.raf = 0;
    this.listTimer = 0;
    this.draws = 0;
    this.pointers = new Map();
    atlas("110m").then((s) => {
      this.shapes = s;
      this.requestDraw();
    }, (err) => this.say(`The world map could not be loaded (${err.message}).`));
    this.bindInput();
    new ResizeObserver(() => this.resize()).observe(this.canvas);
    this.resize();
  }

  // ---------- data ----------

  /** The airborne flights (rows of GET /positions) to draw in the sky view. */
  setFlights(rows) {
    this.flights = rows.map((r) => ({ ...r, wx: worldX(r.lon), wy: worldY(r.lat) }));
    this.clusterCache = null;
    this.root.dataset.flights = String(this.flights.length);
    this.requestDraw();
  }

  showSky() {
    if (this.mode !== "sky") {
      this.mode = "sky";
      this.tip.hidden = true;
      this.track = null;
      this.moved = false;
      delete this.root.dataset.trackPoints;
      delete this.root.dataset.trackFlight;
      this.fitWorld();
    }
    this.requestDraw();
  }

  /**
   * The detail view: the flight's positions (in time order) as a line, the rest of its way to the
   * destination as a dashed great circle, and the view fitted to both.
   */
  showTrack(flight, points, { keepView = false } = {}) {
    const refit = !(keepView && this.mode === "track" && this.moved);
    this.mode = "track";
    this.tip.hidden = true;
    const origin = airportPoint(flight.origin);
    const dest = airportPoint(flight.destination);
    const path = unwrap([...(origin ? [origin] : []), ...points]);
    const last = points[points.length - 1];
    const arrived = ["landed", "arrived"].includes(flight.status);
    let planned = [];
    if (dest && (last || origin) && !arrived) {
      const from = path[path.length - 1];
      planned = unwrap([from, ...greatCircle({ lat: from.lat, lon: from.lon }, dest).slice(1)]);
    } else if (dest && arrived && path.length) {
      // Landed: the last leg, from the last position reported in the air, is flown too.
      const from = path[path.length - 1];
      path.push(...unwrap([from, ...greatCircle({ lat: from.lat, lon: from.lon }, dest).slice(1)]).slice(1));
    }
    const airports = [];
    if (origin) airports.push({ code: flight.origin, ...path[0] });
    if (dest) {
      const end = planned.length ? planned[planned.length - 1] : path[path.length - 1];
      airports.push({ code: flight.destination, lat: dest.lat, lon: end ? end.lon : dest.lon });
    }
    this.track = {
      flight,
      points,
      path: path.map((p) => [worldX(p.lon), worldY(p.lat)]),
      planned: planned.map((p) => [worldX(p.lon), worldY(p.lat)]),
      airports: airports.map((a) => ({ code: a.code, wx: worldX(a.lon), wy: worldY(a.lat) })),
      plane: last && !arrived ? {
        wx: worldX(path[path.length - 1].lon), wy: worldY(last.lat), heading: last.heading_deg,
      } : null,
    };
    this.root.dataset.trackPoints = String(points.length);
    this.root.dataset.trackFlight = flight.flight_id;
    if (refit) {
      this.moved = false;
      this.fitTrack();
    }
    this.requestDraw();
  }

  say(text) {
    $(".sky-caption", this.root).textContent = text;
  }

  // ---------- view ----------

  minZoom() {
    return Math.max(this.width / WORLD, 1e-6);
  }

  fitWorld() {
    const k = this.minZoom();
    // Centred on 28°N: the band where most of the world's flights are.
    this.view = { k, tx: 0, ty: this.height / 2 - worldY(28) * k };
    this.clamp();
  }

  fitTrack() {
    const t = this.track;
    const xs = [...t.path, ...t.planned].map((p) => p[0]);
    const ys = [...t.path, ...t.planned].map((p) => p[1]);
    if (!xs.length) {
      this.fitWorld();
      return;
    }
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const pad = 0.7;
    const k = Math.min(MAX_ZOOM * this.minZoom(), Math.max(this.minZoom(),
      Math.min((this.width * pad) / Math.max(x1 - x0, 1e-3), (this.height * pad) / Math.max(y1 - y0, 1e-3))));
    this.view = { k, tx: this.width / 2 - ((x0 + x1) / 2) * k, ty: this.height / 2 - ((y0 + y1) / 2) * k };
    this.clamp();
  }

  /** Keeps the world over the whole height and the zoom within bounds; longitude wraps around. */
  clamp() {
    const v = this.view;
    const min = this.minZoom();
    v.k = Math.min(MAX_ZOOM * min, Math.max(min, v.k));
    const top = worldY(MAX_LAT) * v.k;
    const bottom = worldY(-MAX_LAT) * v.k;
    if (bottom - top <= this.height) v.ty = this.height / 2 - ((top + bottom) / 2);
    else v.ty = Math.min(-top, Math.max(this.height - bottom, v.ty));
    const span = WORLD * v.k;
    v.tx = ((v.tx % span) + span) % span - span;
  }

  panBy(dx, dy) {
    this.view.tx += dx;
    this.view.ty += dy;
    this.clamp();
    this.requestDraw();
  }

  zoomAt(x, y, factor) {
    const v = this.view;
    const k = Math.min(MAX_ZOOM * this.minZoom(), Math.max(this.minZoom(), v.k * factor));
    const f = k / v.k;
    v.tx = x - (x - v.tx) * f;
    v.ty = y - (y - v.ty) * f;
    v.k = k;
    this.clamp();
    this.requestDraw();
  }

  reset() {
    if (this.mode === "track") this.fitTrack();
    else this.fitWorld();
    this.requestDraw();
  }

  resize() {
    const rect = this.canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(rect.width));
    const hgt = Math.max(1, Math.round(rect.height));
    if (w === this.width && hgt === this.height) return;
    const old = this.view && { ...this.view, w: this.width, h: this.height };
    this.width = w;
    this.height = hgt;
    this.dpr = Math.min(2, window.devicePixelRatio || 1);
    this.canvas.width = Math.round(w * this.dpr);
    this.canvas.height = Math.round(hgt * this.dpr);
    if (!old || !this.moved) {
      if (this.mode === "track" && this.track) this.fitTrack();
      else this.fitWorld();
    } else {
      // Keep the same place in the middle.
      const cx = (old.w / 2 - old.tx) / old.k;
      const cy = (old.h / 2 - old.ty) / old.k;
      this.view.k = Math.max(this.minZoom(), old.k);
      this.view.tx = w / 2 - cx * this.view.k;
      this.view.ty = hgt / 2 - cy * this.view.k;
      this.clamp();
    }
    this.clusterCache = null;
    this.requestDraw();
  }

  /** The horizontal copies of the world that are on screen (the map wraps around in longitude). */
  copies(extra = 0) {
    const span = WORLD * this.view.k;
    const out = [];
    for (let n = -1 - extra; n * span + this.view.tx < this.width + extra * span; n++) {
      if ((n + 1) * span + this.view.tx > -extra * span) out.push(n * span);
    }
    return out;
  }

  // ---------- drawing ----------

  requestDraw() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.raf = 0;
    if (!this.view) return;
    const t0 = performance.now();
    const { ctx, dpr, view } = this;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = COLORS.ocean;
    ctx.fillRect(0, 0, this.width, this.height);
    this.drawWorld();
    this.drawn = [];
    if (this.mode === "track") this.drawTrack();
    else this.drawFlights();
    // Zoomed in far enough that the coarse outlines show their corners: load the finer ones once.
    if (!this.detailed && view.k > this.minZoom() * 3) {
      this.detailed = atlas("50m").then((s) => {
        this.fine = s;
        this.requestDraw();
      }, () => {});
    }
    const c = this.centre();
    const d = this.root.dataset;
    d.zoom = (view.k / this.minZoom()).toFixed(2);
    d.centre = `${c.lat.toFixed(2)},${c.lon.toFixed(2)}`;
    const t1 = performance.now();
    performance.measure("sky-map-draw", { start: t0, end: t1 });
    if (++this.draws % 2000 === 0) performance.clearMeasures("sky-map-draw");
  }

  drawWorld() {
    const { ctx, dpr, view } = this;
    const shapes = this.fine && view.k > this.minZoom() * 3 ? this.fine : this.shapes;
    for (const offset of this.copies()) {
      ctx.setTransform(dpr * view.k, 0, 0, dpr * view.k, dpr * (view.tx + offset), dpr * view.ty);
      ctx.lineWidth = 1 / view.k;
      ctx.strokeStyle = COLORS.grid;
      ctx.stroke(graticulePath());
      if (!shapes) continue;
      ctx.fillStyle = COLORS.land;
      ctx.fill(shapes.land);
      ctx.strokeStyle = COLORS.border;
      ctx.lineWidth = 0.8 / view.k;
      ctx.stroke(shapes.borders);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  /** Flights grouped into cells of CELL pixels at the current zoom (anchored to the world, so a pan does not regroup). */
  clusters() {
    const k = this.view.k;
    if (this.clusterCache?.k === k) return this.clusterCache.cells;
    const atMax = k >= MAX_ZOOM * this.minZoom() * 0.999;
    const cells = new Map();
    for (const f of this.flights) {
      const key = atMax ? f.flight_id : `${Math.floor((f.wx * k) / CELL)},${Math.floor((f.wy * k) / CELL)}`;
      let c = cells.get(key);
      if (!c) cells.set(key, (c = { members: [], sx: 0, sy: 0 }));
      c.members.push(f);
    }
    const list = [...cells.values()];
    for (const c of list) {
      c.wx = c.members.reduce((a, f) => a + f.wx, 0) / c.members.length;
      c.wy = c.members.reduce((a, f) => a + f.wy, 0) / c.members.length;
    }
    this.clusterCache = { k, cells: list };
    return list;
  }

  drawFlights() {
    const { ctx, dpr, view } = this;
    let planes = 0;
    let clusters = 0;
    let clustered = 0;
    const margin = 20;
    const offsets = this.copies();
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = COLORS.outline;
    ctx.font = "700 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const seen = new Set();
    for (const c of this.clusters()) {
      for (const offset of offsets) {
        const sx = c.wx * view.k + view.tx + offset;
        const sy = c.wy * view.k + view.ty;
        if (sx < -margin || sy < -margin || sx > this.width + margin || sy > this.height + margin) continue;
        const inside = sx >= 0 && sy >= 0 && sx <= this.width && sy <= this.height;
        if (c.members.length === 1) {
          const f = c.members[0];
          this.drawPlane(sx, sy, f.heading_deg, COLORS.plane, 1.2);
          this.drawn.push({ sx, sy, flight: f });
          if (inside && !seen.has(f.flight_id)) {
            planes++;
            seen.add(f.flight_id);
          }
        } else {
          const n = c.members.length;
          const r = Math.min(CELL / 2 - 1, 8 + Math.log2(n) * 1.6);
          ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
          ctx.beginPath();
          ctx.arc(sx, sy, r, 0, Math.PI * 2);
          ctx.fillStyle = COLORS.cluster;
          ctx.fill();
          ctx.stroke();
          ctx.fillStyle = COLORS.clusterText;
          ctx.fillText(n < 1000 ? String(n) : `${(n / 1000).toFixed(1)}k`, sx, sy + 0.5);
          this.drawn.push({ sx, sy, cluster: c, r });
          if (inside && !seen.has(c)) {
            clusters++;
            clustered += c.members.length;
            seen.add(c);
          }
        }
      }
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.setCounts(planes, clusters, clustered);
    this.scheduleList();
  }

  drawPlane(sx, sy, heading, color, scale = 1) {
    const { ctx, dpr } = this;
    if (heading === null || heading === undefined) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.beginPath();
      ctx.arc(sx, sy, 4 * scale, 0, Math.PI * 2);
      ctx.fillStyle = color;
      ctx.fill();
      ctx.stroke();
      return;
    }
    const a = (heading * Math.PI) / 180;
    const cos = Math.cos(a) * dpr * scale;
    const sin = Math.sin(a) * dpr * scale;
    ctx.setTransform(cos, sin, -sin, cos, dpr * sx, dpr * sy);
    ctx.fillStyle = color;
    ctx.fill(PLANE);
    ctx.stroke(PLANE);
  }

  drawTrack() {
    const { ctx, dpr, view } = this;
    const t = this.track;
    if (!t) return;
    const line = (pts, style, width, dash) => {
      if (pts.length < 2) return;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.setLineDash(dash);
      ctx.strokeStyle = style;
      ctx.lineWidth = width;
      ctx.lineJoin = "round";
      ctx.lineCap = "round";
      for (const offset of this.copies(1)) {
        ctx.beginPath();
        pts.forEach(([x, y], i) => {
          const sx = x * view.k + view.tx + offset;
          const sy = y * view.k + view.ty;
          if (i) ctx.lineTo(sx, sy);
          else ctx.moveTo(sx, sy);
        });
        ctx.stroke();
      }
      ctx.setLineDash([]);
    };
    line(t.planned, COLORS.planned, 2, [6, 6]);
    line(t.path, COLORS.outline, 6, []);
    line(t.path, COLORS.track, 3, []);
    ctx.font = "700 13px system-ui, sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const offset of this.copies(1)) {
      for (const a of t.airports) {
        const sx = a.wx * view.k + view.tx + offset;
        const sy = a.wy * view.k + view.ty;
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.beginPath();
        ctx.arc(sx, sy, 5, 0, Math.PI * 2);
        ctx.fillStyle = COLORS.airport;
        ctx.fill();
        ctx.lineWidth = 2;
        ctx.strokeStyle = COLORS.outline;
        ctx.stroke();
        const label = `${a.code} ${airportCity(a.code) !== a.code ? airportCity(a.code) : ""}`.trim();
        ctx.lineWidth = 4;
        ctx.strokeText(label, sx + 9, sy);
        ctx.fillText(label, sx + 9, sy);
      }
      if (t.plane) {
        ctx.lineWidth = 1.2;
        ctx.strokeStyle = COLORS.outline;
        this.drawPlane(t.plane.wx * view.k + view.tx + offset, t.plane.wy * view.k + view.ty, t.plane.heading,
          COLORS.plane, 1.5);
      }
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  /** The counts the page (and its tests) can read: markers drawn, clusters and the flights in them. */
  setCounts(planes, clusters, clustered) {
    const d = this.root.dataset;
    if (d.planes !== String(planes)) d.planes = String(planes);
    if (d.clusters !== String(clusters)) d.clusters = String(clusters);
    if (d.clusteredFlights !== String(clustered)) d.clusteredFlights = String(clustered);
  }

  // ---------- the list of flights in view (keyboard and screen-reader access) ----------

  scheduleList() {
    clearTimeout(this.listTimer);
    this.listTimer = setTimeout(() => this.renderList(), this.pointers.size ? 250 : 0);
  }

  renderList() {
    const inView = new Map();
    for (const d of this.drawn) {
      if (d.sx < 0 || d.sy < 0 || d.sx > this.width || d.sy > this.height) continue;
      for (const f of d.flight ? [d.flight] : d.cluster.members) {
        if (!inView.has(f.flight_id)) inView.set(f.flight_id, { f, d });
      }
    }
    const rows = [...inView.values()].sort((a, b) =>
      a.f.carrier.localeCompare(b.f.carrier) || a.f.number.localeCompare(b.f.number, "en", { numeric: true }));
    this.list.replaceChildren(...rows.slice(0, LIST_MAX).map(({ f, d }) => h(
      "li",
      { "data-flight-id": f.flight_id, "data-x": Math.round(d.sx), "data-y": Math.round(d.sy),
        "data-cluster": d.cluster ? "true" : null },
      h("button", { type: "button", class: "sky-flight", onclick: () => this.onOpen(f.flight_id) },
        h("span", { class: "sky-flight-id" }, `${f.carrier} ${f.number}`),
        h("span", { class: "sky-flight-route" }, `${f.origin} → ${f.destination}`),
        h("span", { class: "sky-flight-alt muted" }, altitudeText(f.altitude_ft))),
    )));
    const total = this.flights.length;
    const more = rows.length - Math.min(rows.length, LIST_MAX);
    this.listNote.textContent = total === 0
      ? "No flights are in the air."
      : `${rows.length} of ${total} flights in the air are in view${more ? `; the first ${LIST_MAX} are listed, zoom in for the rest` : ""}.`;
  }

  // ---------- input ----------

  hit(x, y) {
    let best = null;
    let bestD = Infinity;
    for (const d of this.drawn) {
      const dist = Math.hypot(d.sx - x, d.sy - y);
      const reach = d.cluster ? d.r + 4 : 12;
      if (dist <= reach && dist < bestD) {
        best = d;
        bestD = dist;
      }
    }
    return best;
  }

  click(x, y) {
    if (this.mode !== "sky") return;
    const d = this.hit(x, y);
    if (!d) return;
    if (d.flight) this.onOpen(d.flight.flight_id);
    else this.zoomAt(d.sx, d.sy, 3);
  }

  hover(x, y) {
    const d = this.mode === "sky" ? this.hit(x, y) : null;
    this.canvas.style.cursor = d ? "pointer" : "grab";
    if (!d) {
      this.tip.hidden = true;
      return;
    }
    const f = d.flight;
    this.tip.textContent = f
      ? `${f.carrier} ${f.number} · ${carrierName(f.carrier)} · ${airportCity(f.origin)} → ` +
        `${airportCity(f.destination)} · ${altitudeText(f.altitude_ft)}` +
        `${f.ground_speed_kt !== null && f.ground_speed_kt !== undefined ? ` · ${Math.round(f.ground_speed_kt)} kt` : ""}`
      : `${d.cluster.members.length} flights: click to zoom in`;
    this.tip.style.left = `${Math.min(x + 14, this.width - 220)}px`;
    this.tip.style.top = `${y + 14}px`;
    this.tip.hidden = false;
  }

  bindInput() {
    const c = this.canvas;
    const at = (e) => {
      const r = c.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    let start = null;
    let moved = false;
    let pinch = null;
    c.addEventListener("pointerdown", (e) => {
      c.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, at(e));
      if (this.pointers.size === 1) {
        start = at(e);
        moved = false;
      }
      if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        pinch = { dist: Math.hypot(a.x - b.x, a.y - b.y), mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
        moved = true;
      }
      this.moved = true;
    });
    c.addEventListener("pointermove", (e) => {
      const p = at(e);
      const prev = this.pointers.get(e.pointerId);
      if (!prev) {
        this.hover(p.x, p.y);
        return;
      }
      this.pointers.set(e.pointerId, p);
      if (this.pointers.size === 1) {
        if (Math.hypot(p.x - start.x, p.y - start.y) > 4) moved = true;
        if (moved) {
          c.style.cursor = "grabbing";
          this.tip.hidden = true;
          this.panBy(p.x - prev.x, p.y - prev.y);
        }
      } else if (this.pointers.size === 2 && pinch) {
        const [a, b] = [...this.pointers.values()];
        const dist = Math.hypot(a.x - b.x, a.y - b.y);
        const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
        this.panBy(mid.x - pinch.mid.x, mid.y - pinch.mid.y);
        if (pinch.dist > 0) this.zoomAt(mid.x, mid.y, dist / pinch.dist);
        pinch = { dist, mid };
      }
    });
    const end = (e) => {
      if (!this.pointers.has(e.pointerId)) return;
      this.pointers.delete(e.pointerId);
      if (this.pointers.size < 2) pinch = null;
      if (e.type === "pointerup" && this.pointers.size === 0 && !moved) {
        const p = at(e);
        this.click(p.x, p.y);
      }
      if (this.pointers.size === 0) {
        c.style.cursor = "grab";
        this.scheduleList();
      }
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("pointerleave", () => {
      this.tip.hidden = true;
    });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const p = at(e);
      const step = e.deltaMode === 1 ? e.deltaY * 0.05 : e.deltaY * 0.0015;
      this.moved = true;
      this.zoomAt(p.x, p.y, Math.exp(-step));
    }, { passive: false });
    c.addEventListener("keydown", (e) => {
      const step = 80;
      const keys = {
        ArrowLeft: () => this.panBy(step, 0),
        ArrowRight: () => this.panBy(-step, 0),
        ArrowUp: () => this.panBy(0, step),
        ArrowDown: () => this.panBy(0, -step),
        "+": () => this.zoomAt(this.width / 2, this.height / 2, 1.5),
        "=": () => this.zoomAt(this.width / 2, this.height / 2, 1.5),
        "-": () => this.zoomAt(this.width / 2, this.height / 2, 1 / 1.5),
        0: () => this.reset(),
        Home: () => this.reset(),
      };
      const action = keys[e.key];
      if (!action || e.altKey || e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      this.moved = true;
      action();
    });
    $(".sky-zoom-in", this.root).addEventListener("click", () => {
      this.moved = true;
      this.zoomAt(this.width / 2, this.height / 2, 2);
    });
    $(".sky-zoom-out", this.root).addEventListener("click", () => {
      this.moved = true;
      this.zoomAt(this.width / 2, this.height / 2, 0.5);
    });
    $(".sky-reset", this.root).addEventListener("click", () => {
      this.moved = false;
      this.reset();
    });
  }

  /** The latitude and longitude at the middle of the view, for the caption. */
  centre() {
    const v = this.view;
    const x = (this.width / 2 - v.tx) / v.k;
    const lon = ((((x / WORLD) * 360 - 180) % 360) + 540) % 360 - 180;
    return { lat: latOfWorldY((this.height / 2 - v.ty) / v.k), lon };
  }
}

export function altitudeText(ft) {
  return ft === null || ft === undefined ? "altitude unknown" : `${Math.round(ft).toLocaleString("en-US")} ft`;
}
