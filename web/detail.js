// The flight detail view: every field of the flight object, and its history as a timeline in which
// each event lists what it changed.

import { h } from "./dom.js";
import { fullTime, zoneFor } from "./format.js";
import { airportCity, airportName, carrierName } from "./names.js";
import { statusBadge } from "./board.js";

const TIME_FIELDS = [
  "scheduled_departure", "estimated_departure", "actual_departure",
  "scheduled_arrival", "estimated_arrival", "actual_arrival",
];

/** Field label, and which airport's zone a time belongs to. */
const FIELD_LABELS = {
  flight_id: "Flight id", carrier: "Carrier", number: "Number", date: "Date", origin: "Origin",
  destination: "Destination", status: "Status", scheduled_departure: "Scheduled departure",
  estimated_departure: "Estimated departure", actual_departure: "Actual departure",
  scheduled_arrival: "Scheduled arrival", estimated_arrival: "Estimated arrival", actual_arrival: "Actual arrival",
  departure_delay_minutes: "Departure delay", arrival_delay_minutes: "Arrival delay", tail_number: "Tail number",
  gate: "Gate", terminal: "Terminal", position: "Position", updated_at: "Updated at",
};

function zoneOfField(field, flight, tzMode) {
  if (field.endsWith("_arrival")) return zoneFor(flight.destination, tzMode);
  if (field.endsWith("_departure")) return zoneFor(flight.origin, tzMode);
  return "UTC";
}

function positionText(p) {
  if (!p) return "—";
  const parts = [`${p.lat.toFixed(3)}, ${p.lon.toFixed(3)}`];
  if (p.altitude_ft !== null && p.altitude_ft !== undefined) parts.push(`${Math.round(p.altitude_ft)} ft`);
  if (p.ground_speed_kt !== null && p.ground_speed_kt !== undefined) parts.push(`${Math.round(p.ground_speed_kt)} kt`);
  if (p.heading_deg !== null && p.heading_deg !== undefined) parts.push(`heading ${Math.round(p.heading_deg)}°`);
  return parts.join(" · ");
}

export function fieldText(field, value, flight, tzMode) {
  if (value === null || value === undefined) return "—";
  if (TIME_FIELDS.includes(field)) return fullTime(value, zoneOfField(field, flight, tzMode));
  if (field === "updated_at") return fullTime(value, "UTC");
  if (field.endsWith("_delay_minutes")) return `${Math.round(value)} min`;
  if (field === "position") return positionText(value);
  if (field === "carrier") return `${value} (${carrierName(value)})`;
  if (field === "origin" || field === "destination") {
    return airportName(value) === value ? value : `${value} (${airportName(value)})`;
  }
  return String(value);
}

export function renderFlight(flight, tzMode) {
  const rows = Object.keys(FIELD_LABELS).map((field) =>
    h(
      "div",
      { class: "field-row", "data-field": field },
      h("dt", {}, FIELD_LABELS[field]),
      h("dd", {}, field === "status" ? statusBadge(flight.status) : fieldText(field, flight[field], flight, tzMode)),
    ),
  );
  return h(
    "div",
    { class: "detail" },
    h(
      "p",
      { class: "route" },
      h("span", { class: "iata", title: airportName(flight.origin) }, flight.origin),
      h("span", { class: "city" }, airportCity(flight.origin)),
      h("span", { class: "arrow", "aria-hidden": "true" }, " → "),
      h("span", { class: "visually-hidden" }, " to "),
      h("span", { class: "iata", title: airportName(flight.destination) }, flight.destination),
      h("span", { class: "city" }, airportCity(flight.destination)),
      " ",
      statusBadge(flight.status),
    ),
    h("dl", { class: "fields" }, rows),
  );
}

/** The fields an event changed compared with the one before it, as "gate A20 → A22". */
export function changes(prev, next, flight, tzMode) {
  if (!next) return [];
  const out = [];
  for (const field of Object.keys(FIELD_LABELS)) {
    if (!(field in next) || field === "status") continue;
    const before = prev ? prev[field] : undefined;
    const after = next[field];
    if (JSON.stringify(before ?? null) === JSON.stringify(after ?? null)) continue;
    if (!prev && (after === null || after === undefined)) continue;
    const label = FIELD_LABELS[field].toLowerCase();
    const text = fieldText(field, after, flight, tzMode);
    out.push(prev && before !== null && before !== undefined
      ? `${label}: ${fieldText(field, before, flight, tzMode)} → ${text}`
      : `${label}: ${text}`);
  }
  return out;
}

/** Timeline items for one page of history; `prev` is the last event of the page before. */
export function timelineItems(entries, prevEvent, flight, tzMode) {
  let prev = prevEvent;
  return entries.map((entry) => {
    const ev = entry.event;
    const status = entry.removed ? "removed" : ev?.status || "unknown";
    const list = entry.removed ? ["flight removed from the board"] : changes(prev, ev, flight, tzMode);
    const statusChanged = !entry.removed && prev && prev.status !== ev?.status;
    if (!entry.removed) prev = ev;
    return h(
      "li",
      { class: `event status-${status}`, "data-event-id": entry.event_id },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h(
        "div",
        { class: "event-body" },
        h("p", { class: "event-head" },
          h("time", { datetime: entry.event_time }, fullTime(entry.event_time, "UTC")), " ",
          entry.removed ? h("span", { class: "badge status-removed" }, "Removed") : statusBadge(status)),
        list.length
          ? h("ul", { class: "event-changes" }, list.map((c) => h("li", {}, c)))
          : h("p", { class: "muted" }, statusChanged ? "only the status changed" : "same as the snapshot before"),
        h("p", { class: "received muted" },
          `event ${entry.event_id} · received ${fullTime(entry.received_at, "UTC")}`),
      ),
    );
  });
}

export function lastEvent(entries, fallback) {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i].event) return entries[i].event;
  return fallback;
}
