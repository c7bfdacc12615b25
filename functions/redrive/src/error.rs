//! The redrive error: what fails a whole invocation (items that fail are reported, not raised).

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageError;
use contrail_shared::config::ConfigError;
use contrail_shared::storage::StoreError;
use contrail_shared::telemetry::ErrorChain;

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
    #[error("configuration")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Receiving from the dead-letter queue failed.
    #[error("dead-letter queue: receive")]
    Queue(#[source] Box<SdkError<ReceiveMessageError>>),
    /// Listing the failure bucket failed under `prefix`.
    #[error("failure bucket: list {prefix:?}")]
    Bucket {
        prefix: String,
        #[source]
        source: Box<SdkError<ListObjectsV2Error>>,
    },
    /// The response could not be written as JSON (a bug: every response type serializes).
    #[error("response serialization")]
    Response(#[source] serde_json::Error),
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
            Self::Bucket { .. } => "Retryable.FailureBucket",
            Self::Response(_) => "NonRetryable.Response",
        }
    }
}

impl From<RedriveError> for lambda_runtime::Diagnostic {
    fn from(e: RedriveError) -> Self {
        Self { error_type: e.error_type().to_owned(), error_message: ErrorChain(&e).to_string() }
    }
}
