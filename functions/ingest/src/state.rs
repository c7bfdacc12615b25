//! What an ingest instance builds once per cold start and reuses for every invocation.

use chrono::{DateTime, Utc};
use contrail_shared::config::{ConfigError, DbConfig, Env};
use contrail_shared::sink::{DeadLetterSink, DlqSettings, SqsDeadLetters};
use contrail_shared::storage::Store;
use contrail_shared::telemetry::{ErrorChain, LogSettings};
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

    /// Reads the environment: the database (`DATABASE_URL` or the `DB_*` IAM settings, migrating when
    /// `DB_MIGRATE_ON_START` says so) and [`Config`]; applies retention.
    pub async fn from_env() -> Result<Self, IngestError> {
        let env = Env::process();
        let store = Store::open(&DbConfig::from_vars(&env)?).await?;
        let state = Self::configure(store, &Config::from_vars(&env)?).await;
        state.apply_retention().await;
        Ok(state)
    }

    /// The state over an open store: dead letters to the queue when there is one (SQS through the default
    /// AWS credential chain), to the store's table otherwise.
    pub async fn configure(store: Store, config: &Config) -> Self {
        let dead_letters = match &config.dlq {
            Some(dlq) => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                DeadLetterSink::Sqs(SqsDeadLetters::configured(aws_sdk_sqs::Client::new(&sdk), dlq))
            }
            None => DeadLetterSink::Store(store.clone()),
        };
        Self::new(store, dead_letters).with_limits(config.limits)
    }
}

/// The ingest function's settings besides the database, read without I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `INGEST_MAX_FUTURE_SKEW_SECONDS` (default 900) and `HISTORY_RETENTION_MONTHS` (default 0, no
    /// retention and no lower bound).
    pub limits: TimeLimits,
    /// `DLQ_URL` and `DLQ_MAX_MESSAGE_BYTES`.
    pub dlq: Option<DlqSettings>,
}

impl Config {
    /// What [`Config::from_vars`] reads itself.
    pub const VARIABLES: &[&str] = &["INGEST_MAX_FUTURE_SKEW_SECONDS", "HISTORY_RETENTION_MONTHS"];

    pub fn from_vars(env: &Env) -> Result<Self, ConfigError> {
        let limits = TimeLimits {
            max_future_skew_seconds: env
                .parse_var("INGEST_MAX_FUTURE_SKEW_SECONDS", DEFAULT_MAX_FUTURE_SKEW_SECONDS)?,
            retention_months: env.parse_var("HISTORY_RETENTION_MONTHS", 0)?,
        };
        Ok(Self { limits, dlq: DlqSettings::from_vars(env)? })
    }
}

/// Every variable the ingest function reads, as data: the template test holds the template to it.
pub fn environment() -> Vec<&'static str> {
    [LogSettings::VARIABLES, DbConfig::VARIABLES, Config::VARIABLES, DlqSettings::VARIABLES].concat()
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
            tracing::warn!(error = %ErrorChain(&e), keep_from = %keep_from, "history retention failed; retried at next cold start")
        }
    }
}
