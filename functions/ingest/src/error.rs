//! The ingest error, classified for the event source mapping: a retryable error means the same batch
//! will succeed later (the mapping retries it as it is); a non-retryable one needs a fix first.

use contrail_shared::config::ConfigError;
use contrail_shared::sink::DeadLetterError;
use contrail_shared::storage::StoreError;

/// Why an invocation failed. Nothing of the batch is committed when the database write fails, and a
/// failed dead-letter hand-over fails the invocation so no record is lost.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("configuration")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    DeadLetters(#[from] DeadLetterError),
}

impl IngestError {
    /// Whether retrying the same batch unchanged can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Config(_) => false,
            Self::Store(e) | Self::DeadLetters(DeadLetterError::Store(e)) => e.is_retryable(),
            Self::DeadLetters(DeadLetterError::Sqs { .. }) => true,
        }
    }

    /// The `errorType` reported to Lambda: `Retryable.*` or `NonRetryable.*`, stable for alarms.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) => "NonRetryable.Configuration",
            Self::Store(e) if e.is_unavailable() => "Retryable.DatabaseUnavailable",
            Self::Store(e) if e.is_retryable() => "Retryable.DatabaseConflict",
            Self::Store(_) => "NonRetryable.DatabaseError",
            Self::DeadLetters(DeadLetterError::Store(e)) if e.is_retryable() => "Retryable.DeadLetterTableUnavailable",
            Self::DeadLetters(DeadLetterError::Store(_)) => "NonRetryable.DeadLetterTableError",
            Self::DeadLetters(DeadLetterError::Sqs { .. }) => "Retryable.DeadLetterQueueUnavailable",
        }
    }
}

impl From<IngestError> for lambda_runtime::Diagnostic {
    fn from(e: IngestError) -> Self {
        Self {
            error_type: e.error_type().to_owned(),
            error_message: contrail_shared::telemetry::ErrorChain(&e).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_reported_as_retryable() {
        let e = IngestError::from(StoreError::from(sqlx::Error::PoolTimedOut));
        assert!(e.is_retryable());
        let d = lambda_runtime::Diagnostic::from(e);
        assert_eq!(d.error_type, "Retryable.DatabaseUnavailable");
        assert!(d.error_message.contains("database unavailable"));
    }

    #[test]
    fn configuration_and_plain_query_errors_are_not_retryable() {
        let e = IngestError::from(ConfigError::new("DATABASE_URL", "missing"));
        assert!(!e.is_retryable());
        assert_eq!(e.error_type(), "NonRetryable.Configuration");
        let e = IngestError::from(StoreError::from(sqlx::Error::RowNotFound));
        assert_eq!(e.error_type(), "NonRetryable.DatabaseError");
    }

    #[test]
    fn a_failed_queue_send_is_retryable() {
        let e = IngestError::from(DeadLetterError::Sqs {
            attempts: 3,
            source: contrail_shared::sink::SqsSendError::Refused("throttled".into()),
        });
        assert!(e.is_retryable());
        assert_eq!(e.error_type(), "Retryable.DeadLetterQueueUnavailable");
    }
}
