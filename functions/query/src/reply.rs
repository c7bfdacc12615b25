//! Building HTTP responses: JSON with a strong ETag and `304` on a match, caching rules, CORS headers,
//! the error object.

use http::StatusCode;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderMap,
    HeaderValue, IF_NONE_MATCH, RETRY_AFTER, VARY,
};
use lambda_http::{Body, Response};

use crate::cors::{ALLOWED_HEADERS, ALLOWED_METHODS, PREFLIGHT_MAX_AGE};
use crate::endpoints::{Freshness, Reply};
use crate::error::ApiError;

const JSON: &str = "application/json; charset=utf-8";
const SHORT_CACHE: &str = "private, max-age=5";
const NO_STORE: &str = "no-store";

/// A `200` with its ETag, or a bodiless `304` when the client already holds this exact body.
pub fn success(reply: Reply, request_headers: &HeaderMap) -> Response<Body> {
    let etag = etag(reply.body.as_bytes());
    let cache = match reply.freshness {
        Freshness::Short => SHORT_CACHE,
        Freshness::NoStore => NO_STORE,
    };
    let not_modified = request_headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| if_none_match_hits(v, &etag));
    let mut builder = Response::builder().header(ETAG, &etag).header(CACHE_CONTROL, cache);
    let body = if not_modified {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        Body::Empty
    } else {
        builder = builder.status(StatusCode::OK).header(CONTENT_TYPE, JSON);
        Body::Text(reply.body)
    };
    builder.body(body).unwrap_or_else(|_| fallback())
}

/// The error object with the code's status; never cached. A `503` says when to retry (`Retry-After`).
pub fn error(e: &ApiError) -> Response<Body> {
    let mut builder =
        Response::builder().status(e.code.status()).header(CONTENT_TYPE, JSON).header(CACHE_CONTROL, NO_STORE);
    if let Some(seconds) = e.code.retry_after() {
        builder = builder.header(RETRY_AFTER, seconds);
    }
    builder.body(Body::Text(e.body())).unwrap_or_else(|_| fallback())
}

/// The answer to an `OPTIONS` request on a route: the methods, and for an allowed origin the preflight grant.
pub fn preflight(origin_allowed: bool) -> Response<Body> {
    let mut builder = Response::builder().status(StatusCode::NO_CONTENT).header(ALLOW, ALLOWED_METHODS);
    if origin_allowed {
        builder = builder
            .header(ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS)
            .header(ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS)
            .header(ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE);
    }
    builder.header(CACHE_CONTROL, NO_STORE).body(Body::Empty).unwrap_or_else(|_| fallback())
}

/// Adds the CORS headers for an allowed origin, and `Vary: Origin` when the answer depends on it.
pub fn add_cors(response: &mut Response<Body>, allow_origin: Option<HeaderValue>, varies: bool) {
    let headers = response.headers_mut();
    if let Some(origin) = allow_origin {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("ETag, Retry-After"));
    }
    if varies {
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }
}

/// A strong validator: the first 128 bits of the body's SHA-256, quoted.
pub fn etag(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    format!("\"{}\"", contrail_shared::codec::encode_hex(&digest.as_ref()[..16]))
}

/// `If-None-Match` matching (RFC 9110: weak comparison, `*` matches any current representation).
fn if_none_match_hits(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Only reachable if a static header were invalid; keeps the no-panic promise regardless.
fn fallback() -> Response<Body> {
    let mut r = Response::new(Body::Text(r#"{"error":{"code":"internal_error","message":"internal error"}}"#.into()));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let tag = etag(b"{}");
        assert!(if_none_match_hits(&tag, &tag));
        assert!(if_none_match_hits(&format!("\"x\", W/{tag}"), &tag));
        assert!(if_none_match_hits("*", &tag));
        assert!(!if_none_match_hits("\"x\"", &tag));
        assert_eq!(tag.len(), 34);
    }
}
