// The world the map draws: country outlines from the vendored world-atlas TopoJSON (no tiles, nothing
// fetched from the internet), turned once into Path2D shapes in "world units", and the Mercator
// formulas that place points in the same units.
//
// Mercator because it is conformal: north is up everywhere on the map, so a marker rotated by the
// flight's true heading points where the aircraft is going at every latitude.

import { geoGraticule10, geoMercator, geoPath } from "d3-geo";
import { feature, mesh } from "./vendor/topojson-client/src/index.js";

/** The width (and height) of the whole Mercator world, in world units. */
export const WORLD = 256;
/** Latitudes beyond this are not drawn (Mercator's y grows without bound towards the poles). */
export const MAX_LAT = 85;

const projection = geoMercator().scale(WORLD / (2 * Math.PI)).translate([WORLD / 2, WORLD / 2]).precision(0.05);

/** World x of a longitude; longitudes outside -180..180 continue past the edges (for unwrapped tracks). */
export function worldX(lon) {
  return ((lon + 180) / 360) * WORLD;
}

export function worldY(lat) {
  const phi = (Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI) / 180;
  return WORLD / 2 - (WORLD / (2 * Math.PI)) * Math.log(Math.tan(Math.PI / 4 + phi / 2));
}

export function latOfWorldY(y) {
  return (Math.atan(Math.sinh(((WORLD / 2 - y) * 2 * Math.PI) / WORLD)) * 180) / Math.PI;
}

/**
 * Longitudes made continuous along a path: each one within 180 degrees of the one before, so a
 * track over the antimeridian (176.9 then -154.6) is drawn as one line rather than across the world.
 */
export function unwrap(points) {
  const out = [];
  let prev = null;
  for (const p of points) {
    let lon = p.lon;
    if (prev !== null) lon += Math.round((prev - lon) / 360) * 360;
    out.push({ ...p, lon });
    prev = lon;
  }
  return out;
}

/** Points along the great circle from a to b ({lat, lon}), `n` segments, endpoints included. */
export function greatCircle(a, b, n = 48) {
  const rad = Math.PI / 180;
  const [la1, lo1, la2, lo2] = [a.lat * rad, a.lon * rad, b.lat * rad, b.lon * rad];
  const d = 2 * Math.asin(Math.sqrt(Math.sin((la2 - la1) / 2) ** 2 +
    Math.cos(la1) * Math.cos(la2) * Math.sin((lo2 - lo1) / 2) ** 2));
  if (d < 1e-9) return [a, b];
  const out = [];
  for (let i = 0; i <= n; i++) {
    const f = i / n;
    const s1 = Math.sin((1 - f) * d) / Math.sin(d);
    const s2 = Math.sin(f * d) / Math.sin(d);
    const x = s1 * Math.cos(la1) * Math.cos(lo1) + s2 * Math.cos(la2) * Math.cos(lo2);
    const y = s1 * Math.cos(la1) * Math.sin(lo1) + s2 * Math.cos(la2) * Math.sin(lo2);
    const z = s1 * Math.sin(la1) + s2 * Math.sin(la2);
    out.push({ lat: Math.atan2(z, Math.hypot(x, y)) / rad, lon: Math.atan2(y, x) / rad });
  }
  return out;
}

function shapes(topology) {
  const land = new Path2D();
  geoPath(projection, land)(feature(topology, topology.objects.countries));
  const borders = new Path2D();
  geoPath(projection, borders)(mesh(topology, topology.objects.countries, (a, b) => a !== b));
  return { land, borders };
}

let graticule = null;
/** Meridians and parallels every 10 degrees. */
export function graticulePath() {
  if (!graticule) {
    graticule = new Path2D();
    geoPath(projection, graticule)(geoGraticule10());
  }
  return graticule;
}

const atlases = new Map();
/**
 * The country shapes at a resolution ("110m" for the whole world, "50m" once zoomed in), loaded
 * from web/vendor/ once and kept.
 */
export function atlas(resolution) {
  if (!atlases.has(resolution)) {
    const url = new URL(`vendor/world-atlas/countries-${resolution}.json`, document.baseURI);
    atlases.set(resolution, fetch(url).then((res) => {
      if (!res.ok) throw new Error(`${url.pathname}: ${res.status}`);
      return res.json();
    }).then(shapes));
  }
  return atlases.get(resolution);
}
