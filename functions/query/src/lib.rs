//! The query function: the read API behind API Gateway (REST proxy integration; HTTP API events work too).
//!
//! - [`handle`]: one request in, one HTTP response out; every outcome, errors included, is a response.
//! - [`route`]: the route table, on the path without the stage.
//! - [`params`]: query parameters, validated into domain types (unknown ones refused).
//! - [`endpoints`]: what each route asks the store and how pages are cut.
//! - [`cursor`]: signed keyset cursors bound to their query.
//! - [`reply`]: ETag and `304`, caching, CORS, the error object.
//! - [`caller`]: request ids and the authorizer's principal and scopes, for the log line.
//!
//! The local stack serves this same [`handle`] over HTTP, building the events API Gateway would.

pub mod caller;
pub mod cors;
pub mod cursor;
pub mod endpoints;
pub mod error;
pub mod params;
pub mod reply;
pub mod route;

use std::convert::Infallible;
use std::time::Instant;

use http::Method;
use lambda_http::{Body, Request, RequestExt, Response};

use contrail_shared::config::{ConfigError, DbConfig, Env};
use contrail_shared::secrets::{self, SecretError, SecretVar};
use contrail_shared::storage::{Store, StoreError};
use contrail_shared::telemetry::{LogSettings, MetricSet, Metrics, Unit};

use crate::caller::Caller;
use crate::cors::Cors;
use crate::cursor::CursorKey;
use crate::error::{ApiError, ErrorCode};
use crate::route::Route;

/// Shortest accepted `CURSOR_SECRET`, in bytes.
pub const MIN_CURSOR_SECRET_BYTES: usize = 32;

/// Everything a request needs, built once per cold start.
pub struct State {
    store: Store,
    cursors: CursorKey,
    cors: Cors,
}

/// The query function's settings besides the database, read without I/O.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `CURSOR_SECRET`: required in Lambda (every instance must verify every cursor), at least
    /// [`MIN_CURSOR_SECRET_BYTES`]; elsewhere a random per-process key stands in when it is unset.
    pub cursor_secret: Option<Vec<u8>>,
    /// `ALLOWED_ORIGINS`: `*`, a comma list of origins, or empty for no CORS.
    pub allowed_origins: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("cursor_secret", &self.cursor_secret.as_ref().map(|_| "[redacted]"))
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

impl Config {
    /// What [`Config::from_vars`] reads.
    pub const VARIABLES: &[&str] = &["AWS_LAMBDA_FUNCTION_NAME", "CURSOR_SECRET", "ALLOWED_ORIGINS"];

    pub fn from_vars(env: &Env) -> Result<Self, ConfigError> {
        let in_lambda = env.var("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let cursor_secret = match env.var("CURSOR_SECRET") {
            Some(secret) if secret.len() >= MIN_CURSOR_SECRET_BYTES => Some(secret.into_bytes()),
            Some(_) => {
                return Err(ConfigError::new(
                    "CURSOR_SECRET",
                    format!("must be at least {MIN_CURSOR_SECRET_BYTES} bytes"),
                ));
            }
            None if in_lambda => {
                return Err(ConfigError::new("CURSOR_SECRET", "required: cursors must verify on every instance"));
            }
            None => None,
        };
        Ok(Self { cursor_secret, allowed_origins: env.var("ALLOWED_ORIGINS").unwrap_or_default() })
    }
}

/// The secrets the query function may read from Secrets Manager.
pub const SECRETS: &[SecretVar] = &[SecretVar::CURSOR_SECRET];

/// Every variable the query function reads, as data: the template test holds the template to it.
pub fn environment() -> Vec<&'static str> {
    [LogSettings::VARIABLES, DbConfig::VARIABLES, Config::VARIABLES, &[SecretVar::CURSOR_SECRET.arn_var]].concat()
}

/// Why the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl State {
    /// A state over an open store. `cursor_secret` signs cursors (share it between instances that serve
    /// the same clients); `allowed_origins` is `*`, a comma list of origins, or empty for no CORS.
    pub fn new(store: Store, cursor_secret: impl Into<Vec<u8>>, allowed_origins: &str) -> Self {
        Self { store, cursors: CursorKey::new(cursor_secret), cors: Cors::parse(allowed_origins) }
    }

    /// Reads the database settings (`DATABASE_URL` or the RDS IAM variables) and [`Config`], the cursor
    /// secret from Secrets Manager when `CURSOR_SECRET_ARN` names it; the secret is read while the
    /// database connection is made, not after it.
    pub async fn from_env() -> Result<Self, StateError> {
        let env = Env::process();
        let db = DbConfig::from_vars(&env)?;
        let (store, env) = tokio::try_join!(async { Store::open(&db).await.map_err(StateError::from) }, async {
            secrets::resolve(env.clone(), SECRETS).await.map_err(StateError::from)
        },)?;
        Ok(Self::configure(store, &Config::from_vars(&env)?))
    }

    /// The state over an open store. Without a cursor secret, cursors are signed with a random key.
    pub fn configure(store: Store, config: &Config) -> Self {
        let cursors = match &config.cursor_secret {
            Some(secret) => CursorKey::new(secret.clone()),
            None => {
                tracing::warn!("CURSOR_SECRET is not set: cursors are signed with a key valid in this process only");
                CursorKey::random()
            }
        };
        Self { store, cursors, cors: Cors::parse(&config.allowed_origins) }
    }

    /// The store behind the API.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Answers one API request. Never fails: bad input, unknown routes and an unreachable database are all
