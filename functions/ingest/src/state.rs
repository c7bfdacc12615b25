//! What an ingest instance builds once per cold start and reuses for every invocation.

use chrono::{DateTime, Utc};
use contrail_shared::config::{DbConfig, parse_var, var};
use contrail_shared::deadletter::{DeadLetterSink, SqsDeadLetters};
use contrail_shared::storage::Store;
use contrail_shared::time_bounds::{DEFAULT_MAX_FUTURE_SKEW_SECONDS, TimeLimits, retention_cutoff};

use crate::IngestError;

/// The store, the dead-letter sink and the time limits; cheap to share, built once per cold start.
#[derive(Clone)]
pub struct State {
    pub store: Store,
    pub dead_letters: DeadLetterSink,
    /// Which event times are accepted; each invocation turns them into bounds at its own clock.
    pub limits: TimeLimits,
}

impl State {
    /// A state with the default limits (900 s of future skew, no retention).
    pub fn new(store: Store, dead_letters: DeadLetterSink) -> Self {
        Self { store, dead_letters, limits: TimeLimits::default() }
    }

    /// The same state with other time limits.
    pub fn with_limits(mut self, limits: TimeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Drops history older than the retention horizon when `HISTORY_RETENTION_MONTHS` is set, as a cold
    /// start does after migrating. A failure only delays the clean-up, so it is logged, not returned.
    pub async fn apply_retention(&self) {
        if self.limits.retention_months > 0 {
            apply_retention(&self.store, self.limits.retention_months, Utc::now()).await;
        }
    }

    /// Reads the environment: the database (`DATABASE_URL` or the `DB_*` IAM settings), `DLQ_URL` (SQS
    /// through the default AWS credential chain; without it dead letters go to the store's table),
    /// `DLQ_MAX_MESSAGE_BYTES`, `DB_MIGRATE_ON_START` and the time limits (see [`limits_from_env`]).
    pub async fn from_env() -> Result<Self, IngestError> {
        let config = DbConfig::from_env()?;
        let limits = limits_from_env()?;
        let store = Store::connect(&config).await?;
        if config.migrate_on_start {
            store.migrate().await?;
        }
        let dead_letters = match var("DLQ_URL") {
            Some(queue_url) => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                DeadLetterSink::Sqs(SqsDeadLetters::from_env(aws_sdk_sqs::Client::new(&sdk), queue_url)?)
            }
            None => DeadLetterSink::Store(store.clone()),
        };
        let state = Self::new(store, dead_letters).with_limits(limits);
        state.apply_retention().await;
        Ok(state)
    }
}

/// The one reader of the time limits: `INGEST_MAX_FUTURE_SKEW_SECONDS` (default 900) and
/// `HISTORY_RETENTION_MONTHS` (default 0, no retention and no lower bound).
pub fn limits_from_env() -> Result<TimeLimits, IngestError> {
    Ok(TimeLimits {
        max_future_skew_seconds: parse_var("INGEST_MAX_FUTURE_SKEW_SECONDS", DEFAULT_MAX_FUTURE_SKEW_SECONDS)?,
        retention_months: parse_var("HISTORY_RETENTION_MONTHS", 0)?,
    })
}

/// Drops history partitions older than the retention window. A failure only delays the clean-up to
/// the next cold start, so it is logged rather than allowed to stop ingestion.
async fn apply_retention(store: &Store, months: u32, now: DateTime<Utc>) {
    let Some(keep_from) = retention_cutoff(now, months) else {
        return;
    };
    match store.drop_history_before(keep_from).await {
        Ok(dropped) => tracing::info!(dropped, keep_from = %keep_from, "history retention applied"),
        Err(e) => {
            tracing::warn!(error = %e, keep_from = %keep_from, "history retention failed; retried at next cold start")
        }
    }
}
