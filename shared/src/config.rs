//! Configuration from the environment: the same variables in Lambda, in `sam local` and in the local
//! stack. Each setting is read in one place, so the template check can list what the code reads.

use std::path::PathBuf;
use std::time::Duration;

/// A configuration error, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self { var, message: message.into() }
    }
}

/// Reads an environment variable, treating an empty value as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Reads a boolean variable (`true/false`, `1/0`, `yes/no`).
pub fn bool_var(name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
        Some(v) => Err(ConfigError::new(name, format!("expected true or false, got {v:?}"))),
    }
}

/// Reads a number variable.
pub fn parse_var<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::new(name, format!("not a valid number: {v:?}"))),
    }
}

/// How PostgreSQL connections are secured (libpq's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// The libpq name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }
}

/// Refuses a TLS mode weaker than `verify-full` for RDS IAM auth: the token is a password valid for 15
/// minutes, and without host-name verification whoever sits on the path can take it. `allow_insecure`
/// (`DB_ALLOW_INSECURE_TLS=true`) is the explicit escape hatch for test setups.
pub fn check_iam_tls(mode: Option<SslMode>, allow_insecure: bool) -> Result<(), ConfigError> {
    match mode {
        Some(SslMode::VerifyFull) => Ok(()),
        _ if allow_insecure => {
            tracing::warn!(
                ssl_mode = mode.map(SslMode::as_str).unwrap_or("(libpq default)"),
                "DB_ALLOW_INSECURE_TLS=true: RDS IAM tokens may cross an unverified connection"
            );
            Ok(())
        }
        other => Err(ConfigError::new(
            "DB_SSL_MODE",
            format!(
                "{} is weaker than verify-full, which DB_IAM_AUTH=true requires (an IAM token must never cross an \
                 unverified connection); set DB_ALLOW_INSECURE_TLS=true to allow it anyway",
                other.map(SslMode::as_str).unwrap_or("(unset)")
            ),
        )),
    }
}

/// Where the database is and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    /// A full URL: `postgres://…` or `sqlite://…` (secrets inside are never logged).
    Url(String),
    /// RDS with IAM database authentication: a fresh signed token is the password of every new connection.
    RdsIam { host: String, port: u16, database: String, user: String, region: Option<String> },
}

/// Database settings for one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbConfig {
    pub target: DbTarget,
    /// TLS mode for PostgreSQL; `None` keeps the URL's own (or libpq's default).
    pub ssl_mode: Option<SslMode>,
    /// PEM bundle of trusted CAs (the RDS global bundle in AWS).
    pub ca_bundle: Option<PathBuf>,
    /// Pool size: 1–2 suits a Lambda instance (one invocation at a time).
    pub max_connections: u32,
    /// How long to wait for a connection before calling the database unavailable.
    pub connect_timeout: Duration,
    /// Whether the process applies migrations at start (serialized by an advisory lock).
    pub migrate_on_start: bool,
}

impl DbConfig {
    /// A configuration for a URL with local-tool defaults.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            target: DbTarget::Url(url.into()),
            ssl_mode: None,
            ca_bundle: None,
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
            migrate_on_start: false,
        }
    }

    /// Reads `DATABASE_URL`, or `DB_HOST`/`DB_PORT`/`DB_NAME`/`DB_USER` with `DB_IAM_AUTH=true`, plus
    /// `DB_SSL_MODE`, `DB_CA_BUNDLE`, `DB_MAX_CONNECTIONS`, `DB_CONNECT_TIMEOUT_MS`, `DB_MIGRATE_ON_START`.
    /// With IAM auth, a `DB_SSL_MODE` other than `verify-full` is refused unless `DB_ALLOW_INSECURE_TLS=true`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let iam = bool_var("DB_IAM_AUTH", false)?;
        let target = match (var("DATABASE_URL"), iam) {
            (Some(url), false) => DbTarget::Url(url),
            (_, true) => DbTarget::RdsIam {
                host: var("DB_HOST").ok_or_else(|| ConfigError::new("DB_HOST", "required with DB_IAM_AUTH=true"))?,
                port: parse_var("DB_PORT", 5432)?,
                database: var("DB_NAME")
                    .ok_or_else(|| ConfigError::new("DB_NAME", "required with DB_IAM_AUTH=true"))?,
                user: var("DB_USER").ok_or_else(|| ConfigError::new("DB_USER", "required with DB_IAM_AUTH=true"))?,
                region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            },
            (None, false) => {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "set it, or DB_HOST/DB_NAME/DB_USER with DB_IAM_AUTH=true",
                ));
            }
        };
        let ssl_mode = match var("DB_SSL_MODE") {
            Some(m) => Some(SslMode::parse(&m).ok_or_else(|| {
                ConfigError::new(
                    "DB_SSL_MODE",
                    format!("{m:?} is not one of disable, prefer, require, verify-ca, verify-full"),
                )
            })?),
            // IAM tokens are credentials: never send one over an unverified connection.
            None if iam => Some(SslMode::VerifyFull),
            None => None,
        };
        if iam {
            check_iam_tls(ssl_mode, bool_var("DB_ALLOW_INSECURE_TLS", false)?)?;
        }
        Ok(Self {
            target,
            ssl_mode,
            ca_bundle: var("DB_CA_BUNDLE").map(PathBuf::from),
            max_connections: parse_var("DB_MAX_CONNECTIONS", 1u32)?.max(1),
            connect_timeout: Duration::from_millis(parse_var("DB_CONNECT_TIMEOUT_MS", 5_000u64)?),
            migrate_on_start: bool_var("DB_MIGRATE_ON_START", false)?,
        })
    }

    /// Whether this names the embedded SQLite engine.
    pub fn is_sqlite(&self) -> bool {
        matches!(&self.target, DbTarget::Url(u) if u.starts_with("sqlite:"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_auth_accepts_only_verify_full_unless_insecure_tls_is_allowed() {
        assert_eq!(check_iam_tls(Some(SslMode::VerifyFull), false), Ok(()));
        for weaker in [SslMode::Disable, SslMode::Prefer, SslMode::Require, SslMode::VerifyCa] {
            let refused = check_iam_tls(Some(weaker), false).unwrap_err();
            assert_eq!(refused.var, "DB_SSL_MODE");
            assert!(refused.message.contains(weaker.as_str()), "{refused}");
            assert!(refused.message.contains("DB_ALLOW_INSECURE_TLS"), "{refused}");
            assert_eq!(check_iam_tls(Some(weaker), true), Ok(()));
        }
    }
}
