//! The redrive function: replays what failed, without loss or duplication.
//!
//! One binary, two entry points ([`handle`] tells them apart):
//! - the SQS event of the dead-letter queue: each message replayed, those still failing reported as
//!   batch item failures so they stay;
//! - an on-demand request `{"source": "dlq" | "s3", "max_messages", "prefix", "dry_run"}` answered with
//!   a [`RedriveReport`];
//! - `{"source": "audit", "since"}`: the consistency ledger's gaps and redeliveries per partition
//!   ([`AuditReport`]).
//!
//! Modules:
//! - [`request`]: telling the two events apart; the request.
//! - [`message`] and [`failure_record`]: recognising a dead-letter message and an S3 failure record.
//! - [`replay`]: the replay core (codec, store, dead-letter sink) every path shares.
//! - [`dlq`], [`s3`], [`local`]: the queue, the failure bucket, the local stack's dead-letter table.
//! - [`report`]: the report and per-item outcomes; [`error`]: what fails a whole invocation.

pub mod dlq;
pub mod error;
pub mod failure_record;
pub mod local;
pub mod message;
pub mod replay;
pub mod report;
pub mod request;
pub mod s3;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use contrail_shared::config::{ConfigError, DbConfig, Env};
use contrail_shared::sink::{DeadLetterSink, DlqSettings, SqsDeadLetters};
use contrail_shared::storage::Store;
use contrail_shared::telemetry::LogSettings;
use serde_json::Value;

pub use dlq::DeadLetterQueue;
pub use error::RedriveError;
pub use local::{list_local, redrive_local};
pub use report::{METRICS, RedriveReport, StillFailing};
pub use request::{Invocation, RedriveRequest, Source};
pub use s3::{FailureBucket, REPLAYED_PREFIX};

/// Everything an invocation needs, built once per cold start.
#[derive(Clone)]
pub struct State {
    pub store: Store,
    /// Where poison records of replayed S3 batches go, exactly as ingest sends them.
    pub dead_letters: DeadLetterSink,
    /// The dead-letter queue (`DLQ_URL`); `None` where there is none.
    pub dlq: Option<DeadLetterQueue>,
    /// The event source mapping's failure bucket (`FAILURE_BUCKET`); `None` where there is none.
    pub failures: Option<FailureBucket>,
}

impl State {
    /// A state with a store and sink only; add the queue and bucket with the `with_*` methods.
    pub fn new(store: Store, dead_letters: DeadLetterSink) -> Self {
        Self { store, dead_letters, dlq: None, failures: None }
    }

    pub fn with_dlq(mut self, queue: DeadLetterQueue) -> Self {
        self.dlq = Some(queue);
        self
    }

    pub fn with_failure_bucket(mut self, bucket: FailureBucket) -> Self {
        self.failures = Some(bucket);
        self
    }

    /// Reads the database settings (see `DbConfig::from_env`) and [`Config`].
    pub async fn from_env() -> Result<Self, RedriveError> {
        let env = Env::process();
        let store = Store::open(&DbConfig::from_vars(&env)?).await?;
        Ok(Self::configure(store, &Config::from_vars(&env)?).await)
    }

    /// The state over an open store; AWS clients come from the default credential and region chain.
    /// Dead letters go to the queue when there is one, to the store's table otherwise.
    pub async fn configure(store: Store, config: &Config) -> Self {
        let mut state = Self::new(store.clone(), DeadLetterSink::Store(store));
        if config.dlq.is_none() && config.failure_bucket.is_none() {
            return state;
        }
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        if let Some(dlq) = &config.dlq {
            let client = aws_sdk_sqs::Client::new(&aws);
            state.dead_letters = DeadLetterSink::Sqs(SqsDeadLetters::configured(client.clone(), dlq));
            state = state.with_dlq(DeadLetterQueue::new(client, dlq.queue_url.clone()));
        }
        if let Some(bucket) = &config.failure_bucket {
            let s3 = aws_sdk_s3::config::Builder::from(&aws).force_path_style(config.s3_force_path_style).build();
            state = state.with_failure_bucket(FailureBucket::new(aws_sdk_s3::Client::from_conf(s3), bucket.clone()));
        }
        state
    }
}

/// The redrive function's settings besides the database, read without I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `DLQ_URL` and `DLQ_MAX_MESSAGE_BYTES`: the queue drained, and where still-poison records go.
    pub dlq: Option<DlqSettings>,
    /// `FAILURE_BUCKET`: the event source mapping's on-failure destination.
    pub failure_bucket: Option<String>,
    /// `S3_FORCE_PATH_STYLE`: path-style S3 addresses (S3-compatible stores, moto).
    pub s3_force_path_style: bool,
}

