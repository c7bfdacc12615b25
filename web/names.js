// Names of carrier and airport codes, from the data file the board ships (data/names.json), so no
// name is typed into the code. Until the file has loaded (or when it cannot), a code stands for itself.

let carriers = {};
let airports = {};

/** Loads data/names.json (next to the page); a failure leaves codes shown as codes. */
export async function loadNames(url = new URL("data/names.json", document.baseURI)) {
  try {
    const res = await fetch(url, { cache: "no-cache" });
    if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
    const data = await res.json();
    carriers = data.carriers || {};
    airports = data.airports || {};
  } catch (err) {
    console.warn(`names: ${url} not loaded (${err.message}); codes are shown as codes`);
  }
}

export function carrierName(code) {
  return carriers[code]?.name || code;
}

/** "Newark Liberty International" for EWR; the code when unknown. */
export function airportName(code) {
  return airports[code]?.name || code;
}

/** "Newark" for EWR; the code when unknown. */
export function airportCity(code) {
  return airports[code]?.city || code;
}

/** The airport's reference point {lat, lon}, or null when the file does not know it. */
export function airportPoint(code) {
  const a = airports[code];
  return a && Number.isFinite(a.lat) && Number.isFinite(a.lon) ? { lat: a.lat, lon: a.lon } : null;
}

export function knownAirports() {
  return Object.keys(airports);
}
