// One board row per flight: departures are read on the departure side, arrivals on the arrival side.

import { h } from "./dom.js";
import { airportCity, airportName, carrierName } from "./names.js";
import { boardDelay, clock, delayText, delayWords, severity, titleCase, zoneFor } from "./format.js";

/** Column headings that depend on the board kind and the time zone. */
export function headings(kind, airport, tzMode) {
  const zone = zoneFor(airport, tzMode) === "UTC" ? "UTC" : `${airport} local`;
  const dep = kind === "departures";
  return {
    sched: `${dep ? "Departs" : "Arrives"} (${zone})`,
    place: dep ? "To" : "From",
    expected: dep ? `Actual / est. departure` : `Actual / est. arrival`,
  };
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, titleCase(status));
}

/** The delay cell: minutes with a severity class, and words for screen readers and tooltips. */
export function delayCell(flight, side) {
  const d = boardDelay(flight, side);
  if (flight.status === "cancelled") return h("span", { class: "delay sev-none" }, "—");
  if (!d) return h("span", { class: "delay sev-none", title: "no actual or estimated time yet" }, "—");
  const words = delayWords(d.minutes, d.basis);
  return h(
    "span",
    { class: `delay sev-${severity(d.minutes)}${d.basis === "estimated" ? " est" : ""}`, title: words },
    h("span", { "aria-hidden": "true" }, delayText(d.minutes), d.basis === "estimated" ? " est." : ""),
    h("span", { class: "visually-hidden" }, words),
  );
}

/** One table row; `boardDay` is the day shown, so times on other days carry a +1d marker. */
export function boardRow(f, { kind, airport, tzMode, boardDay, onOpen }) {
  const dep = kind === "departures";
  const side = dep ? "departure" : "arrival";
  const zone = zoneFor(airport, tzMode);
  const other = dep ? f.destination : f.origin;
  const actual = f[`actual_${side}`];
  const est = f[`estimated_${side}`];
  const label = `${f.carrier} ${f.number}`;
  const expected = actual
    ? h("span", { class: "actual" }, clock(actual, zone, boardDay), h("span", { class: "tag" }, "actual"))
    : est
      ? h("span", { class: "estimated" }, clock(est, zone, boardDay), h("span", { class: "tag" }, "est."))
      : h("span", { class: "muted" }, "—");

  return h(
    "tr",
    { "data-flight-id": f.flight_id, class: `row status-row-${f.status}` },
    h("td", { "data-label": "Scheduled", class: "time" }, clock(f[`scheduled_${side}`], zone, boardDay)),
    h(
      "td",
      { "data-label": "Flight", class: "flight" },
      h(
        "a",
        {
          href: `#/flight/${encodeURIComponent(f.flight_id)}`,
          class: "flight-link",
          "aria-label": `${label} ${dep ? "to" : "from"} ${other}, details`,
          onclick: (e) => {
            if (onOpen && !e.metaKey && !e.ctrlKey && !e.shiftKey) {
              e.preventDefault();
              onOpen(f.flight_id);
            }
          },
        },
        label,
      ),
    ),
    h("td", { "data-label": dep ? "To" : "From", class: "place" },
      h("abbr", { class: "iata", title: airportName(other) }, other),
      other !== airportCity(other) ? h("span", { class: "city" }, airportCity(other)) : null),
    h("td", { "data-label": "Carrier", class: "carrier" }, carrierName(f.carrier)),
    h("td", { "data-label": "Actual / est.", class: "expected" }, expected),
    h("td", { "data-label": "Delay", class: "delay-cell" }, delayCell(f, side)),
    h("td", { "data-label": "Status", class: "status" }, statusBadge(f.status)),
    h("td", { "data-label": "Gate", class: "gate" }, f.gate || "—"),
    h("td", { "data-label": "Terminal", class: "terminal" }, f.terminal || "—"),
  );
}
