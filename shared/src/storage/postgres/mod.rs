//! The PostgreSQL engine: a lazy pool built once per cold start, RDS IAM tokens rotated between invocations,
//! history partitioned by month. Writes live in `write.rs`, reads in `read.rs`, retention in `retention.rs`.

mod read;
mod retention;
mod write;

pub use retention::RETENTION_LOCK_TIMEOUT;

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};

use crate::config::{DbConfig, DbTarget, SslMode};
use crate::rds_iam::{TokenError, TokenSource};
use crate::storage::StoreError;

/// The PostgreSQL schema, shipped in the crate (tests and tools can run it too).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A token is renewed once it is this old: well inside its 15 minutes, so a connection opened late in an
/// invocation still logs in.
/// How long a pooled connection may sit idle before it is checked with a ping on its next use.
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(1);

const TOKEN_REFRESH_AFTER: Duration = Duration::from_secs(10 * 60);

/// The PostgreSQL engine; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Set with IAM auth: how to sign new passwords, and when the current one was made.
    iam: Option<Arc<IamAuth>>,
    /// History partitions known to exist, as (year, month): saves a round trip per batch.
    partitions: Arc<Mutex<HashSet<(i32, u32)>>>,
}

struct IamAuth {
    tokens: TokenSource,
    /// Connection options without a password; each refresh adds a fresh token.
    base: PgConnectOptions,
    issued: tokio::sync::Mutex<Instant>,
}

impl PgStore {
    pub(crate) async fn connect(config: &DbConfig) -> Result<Self, StoreError> {
        let (options, iam) = match &config.target {
            DbTarget::Url(url) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Config(format!("DATABASE_URL is not a usable PostgreSQL URL: {e}")))?;
                (with_tls(options, config)?, None)
            }
            DbTarget::RdsIam { host, port, database, user, region } => {
                // Without pgpass: the password is always the token, never a file on the machine.
                let base =
                    PgConnectOptions::new_without_pgpass().host(host).port(*port).database(database).username(user);
                let base = with_tls(base, config)?;
                let tokens =
                    TokenSource::from_environment(host, *port, user, region.as_deref()).await.map_err(token_error)?;
                let token = tokens.token().await.map_err(token_error)?;
                let options = base.clone().password(token.as_str());
                let iam = IamAuth { tokens, base, issued: tokio::sync::Mutex::new(Instant::now()) };
                (options, Some(Arc::new(iam)))
            }
        };
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(config.connect_timeout)
            // Ping only a connection that sat idle (a Lambda environment thawed after a freeze, a server that
            // may have gone away); a connection in steady use is known good, and the ping is a round trip.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        Ok(Self { pool, iam, partitions: Arc::new(Mutex::new(HashSet::new())) })
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        // The migrator holds a PostgreSQL advisory lock while it runs, so concurrent cold starts take turns.
        MIGRATOR.run(&self.pool).await.map_err(StoreError::from_migrate)
    }

    pub(crate) async fn refresh_credentials(&self) -> Result<(), StoreError> {
        let Some(iam) = &self.iam else { return Ok(()) };
        let mut issued = iam.issued.lock().await;
        if issued.elapsed() < TOKEN_REFRESH_AFTER {
            return Ok(());
        }
        let token = iam.tokens.token().await.map_err(token_error)?;
        // Only new connections use it: open sessions outlive their login token.
        self.pool.set_connect_options(iam.base.clone().password(token.as_str()));
        *issued = Instant::now();
        tracing::debug!("renewed the RDS IAM auth token");
        Ok(())
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn token_error(e: TokenError) -> StoreError {
    match e {
        TokenError::NoRegion => StoreError::Config(e.to_string()),
        other => StoreError::Token(other.to_string()),
    }
}

/// Applies the configured TLS mode and CA bundle. The bundle is read now, so a wrong path is a
/// configuration error at cold start rather than a connection failure retried forever.
fn with_tls(mut options: PgConnectOptions, config: &DbConfig) -> Result<PgConnectOptions, StoreError> {
    if let Some(mode) = config.ssl_mode {
        options = options.ssl_mode(match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        });
    }
    if let Some(path) = &config.ca_bundle {
        let pem =
            std::fs::read(path).map_err(|e| StoreError::Config(format!("DB_CA_BUNDLE {}: {e}", path.display())))?;
        options = options.ssl_root_cert_from_pem(pem);
    }
    Ok(options)
}
