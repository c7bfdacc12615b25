//! The API's one error shape, `{"error": {"code", "message"}}`, and its stable codes.

use http::StatusCode;
use serde_json::json;

use contrail_shared::storage::StoreError;
use contrail_shared::telemetry::ErrorChain;

/// `Retry-After` on a `503 database_unavailable`, in seconds.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// A stable, documented error code; clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A query parameter the route does not define.
    UnknownParameter,
    /// A required query parameter is absent.
    MissingParameter,
    /// A parameter (query or path) is malformed, repeated or out of range.
    InvalidParameter,
    /// A cursor that was altered, truncated, or issued for another route or other filters.
    InvalidCursor,
    /// No such route, or no such flight.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The database cannot be reached; retry later.
    DatabaseUnavailable,
    /// Anything else: a fault of the service, never of the input.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 8] = [
        Self::UnknownParameter,
        Self::MissingParameter,
        Self::InvalidParameter,
        Self::InvalidCursor,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::DatabaseUnavailable,
        Self::Internal,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownParameter => "unknown_parameter",
            Self::MissingParameter => "missing_parameter",
            Self::InvalidParameter => "invalid_parameter",
            Self::InvalidCursor => "invalid_cursor",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::Internal => "internal_error",
        }
    }

    /// The `Retry-After` seconds that go with the code: only for `database_unavailable`, long enough for a
    /// restarting server or a Multi-AZ failover to make progress, short enough that a blip costs little.
    pub fn retry_after(self) -> Option<&'static str> {
        match self {
            Self::DatabaseUnavailable => Some(RETRY_AFTER_SECONDS),
            _ => None,
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::UnknownParameter | Self::MissingParameter | Self::InvalidParameter | Self::InvalidCursor => {
                StatusCode::BAD_REQUEST
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer: a code and a message safe to show (it never carries database detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn invalid(name: &str, rule: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidParameter, format!("{name} {rule}"))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn invalid_cursor(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidCursor, message)
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        json!({"error": {"code": self.code.as_str(), "message": self.message}}).to_string()
    }
}

impl From<StoreError> for ApiError {
    /// Logs the cause (it may name tables or hosts) and keeps it out of the answer.
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %ErrorChain(&e), "database unavailable");
            Self::new(ErrorCode::DatabaseUnavailable, "the database is unavailable; retry later")
        } else {
            tracing::error!(error = %ErrorChain(&e), "storage failure");
            Self::new(ErrorCode::Internal, "internal error")
        }
    }
}
