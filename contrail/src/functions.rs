//! The four Lambda handlers, built once with the local configuration and called the way Lambda would:
//! the same crates, the same `handle` functions, the same event types.

use std::sync::Arc;

use anyhow::Context as _;
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use contrail_authorizer::AuthorizerError;
use contrail_ingest::msk::MskEvent;
use contrail_redrive::{Invocation, Source};
use contrail_shared::config::DbConfig;
use contrail_shared::storage::Store;
use lambda_http::{Body, Request, Response};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

use crate::settings::Settings;

/// What one ingest invocation reported, summed over batches by `replay`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub superseded: u64,
    pub dead_lettered: u64,
}

impl IngestCounts {
    pub fn add(&mut self, other: IngestCounts) {
        self.records += other.records;
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.superseded += other.superseded;
        self.dead_lettered += other.dead_lettered;
    }
}

/// The authorizer's decision as API Gateway acts on it.
#[derive(Debug, Clone)]
pub enum AuthDecision {
    /// The handler returned a policy: API Gateway evaluates it against each request's method ARN.
    Policy { principal_id: Option<String>, policy: Value, context: serde_json::Map<String, Value> },
    /// The handler failed with exactly `Unauthorized`: 401.
    Unauthorized,
    /// Any other failure: API Gateway answers 500.
    Failed(String),
}

/// The handlers and the store they share.
#[derive(Clone)]
pub struct Functions {
    pub store: Store,
    ingest: Arc<contrail_ingest::State>,
    query: Arc<contrail_query::State>,
    authorizer: Arc<contrail_authorizer::State>,
    redrive: Arc<contrail_redrive::State>,
    /// `up --trace`: each request and batch prints its subsegments.
    trace: bool,
}

