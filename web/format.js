// Display rules: times (UTC or the airport's own zone), delays and their severity. Names of codes
// live in names.js (from data/names.json).

/**
 * IANA zones of the airports the board knows by name. An airport missing here is shown in UTC
 * even in "Airport local" mode, and the page says so, rather than guessing.
 */
export const AIRPORT_ZONES = {
  ATL: "America/New_York", BOS: "America/New_York", BWI: "America/New_York", CLT: "America/New_York",
  DCA: "America/New_York", DTW: "America/Detroit", EWR: "America/New_York", FLL: "America/New_York",
  IAD: "America/New_York", JFK: "America/New_York", LGA: "America/New_York", MCO: "America/New_York",
  MIA: "America/New_York", PHL: "America/New_York", TPA: "America/New_York", ORD: "America/Chicago",
  MDW: "America/Chicago", DFW: "America/Chicago", IAH: "America/Chicago", MSP: "America/Chicago",
  DEN: "America/Denver", SLC: "America/Denver", PHX: "America/Phoenix", LAS: "America/Los_Angeles",
  LAX: "America/Los_Angeles", SAN: "America/Los_Angeles", SEA: "America/Los_Angeles", SFO: "America/Los_Angeles",
  PDX: "America/Los_Angeles", HNL: "Pacific/Honolulu", ANC: "America/Anchorage", YYZ: "America/Toronto",
  YVR: "America/Vancouver", MEX: "America/Mexico_City", LHR: "Europe/London", LGW: "Europe/London",
  DUB: "Europe/Dublin", CDG: "Europe/Paris", AMS: "Europe/Amsterdam", FRA: "Europe/Berlin", MUC: "Europe/Berlin",
  MAD: "Europe/Madrid", BCN: "Europe/Madrid", FCO: "Europe/Rome", ZRH: "Europe/Zurich", IST: "Europe/Istanbul",
  DXB: "Asia/Dubai", DOH: "Asia/Qatar", DEL: "Asia/Kolkata", SIN: "Asia/Singapore", HKG: "Asia/Hong_Kong",
  NRT: "Asia/Tokyo", HND: "Asia/Tokyo", ICN: "Asia/Seoul", PEK: "Asia/Shanghai", SYD: "Australia/Sydney",
  GRU: "America/Sao_Paulo",
};


/** The zone to show an airport's times in: its own in local mode when known, else UTC. */
export function zoneFor(airport, mode) {
  if (mode === "local" && AIRPORT_ZONES[airport]) return AIRPORT_ZONES[airport];
  return "UTC";
}

/** A short zone label for headings: "UTC" or e.g. "EWR local". */
export function zoneLabel(airport, mode) {
  return zoneFor(airport, mode) === "UTC" ? "UTC" : `${airport} local`;
}

const timeFormats = new Map();
function fmt(zone, withDate) {
  const key = `${zone}|${withDate}`;
  if (!timeFormats.has(key)) {
    const opts = { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (withDate) Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit" });
    timeFormats.set(key, new Intl.DateTimeFormat("en-CA", opts));
  }
  return timeFormats.get(key);
}

/** The calendar day of a time in a zone, as YYYY-MM-DD. */
export function dayIn(iso, zone) {
  const parts = fmt(zone, true).formatToParts(new Date(iso));
  const get = (t) => parts.find((p) => p.type === t)?.value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/**
 * "HH:MM" in the zone; when the time falls on another day than `boardDay` the day offset is
 * appended ("+1"), so a time is never silently on the wrong day.
 */
export function clock(iso, zone, boardDay) {
  if (!iso) return "";
  const text = fmt(zone, false).format(new Date(iso));
  if (!boardDay) return text;
  const day = dayIn(iso, zone);
  if (day === boardDay) return text;
  const diff = Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${boardDay}T00:00:00Z`)) / 86400000);
  return `${text} ${diff > 0 ? "+" : "−"}${Math.abs(diff)}d`;
}

/** Full date and time with the zone named, for the detail view. */
export function fullTime(iso, zone) {
  if (!iso) return "—";
  const label = zone === "UTC" ? "UTC" : zone;
  return `${fmt(zone, true).format(new Date(iso)).replace(",", "")} ${label}`;
}

/** Minutes between two RFC 3339 times (later minus earlier). */
export function minutesBetween(from, to) {
  return (Date.parse(to) - Date.parse(from)) / 60000;
}

/**
 * The delay a board shows for one side of a flight: from the actual time when known (the API's own
 * figure), else from the estimate, marked as such; null when neither is known.
 */
export function boardDelay(flight, side) {
  const sched = flight[`scheduled_${side}`];
  const actual = flight[`actual_${side}`];
  const est = flight[`estimated_${side}`];
  if (actual) {
    const m = flight[`${side}_delay_minutes`] ?? minutesBetween(sched, actual);
    return { minutes: Math.round(m), basis: "actual" };
  }
  if (est) return { minutes: Math.round(minutesBetween(sched, est)), basis: "estimated" };
  return null;
}

/** Severity bands: on time under 15 minutes late (the on-time rule of /stats), minor under 45, else major. */
export function severity(minutes) {
  if (minutes === null || minutes === undefined) return "none";
  if (minutes < 0) return "early";
  if (minutes < 15) return "ontime";
  if (minutes < 45) return "minor";
  return "major";
}

export function delayText(minutes) {
  if (minutes === 0) return "0 min";
  return `${minutes > 0 ? "+" : "−"}${Math.abs(minutes)} min`;
}

export function delayWords(minutes, basis) {
  const est = basis === "estimated" ? "expected " : "";
  if (minutes === 0) return `${est}on time`;
  return minutes > 0 ? `${est}${minutes} minutes late` : `${est}${-minutes} minutes early`;
}

/** Minutes with one decimal for averages; "—" when the API has no figure (null). */
export function avgMinutes(x) {
  return x === null || x === undefined ? "—" : `${x.toFixed(1)} min`;
}

export function percent(x) {
  return x === null || x === undefined ? "—" : `${x.toFixed(1)} %`;
}

export function titleCase(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}
