//! What an ingest instance builds once per cold start and reuses for every invocation.

use chrono::{DateTime, Datelike, Months, TimeZone, Utc};
use contrail_shared::config::{DbConfig, parse_var, var};
use contrail_shared::deadletter::{DeadLetterSink, SqsDeadLetters};
use contrail_shared::storage::Store;

use crate::IngestError;

/// The store and the dead-letter sink; cheap to share, built once per cold start.
#[derive(Clone)]
pub struct State {
    pub store: Store,
    pub dead_letters: DeadLetterSink,
}

impl State {
    pub fn new(store: Store, dead_letters: DeadLetterSink) -> Self {
        Self { store, dead_letters }
    }

    /// Reads the environment: the database (`DATABASE_URL` or the `DB_*` IAM settings), `DLQ_URL` (SQS
    /// through the default AWS credential chain; without it dead letters go to the store's table),
    /// `DLQ_MAX_MESSAGE_BYTES`, `DB_MIGRATE_ON_START` and `HISTORY_RETENTION_MONTHS`.
    pub async fn from_env() -> Result<Self, IngestError> {
        let config = DbConfig::from_env()?;
        let store = Store::connect(&config).await?;
        if config.migrate_on_start {
            store.migrate().await?;
        }
        let retention_months: u32 = parse_var("HISTORY_RETENTION_MONTHS", 0)?;
        if retention_months > 0 {
            apply_retention(&store, retention_months, Utc::now()).await;
        }
        let dead_letters = match var("DLQ_URL") {
            Some(queue_url) => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                DeadLetterSink::Sqs(SqsDeadLetters::from_env(aws_sdk_sqs::Client::new(&sdk), queue_url)?)
            }
            None => DeadLetterSink::Store(store.clone()),
        };
        Ok(Self::new(store, dead_letters))
    }
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

/// The first instant kept: the start of the month `months` before the current one (whole months only,
/// so retention drops whole partitions).
pub fn retention_cutoff(now: DateTime<Utc>, months: u32) -> Option<DateTime<Utc>> {
    let month_start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single()?;
    month_start.checked_sub_months(Months::new(months))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_whole_months() {
        let now = Utc.with_ymd_and_hms(2026, 3, 17, 9, 30, 0).unwrap();
        assert_eq!(retention_cutoff(now, 1), Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).single());
        assert_eq!(retention_cutoff(now, 12), Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).single());
        assert_eq!(retention_cutoff(now, 0), Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single());
    }
}
