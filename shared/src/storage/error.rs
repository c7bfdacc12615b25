//! The storage error: callers branch on "retry later" versus "this will never work".

/// A storage failure. Messages carry the cause for logs; callers must not show them to API clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or went away (network, pool timeout, shutdown): retry later.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A statement failed for another reason.
    #[error("database error")]
    Query(#[source] sqlx::Error),
    #[error("schema migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The configuration cannot work (bad URL, unreadable CA bundle, missing settings).
    #[error("database configuration: {message}")]
    Config {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// An RDS IAM auth token could not be made (no credentials, no region).
    #[error("RDS IAM auth token")]
    Token(#[source] crate::rds_iam::TokenError),
    /// Stored data that cannot be read back (should never happen; reported, never panicked on).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A configuration that cannot work, for the reason `message` and the error that showed it.
    pub fn config(message: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Config { message: message.into(), source: Some(source.into()) }
    }

    /// A configuration that cannot work, with no error behind it.
    pub fn config_message(message: impl Into<String>) -> Self {
        Self::Config { message: message.into(), source: None }
    }

    /// Whether the same call may succeed later without any change (the event source mapping retries).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Token(_)) || matches!(self, Self::Query(e) if is_transient(e))
    }

    /// Whether the database itself is out of reach (the API answers 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Token(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e),
            sqlx::Error::Database(ref db) if is_unavailable_code(db.code().as_deref()) => Self::Unavailable(e),
            other => Self::Query(other),
        }
    }
}

/// SQLSTATEs that mean the server is going away, starting up, or refusing connections.
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "57P01" | "57P02" | "57P03" | "53300" | "08000" | "08001" | "08003" | "08004" | "08006" | "28P01" | "28000"
        )
    )
}

/// Errors that a retry of the same transaction can clear: serialization failures, deadlocks, lock
/// timeouts, SQLite busy.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("40001" | "40P01" | "55P03" | "5" | "6" | "261" | "517"))
        }
        _ => false,
    }
}

impl StoreError {
    /// A migration failure, keeping "the database is out of reach" distinct from a broken migration.
    pub(crate) fn from_migrate(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => match Self::from(inner) {
                Self::Query(inner) => Self::Migrate(sqlx::migrate::MigrateError::Execute(inner)),
                other => other,
            },
            other => Self::Migrate(other),
        }
    }
}
