//! The redrive error: what fails a whole invocation (items that fail are reported, not raised).

use contrail_shared::config::ConfigError;
use contrail_shared::storage::StoreError;

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    /// The event is neither an SQS event nor an on-demand request.
    #[error("unrecognized event: {0}")]
    BadEvent(String),
    #[error("bad redrive request: {0}")]
    BadRequest(String),
    /// The request names a source this deployment does not have.
    #[error("{what} is not configured (set {var})")]
    NotConfigured { what: &'static str, var: &'static str },
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("dead-letter queue: {0}")]
    Queue(String),
    #[error("failure bucket: {0}")]
    Bucket(String),
}

impl RedriveError {
    /// The `errorType` reported to Lambda: `Retryable.*` or `NonRetryable.*`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::BadEvent(_) => "NonRetryable.BadEvent",
            Self::BadRequest(_) => "NonRetryable.BadRequest",
            Self::NotConfigured { .. } | Self::Config(_) => "NonRetryable.Configuration",
            Self::Store(e) if e.is_retryable() => "Retryable.DatabaseUnavailable",
            Self::Store(_) => "NonRetryable.DatabaseError",
            Self::Queue(_) => "Retryable.DeadLetterQueue",
            Self::Bucket(_) => "Retryable.FailureBucket",
        }
    }
}

impl From<RedriveError> for lambda_runtime::Diagnostic {
    fn from(e: RedriveError) -> Self {
        Self { error_type: e.error_type().to_owned(), error_message: e.to_string() }
    }
}
