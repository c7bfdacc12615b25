// The query API client: bearer token, one ETag per URL so an unchanged answer costs a 304,
// and errors sorted into the few kinds the page explains differently.

/** Why a request failed, in the terms the page shows to people. */
export class ApiError extends Error {
  /**
   * @param {"unauthorized"|"forbidden"|"network"|"server"|"not_found"|"bad_request"} kind
   * @param {number} status HTTP status, 0 when no answer came back
   * @param {string} code the API's stable error code when it sent one
   */
  constructor(kind, status, code, message) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(baseUrl) {
    this.baseUrl = (baseUrl || "").replace(/\/+$/, "");
    this.token = "";
    /** url -> {etag, body}: the last 200 answer of each URL, reused on 304. */
    this.cache = new Map();
  }

  url(path, params = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    }
    const qs = q.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ""}`;
  }

  /**
   * GETs a JSON resource. Resolves to {body, changed}: `changed` is false when the server
   * answered 304 and the cached body of the same URL is returned.
   */
  async get(path, params) {
    const url = this.url(path, params);
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const cached = this.cache.get(url);
    if (cached?.etag) headers["If-None-Match"] = cached.etag;

    let res;
    try {
      // no-store: the page does its own revalidation, so the browser cache must not answer for it.
      res = await fetch(url, { headers, cache: "no-store", mode: "cors" });
    } catch (e) {
      throw new ApiError("network", 0, "network_error", `Cannot reach the API at ${this.baseUrl || location.origin}.`);
    }
    if (res.status === 304 && cached) return { body: cached.body, changed: false };
    if (res.ok) {
      let body;
      try {
        body = await res.json();
      } catch {
        throw new ApiError("server", res.status, "invalid_json", "The API answered with something that is not JSON.");
      }
      const etag = res.headers.get("ETag");
      if (etag) this.cache.set(url, { etag, body });
      return { body, changed: true };
    }
    throw await errorFrom(res);
  }

  forgetCache() {
    this.cache.clear();
  }
}

async function errorFrom(res) {
  let code = "";
  let message = "";
  try {
    const body = await res.json();
    code = body?.error?.code || "";
    // API Gateway's own 401/403 bodies are {"message"} / {"Message"}.
    message = body?.error?.message || body?.message || body?.Message || "";
  } catch {
    // Not JSON (a proxy's page, say): the status alone tells the story.
  }
  const s = res.status;
  if (s === 401) return new ApiError("unauthorized", s, code || "unauthorized", message || "Unauthorized");
  if (s === 403) return new ApiError("forbidden", s, code || "forbidden", message || "Forbidden");
  if (s === 404) return new ApiError("not_found", s, code || "not_found", message || "Not found");
  if (s >= 500) return new ApiError("server", s, code || "server_error", message || res.statusText);
  return new ApiError("bad_request", s, code || "bad_request", message || res.statusText);
}