/// JSON error responses.
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let caller = Caller::from_request(&req);
    let path = request_path(&req, caller.stage.as_deref());
    let route = Route::parse(&path);
    let template = route.map(|r| r.template()).unwrap_or("(unmatched)");
    let origin = req.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok());
    let allow_origin = state.cors.allow(origin);

    let mut response = match (route, req.method()) {
        (None, _) => reply::error(&ApiError::not_found("no such route; see the API description")),
        (Some(route), &Method::GET | &Method::HEAD) => {
            // Liveness needs no credentials: it must answer even when no token can be signed.
            let credentials = if route == Route::Health { Ok(()) } else { state.store.refresh_credentials().await };
            let answer = match credentials {
                Ok(()) => endpoints::get(state, route, req.uri().query()).await,
                Err(e) => Err(ApiError::from(e)),
            };
            match answer {
                Ok(ok) => reply::success(ok, req.headers()),
                Err(e) => reply::error(&e),
            }
        }
        (Some(_), &Method::OPTIONS) => reply::preflight(allow_origin.is_some()),
        (Some(_), _) => {
            let mut r = reply::error(&ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here; use GET", req.method()),
            ));
            r.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static(cors::ALLOWED_METHODS));
            r
        }
    };
    reply::add_cors(&mut response, allow_origin, state.cors.varies());
    if req.method() == Method::HEAD {
        *response.body_mut() = Body::Empty;
    }

    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        route = template,
        method = %req.method(),
        status,
        latency_ms,
        request_id = caller.request_id.as_deref().unwrap_or("-"),
        lambda_request_id = caller.lambda_request_id.as_deref().unwrap_or("-"),
        principal = caller.principal.as_deref().unwrap_or("-"),
        scopes = caller.scopes.as_deref().unwrap_or("-"),
        client_id = caller.client_id.as_deref().unwrap_or("-"),
        "request"
    );
    if contrail_shared::telemetry::metrics_enabled() {
        request_metrics(template, latency_ms, status, caller.request_id.as_deref()).emit();
    }
    Ok(response)
}

/// Every metric a request emits, as data: the template's dashboard may plot only these.
pub const METRICS: MetricSet =
    MetricSet { function: "query", names: &["Latency", "Status2xx", "Status3xx", "Status4xx", "Status5xx"] };

/// One request's EMF document: its latency and a 0/1 count per status class, by route template.
fn request_metrics(route: &str, latency_ms: f64, status: u16, request_id: Option<&str>) -> Metrics {
    let mut metrics =
        Metrics::new(METRICS.function).dimension("Route", route).metric("Latency", Unit::Milliseconds, latency_ms);
    for (class, name) in [(2, "Status2xx"), (3, "Status3xx"), (4, "Status4xx"), (5, "Status5xx")] {
        metrics = metrics.metric(name, Unit::Count, if status / 100 == class { 1.0 } else { 0.0 });
    }
    if let Some(id) = request_id {
        metrics = metrics.property("request_id", id);
    }
    metrics
}

/// The path to route on: the event's own path (REST events carry it without the stage); HTTP API
/// events with a named stage carry it as the first segment, which is removed.
fn request_path(req: &Request, stage: Option<&str>) -> String {
    let raw = req.raw_http_path();
    let path = if raw.is_empty() { req.uri().path() } else { raw };
    let v2 = matches!(req.request_context_ref(), Some(lambda_http::request::RequestContext::ApiGatewayV2(_)));
    if let Some(stage) = stage.filter(|s| v2 && *s != "$default")
        && let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage))
        && rest.starts_with('/')
    {
        return rest.to_owned();
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_emits_exactly_the_listed_metrics() {
        let metrics = request_metrics("/flights", 1.5, 404, Some("req-1"));
        assert_eq!(metrics.names(), METRICS.names);
        assert_eq!(metrics.function(), METRICS.function);
        let doc = metrics.render(0);
        assert_eq!((doc["Status4xx"].as_f64(), doc["Status2xx"].as_f64()), (Some(1.0), Some(0.0)));
    }
}