impl Config {
    /// What [`Config::from_vars`] reads itself.
    pub const VARIABLES: &[&str] = &["FAILURE_BUCKET", "S3_FORCE_PATH_STYLE"];

    pub fn from_vars(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            dlq: DlqSettings::from_vars(env)?,
            failure_bucket: env.var("FAILURE_BUCKET"),
            s3_force_path_style: env.bool_var("S3_FORCE_PATH_STYLE", false)?,
        })
    }
}

/// Every variable the redrive function reads, as data: the template test holds the template to it.
pub fn environment() -> Vec<&'static str> {
    [LogSettings::VARIABLES, DbConfig::VARIABLES, DlqSettings::VARIABLES, Config::VARIABLES].concat()
}

/// The Lambda entry point over the raw event: an SQS event gets an `SqsBatchResponse`, an on-demand
/// request a [`RedriveReport`]. Items that fail are reported; only a bad event or a missing source
/// fails the invocation.
pub async fn handle(state: &State, event: Value) -> Result<Value, RedriveError> {
    let response = match request::classify(event)? {
        Invocation::Sqs(event) => serde_json::to_value(handle_sqs(state, &event).await?),
        Invocation::OnDemand(request) if request.source == Source::Audit => {
            serde_json::to_value(audit(state, &request).await?)
        }
        Invocation::OnDemand(request) => serde_json::to_value(redrive(state, &request).await?),
    };
    response.map_err(RedriveError::Response)
}

/// The dead-letter queue's SQS event: replay each message; still-failing ones stay in the queue.
pub async fn handle_sqs(state: &State, event: &SqsEvent) -> Result<SqsBatchResponse, RedriveError> {
    state.store.refresh_credentials().await?;
    let (response, report) = dlq::handle_sqs_event(&state.store, event).await;
    report.metrics("sqs").emit();
    Ok(response)
}

/// An on-demand request: drain the queue or replay the failure bucket.
pub async fn redrive(state: &State, request: &RedriveRequest) -> Result<RedriveReport, RedriveError> {
    if !request.dry_run {
        state.store.refresh_credentials().await?;
    }
    let (name, report) = match request.source {
        Source::Dlq => {
            let queue = state.dlq.as_ref().ok_or(RedriveError::NotConfigured { what: "dlq", var: "DLQ_URL" })?;
            ("dlq", queue.drain(&state.store, request.limit(), request.dry_run).await?)
        }
        Source::Audit => return Err(RedriveError::BadRequest("an audit is answered by `audit`, not `redrive`".into())),
        Source::S3 => {
            let bucket =
                state.failures.as_ref().ok_or(RedriveError::NotConfigured { what: "s3", var: "FAILURE_BUCKET" })?;
            let report =
                bucket.redrive(&state.store, &state.dead_letters, &request.prefix, request.limit(), request.dry_run);
            ("s3", report.await?)
        }
    };
    tracing::info!(
        source = name,
        examined = report.examined,
        replayed = report.replayed,
        stored = report.stored,
        duplicates = report.duplicates,
        dead_lettered = report.dead_lettered,
        still_failing = report.still_failing.len(),
        dry_run = report.dry_run,
        "redrive finished"
    );
    report.metrics(name).emit();
    Ok(report)
}

/// The answer to `{"source": "audit"}`: the ledger-only part of `contrail audit` (the function cannot read
/// the topic, so empty offsets that compaction or transaction markers leave show as gaps here).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditReport {
    /// No partition has a gap.
    pub consistent: bool,
    /// Offsets in all gaps.
    pub gap_offsets: u64,
    pub partitions: Vec<contrail_shared::ledger::PartitionAudit>,
}

/// Audits the ledger rows the request selects.
pub async fn audit(state: &State, request: &RedriveRequest) -> Result<AuditReport, RedriveError> {
    let filter =
        contrail_shared::storage::LedgerFilter { topic: request.topic.clone(), partitions: request.partitions.clone() };
    let rows = state.store.ledger_rows(&filter).await?;
    let partitions = contrail_shared::ledger::audit(&rows, None, request.since);
    let gap_offsets = partitions.iter().map(|p| p.gap_offsets()).sum();
    tracing::info!(partitions = partitions.len(), gap_offsets, rows = rows.len(), "ledger audited");
    Ok(AuditReport { consistent: gap_offsets == 0, gap_offsets, partitions })
}
