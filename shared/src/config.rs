//! Configuration from the environment: the same variables in Lambda, in `sam local` and in the local
//! stack. Each setting is read in one place, so the template check can list what the code reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
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

/// Where settings are read from: the process environment, over defaults a host supplies.
///
/// A function reads its settings only through this, so the local stack configures each handler with
/// the handler's own reader and gives its local defaults as defaults: a variable set in the
/// environment always wins, and none can be missed by a second parser.
#[derive(Clone, Default)]
pub struct Env {
    defaults: BTreeMap<&'static str, String>,
    overrides: BTreeMap<&'static str, String>,
    /// Every name asked for, when recording: how each crate's `ENVIRONMENT` list is proved complete.
    reads: Option<Arc<Mutex<BTreeSet<String>>>>,
}

impl Env {
    /// The process environment, without defaults (what a function sees in Lambda).
    pub fn process() -> Self {
        Self::default()
    }

    /// The same source with `value` for `name` when the environment leaves it unset.
    pub fn with_default(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.defaults.insert(name, value.into());
        self
    }

    /// The same source with `value` for `name` whatever the environment says (a command-line flag);
    /// an empty `value` makes the variable unset.
    pub fn with_override(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.overrides.insert(name, value.into());
        self
    }

    /// The same source, remembering every name asked for (see [`Env::reads`]).
    pub fn recording(mut self) -> Self {
        self.reads = Some(Arc::default());
        self
    }

    /// The names asked for since [`Env::recording`], sorted; empty when not recording.
    pub fn reads(&self) -> BTreeSet<String> {
        self.reads.as_ref().map(|r| r.lock().unwrap_or_else(PoisonError::into_inner).clone()).unwrap_or_default()
    }

    /// A variable: its override, else the environment's value, else its default (empty counts as unset).
    pub fn var(&self, name: &str) -> Option<String> {
        if let Some(reads) = &self.reads {
            reads.lock().unwrap_or_else(PoisonError::into_inner).insert(name.to_owned());
        }
        if let Some(v) = self.overrides.get(name) {
            return Some(v.clone()).filter(|v| !v.trim().is_empty());
        }
        std::env::var(name).ok().filter(|v| !v.trim().is_empty()).or_else(|| self.defaults.get(name).cloned())
    }

    /// A boolean variable (`true/false`, `1/0`, `yes/no`, `on/off`).
    pub fn bool_var(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.var(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::new(name, format!("expected true or false, got {v:?}"))),
        }
    }

    /// A number variable.
    pub fn parse_var<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError> {
        match self.var(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| ConfigError::new(name, format!("not a valid number: {v:?}"))),
        }
    }
}

/// Names only: defaults and overrides include secrets.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("defaults", &self.defaults.keys().collect::<Vec<_>>())
            .field("overrides", &self.overrides.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Reads a process environment variable, treating an empty value as unset.
pub fn var(name: &str) -> Option<String> {
    Env::process().var(name)
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
    /// Whether opening the store starts its first connection in the background, so that it is made while the
    /// runtime asks for the first event rather than inside the first request (the store opens lazily either way).
    pub connect_on_start: bool,
    /// Whether an SQLite store may create its file (and directory) when it is missing: a first local run
    /// should just work, but a read-only command given a mistyped path must say so, not audit an empty file.
    pub create_if_missing: bool,
}

impl DbConfig {
    /// What [`DbConfig::from_vars`] reads.
    pub const VARIABLES: &[&str] = &[
        "DATABASE_URL",
        "DB_IAM_AUTH",
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "DB_SSL_MODE",
        "DB_ALLOW_INSECURE_TLS",
        "DB_CA_BUNDLE",
        "DB_MAX_CONNECTIONS",
        "DB_CONNECT_TIMEOUT_MS",
        "DB_MIGRATE_ON_START",
        "DB_CONNECT_ON_START",
    ];

    /// A configuration for a URL with local-tool defaults.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            target: DbTarget::Url(url.into()),
            ssl_mode: None,
            ca_bundle: None,
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
            migrate_on_start: false,
            connect_on_start: false,
            create_if_missing: true,
        }
    }

    /// Reads `DATABASE_URL`, or `DB_HOST`/`DB_PORT`/`DB_NAME`/`DB_USER` with `DB_IAM_AUTH=true`, plus
    /// `DB_SSL_MODE`, `DB_CA_BUNDLE`, `DB_MAX_CONNECTIONS`, `DB_CONNECT_TIMEOUT_MS`, `DB_MIGRATE_ON_START`,
    /// `DB_CONNECT_ON_START`.
    /// With IAM auth, a `DB_SSL_MODE` other than `verify-full` is refused unless `DB_ALLOW_INSECURE_TLS=true`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Env::process())
    }

    /// [`DbConfig::from_env`] over another source.
    pub fn from_vars(env: &Env) -> Result<Self, ConfigError> {
        let iam = env.bool_var("DB_IAM_AUTH", false)?;
        let target = match (env.var("DATABASE_URL"), iam) {
            (Some(url), false) => DbTarget::Url(url),
            (_, true) => DbTarget::RdsIam {
                host: env
                    .var("DB_HOST")
                    .ok_or_else(|| ConfigError::new("DB_HOST", "required with DB_IAM_AUTH=true"))?,
                port: env.parse_var("DB_PORT", 5432)?,
                database: env
                    .var("DB_NAME")
                    .ok_or_else(|| ConfigError::new("DB_NAME", "required with DB_IAM_AUTH=true"))?,
                user: env
                    .var("DB_USER")
                    .ok_or_else(|| ConfigError::new("DB_USER", "required with DB_IAM_AUTH=true"))?,
                region: env.var("AWS_REGION").or_else(|| env.var("AWS_DEFAULT_REGION")),
            },
            (None, false) => {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "set it, or DB_HOST/DB_NAME/DB_USER with DB_IAM_AUTH=true",
                ));
            }
        };
        let ssl_mode = match env.var("DB_SSL_MODE") {
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
            check_iam_tls(ssl_mode, env.bool_var("DB_ALLOW_INSECURE_TLS", false)?)?;
        }
        Ok(Self {
            target,
            ssl_mode,
            ca_bundle: env.var("DB_CA_BUNDLE").map(PathBuf::from),
            max_connections: env.parse_var("DB_MAX_CONNECTIONS", 1u32)?.max(1),
            connect_timeout: Duration::from_millis(env.parse_var("DB_CONNECT_TIMEOUT_MS", 5_000u64)?),
            migrate_on_start: env.bool_var("DB_MIGRATE_ON_START", false)?,
            connect_on_start: env.bool_var("DB_CONNECT_ON_START", false)?,
            create_if_missing: true,
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