impl Functions {
    /// Opens the database (checking it answers) and builds every handler's state with the handler's own
    /// reader over the local environment: a variable a function documents means the same here.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        contrail_shared::telemetry::disable_metrics();
        let env = &settings.env;
        let store = open_store(&settings.db, &settings.database()).await?;
        let ingest = contrail_ingest::Config::from_vars(env).context("configuring ingest")?;
        let query = contrail_query::Config::from_vars(env).context("configuring query")?;
        let redrive = contrail_redrive::Config::from_vars(env).context("configuring redrive")?;
        let authorizer =
            contrail_authorizer::State::new(settings.auth_config()?).context("configuring the authorizer")?;
        // Retention (HISTORY_RETENTION_MONTHS) is applied after migrating, see `apply_retention`.
        let ingest = contrail_ingest::State::configure(store.clone(), &ingest).await;
        let query = contrail_query::State::configure(store.clone(), &query);
        let redrive = contrail_redrive::State::configure(store.clone(), &redrive).await;
        Ok(Self {
            store,
            ingest: Arc::new(ingest),
            query: Arc::new(query),
            authorizer: Arc::new(authorizer),
            redrive: Arc::new(redrive),
            trace: false,
        })
    }

    /// The same handlers, printing each request's and batch's subsegments when `on` (`up --trace`).
    pub fn traced(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// How far ahead of the clock the ingest handler accepts an event (`INGEST_MAX_FUTURE_SKEW_SECONDS`).
    pub fn max_future_skew(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ingest.limits.max_future_skew_seconds)
    }

    /// Applies `HISTORY_RETENTION_MONTHS` to the store as the ingest function does at a cold start.
    pub async fn apply_retention(&self) {
        self.ingest.apply_retention().await;
    }

    /// The ingest handler over one MSK event.
    pub async fn ingest(&self, event: &MskEvent) -> anyhow::Result<IngestCounts> {
        let what = format!("ingest {} records", event.record_count());
        let outcome = |r: &Result<contrail_ingest::IngestSummary, contrail_ingest::IngestError>| match r {
            Ok(s) => format!("{} stored, {} duplicates, {} dead-lettered", s.stored, s.duplicates, s.dead_lettered),
            Err(e) => format!("failed: {e}"),
        };
        let summary =
            crate::trace::run(self.trace, what, outcome, contrail_ingest::ingest(&self.ingest, event)).await?;
        Ok(IngestCounts {
            records: summary.records,
            stored: summary.stored,
            duplicates: summary.duplicates,
            superseded: summary.superseded,
            dead_lettered: summary.dead_lettered,
        })
    }

    /// The query handler over one API Gateway request.
    pub async fn query(&self, request: Request) -> Response<Body> {
        let what =
            format!("{} {}", request.method(), request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
        let outcome =
            |r: &Result<Response<Body>, _>| r.as_ref().map(|r| r.status().as_u16().to_string()).unwrap_or_default();
        match crate::trace::run(self.trace, what, outcome, contrail_query::handle(&self.query, request)).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// The authorizer handler over one TOKEN authorizer event.
    pub async fn authorize(&self, request: ApiGatewayCustomAuthorizerRequest) -> AuthDecision {
        let event = LambdaEvent::new(request, Context::default());
        let outcome = |r: &Result<_, AuthorizerError>| match r {
            Ok(_) => "policy".to_owned(),
            Err(e) => e.to_string(),
        };
        let handled = contrail_authorizer::handle(&self.authorizer, event);
        match crate::trace::run(self.trace, "authorizer".to_owned(), outcome, handled).await {
            Ok(response) => {
                let value = serde_json::to_value(&response).expect("the authorizer response is plain JSON data");
                AuthDecision::Policy {
                    principal_id: value.get("principalId").and_then(Value::as_str).map(str::to_owned),
                    policy: value.get("policyDocument").cloned().unwrap_or(Value::Null),
                    context: value.get("context").and_then(Value::as_object).cloned().unwrap_or_default(),
                }
            }
            Err(AuthorizerError::Unauthorized) => AuthDecision::Unauthorized,
            Err(e @ AuthorizerError::KeysUnavailable) => AuthDecision::Failed(e.to_string()),
        }
    }

    /// Runs the named handler once on a raw event, as `sam local invoke` would; the response as JSON.
    pub async fn invoke(&self, function: crate::cli::Function, event: &str) -> anyhow::Result<Value> {
        use crate::cli::Function;
        match function {
            Function::Ingest => {
                let event: MskEvent = serde_json::from_str(event).context("the event is not an MSK event")?;
                let event = LambdaEvent::new(event, Context::default());
                let summary = contrail_ingest::handle(&self.ingest, event).await?;
                Ok(serde_json::to_value(summary)?)
            }
            Function::Query => {
                let request =
                    lambda_http::request::from_str(event).context("the event is not an API Gateway request")?;
                let response = self.query(request).await;
                Ok(proxy_response(response))
            }
            Function::Authorizer => {
                let request: ApiGatewayCustomAuthorizerRequest =
                    serde_json::from_str(event).context("the event is not a TOKEN authorizer request")?;
                let event = LambdaEvent::new(request, Context::default());
                let response = contrail_authorizer::handle(&self.authorizer, event).await?;
                Ok(serde_json::to_value(response)?)
            }
            Function::Redrive => {
                let request: Value = serde_json::from_str(event).context("the event is not JSON")?;
                // Locally the dead-letter queue is the store's table, unless a real queue is configured.
                if self.redrive.dlq.is_none()
                    && let Ok(Invocation::OnDemand(r)) = contrail_redrive::request::classify(request.clone())
                    && r.source == Source::Dlq
                {
                    let report = contrail_redrive::redrive_local(&self.store, r.dry_run, r.limit()).await?;
                    return Ok(serde_json::to_value(report)?);
                }
                Ok(contrail_redrive::handle(&self.redrive, request).await?)
            }
        }
    }
}

/// A response as the Lambda proxy integration returns it to API Gateway.
pub fn proxy_response(response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        headers.insert(name.as_str().to_owned(), Value::String(value.to_str().unwrap_or_default().to_owned()));
    }
    let (body, base64) = match body {
        Body::Empty => (Value::Null, false),
        Body::Text(t) => (Value::String(t), false),
        Body::Binary(b) => (Value::String(contrail_shared::codec::encode_base64(b)), true),
        _ => (Value::Null, false),
    };
    serde_json::json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// Opens the store and proves it answers, with a one-line error naming `what` (the database without
/// secrets) when it does not.
pub async fn open_store(config: &DbConfig, what: &str) -> anyhow::Result<Store> {
    let store = Store::connect(config).await.with_context(|| format!("cannot open the database {what}"))?;
    // Only the root cause: "database unavailable: error communicating with the database" says nothing more.
    if let Err(e) = store.ping().await {
        let e = anyhow::Error::new(e);
        anyhow::bail!("database {what} is unreachable: {}", e.root_cause());
    }
    Ok(store)
}
