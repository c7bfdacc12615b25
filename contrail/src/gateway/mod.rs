//! The API Gateway-like front: for every HTTP request it does what a REST API with a TOKEN authorizer
//! and a Lambda proxy integration does. It runs the authorizer on the bearer token (with a result
//! cache), builds the proxy event, converts it with `lambda_http` exactly as the Lambda runtime would,
//! calls the query handler and returns its response. `/health` and CORS preflights skip the
//! authorizer; the web board and `/config.js` are served beside the API. A request that names another
//! host than this server is refused first (DNS rebinding), and the dev token goes only to the board.

pub mod authorization;
pub mod event;
pub mod origin;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::functions::Functions;
use authorization::{ResultCache, Verdict, verdict};
use origin::LocalOrigin;

/// API Gateway's payload limit for REST APIs.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The front's state: the handlers, the authorizer result cache, the dev token for `/config.js`, and the
/// address it serves (the only host names it answers).
pub struct Gateway {
    functions: Functions,
    cache: ResultCache,
    dev_token: Option<String>,
    local: LocalOrigin,
}

impl Gateway {
    pub fn new(functions: Functions, dev_token: Option<String>, local: LocalOrigin) -> Self {
        Self { functions, cache: ResultCache::default(), dev_token, local }
    }
}

/// The router, one handler for every path (API Gateway has no routing of its own here: the query
/// function answers unknown routes).
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new().fallback(front).with_state(gateway)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(gateway).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

async fn front(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let received = chrono::Utc::now();
    let request_id = request_id();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let is_read = parts.method == Method::GET || parts.method == Method::HEAD;

    let Some(host) = gw.local.host_of(&parts.uri, &parts.headers) else {
        let message = "this server answers only to its listen address and localhost; check the Host header";
        return local_error(StatusCode::MISDIRECTED_REQUEST, "host_not_allowed", message, &request_id);
    };

    if is_read && path == "/config.js" {
        // The token only for the board's own pages; other pages get the configuration without it. No CORS
        // headers, and a resource policy that stops browsers handing it to another origin's <script>.
        let token = gw.dev_token.as_deref().filter(|_| gw.local.is_same_origin(host, &parts.headers));
        let mut r = (StatusCode::OK, web::config_js(token)).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::VARY, HeaderValue::from_static("Sec-Fetch-Site, Origin, Referer"));
        h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        return r;
    }
    if is_read && let Some((content_type, bytes)) = web::asset(&path) {
        let mut r = (StatusCode::OK, bytes).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return r;
    }

    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, json!({"message": "Request Too Long"}), &request_id);
        }
    };

    let authorizer = if path == "/health" || parts.method == Method::OPTIONS {
        Map::new()
    } else {
        match authorize(&gw, &parts, &path).await {
            Verdict::Allow(context) => context,
            Verdict::Unauthorized => {
                return gateway_error(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}), &request_id);
            }
            Verdict::Forbidden { explicit } => {
                let message = if explicit {
                    "User is not authorized to access this resource with an explicit deny"
                } else {
                    "User is not authorized to access this resource"
                };
                return gateway_error(StatusCode::FORBIDDEN, json!({"Message": message}), &request_id);
            }
            Verdict::Failed => {
                return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": null}), &request_id);
            }
        }
    };

    let event = event::proxy_event(&event::Incoming {
        method: &parts.method,
        path: &path,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
        source_ip: peer.ip().to_string(),
        request_id: &request_id,
        received,
        authorizer,
    });
    invoke_query(&gw, event, &request_id).await
}

async fn authorize(gw: &Gateway, parts: &http::request::Parts, path: &str) -> Verdict {
    let Some(token) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).filter(|t| !t.is_empty())
    else {
        // API Gateway answers 401 itself when the identity source is missing.
        return Verdict::Unauthorized;
    };
    let arn = event::method_arn(&parts.method, path);
    let decision = match gw.cache.get(token) {
        Some(d) => d,
        None => {
            let request = serde_json::from_value(json!({
                "type": "TOKEN",
                "authorizationToken": token,
                "methodArn": arn,
            }));
            let decision = match request {
                Ok(r) => gw.functions.authorize(r).await,
                Err(e) => crate::functions::AuthDecision::Failed(e.to_string()),
            };
            gw.cache.put(token, &decision);
            decision
        }
    };
    if let crate::functions::AuthDecision::Failed(why) = &decision {
        tracing::error!(error = %why, "authorizer failed (API Gateway answers 500)");
    }
    verdict(&decision, &arn)
}

/// Runs the conversion and the handler in their own task: a panic there is a 502, as a crashed Lambda
/// function would be.
async fn invoke_query(gw: &Arc<Gateway>, event: Value, request_id: &str) -> Response {
    let gw2 = Arc::clone(gw);
    let run = tokio::spawn(async move {
        let request = lambda_http::request::from_str(&event.to_string()).map_err(|e| e.to_string())?;
        Ok::<_, String>(gw2.functions.query(request).await)
    });
    let response = match run.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the proxy event did not convert");
            return gateway_error(StatusCode::BAD_GATEWAY, json!({"message": "Internal server error"}), request_id);
        }
        Err(e) => {
            tracing::error!(error = %e, "the query handler crashed");
            return gateway_error(StatusCode::BAD_GATEWAY, json!({"message": "Internal server error"}), request_id);
        }
    };
    let (mut parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        parts.headers.insert("x-amzn-requestid", v);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// A response API Gateway writes itself (not the function's), JSON like the service's own.
fn gateway_error(status: StatusCode, body: Value, request_id: &str) -> Response {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        h.insert(
            "x-amzn-errortype",
            HeaderValue::from_static(if status == StatusCode::UNAUTHORIZED {
                "UnauthorizedException"
            } else {
                "AccessDeniedException"
            }),
        );
    }
    r
}

/// A refusal of the local front itself (no API Gateway equivalent), in the query API's error shape.
fn local_error(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    gateway_error(status, json!({"error": {"code": code, "message": message}}), request_id)
}

/// A request id shaped like API Gateway's (a UUID): a per-process random prefix and a counter.
fn request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| crate::settings::random_hex(10).unwrap_or_else(|_| "0".repeat(20)));
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{}-{}-{}-{n:012x}", &prefix[0..8], &prefix[8..12], &prefix[12..16], &prefix[16..20])
}
