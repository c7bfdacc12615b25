//! The PostgreSQL engine: a lazy pool built once per cold start, RDS IAM tokens rotated between invocations,
//! history partitioned by month. Writes live in `write.rs` (history
//! by binary `COPY`, `copy.rs`), retention in `retention.rs`; the reads are shared (`storage::read`), and
//! `read.rs` holds this engine's side of them.

pub mod copy;
mod ledger;
mod read;
mod retention;
mod write;

pub use retention::RETENTION_LOCK_TIMEOUT;

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres};

use crate::config::{DbConfig, DbTarget, SslMode};
use crate::rds_iam::{Clock, TokenCache, TokenError, TokenSource};
use crate::storage::StoreError;
use crate::storage::read::Reader;

/// The PostgreSQL schema, shipped in the crate (tests and tools can run it too).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a pooled connection may sit idle before it is checked with a ping on its next use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// The PostgreSQL engine; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Set with IAM auth: how to sign new passwords, and when the current one was made.
    iam: Option<Arc<IamAuth>>,
    /// History partitions known to exist, as (year, month): saves a round trip per batch.
    partitions: Arc<Mutex<HashSet<(i32, u32)>>>,
    /// The server's version (`server_version_num`), learnt from the first connection, for traces.
    server_version: Arc<OnceLock<u32>>,
}

struct IamAuth {
    tokens: TokenCache,
    /// Connection options without a password; each renewal adds the fresh token.
    base: PgConnectOptions,
}

impl PgStore {
    pub(crate) async fn connect(config: &DbConfig) -> Result<Self, StoreError> {
        let options = match &config.target {
            DbTarget::Url(url) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::config("DATABASE_URL is not a usable PostgreSQL URL", e))?;
                with_tls(options, config)?
            }
            DbTarget::RdsIam { host, port, user, region, .. } => {
                let tokens =
                    TokenSource::from_environment(host, *port, user, region.as_deref()).await.map_err(token_error)?;
                return Self::connect_iam(config, tokens, crate::rds_iam::system_clock()).await;
            }
        };
        Ok(Self::with_pool(config, options, None))
    }

    /// RDS IAM auth with an explicit token source and clock (tests age tokens with a manual clock).
    pub(crate) async fn connect_iam(config: &DbConfig, tokens: TokenSource, clock: Clock) -> Result<Self, StoreError> {
        let DbTarget::RdsIam { host, port, database, user, .. } = &config.target else {
            return Err(StoreError::config_message("IAM auth needs DB_HOST/DB_NAME/DB_USER"));
        };
        // Without pgpass: the password is always the token, never a file on the machine.
        let base = PgConnectOptions::new_without_pgpass().host(host).port(*port).database(database).username(user);
        let base = with_tls(base, config)?;
        // A login may start as late as the pool's connect timeout after the token was checked.
        let tokens = TokenCache::new(tokens, clock, config.connect_timeout).await.map_err(token_error)?;
        let options = base.clone().password(tokens.current().await.token.as_str());
        Ok(Self::with_pool(config, options, Some(Arc::new(IamAuth { tokens, base }))))
    }

    fn with_pool(config: &DbConfig, options: PgConnectOptions, iam: Option<Arc<IamAuth>>) -> Self {
        let server_version = Arc::new(OnceLock::new());
        let learnt = server_version.clone();
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
            .after_connect(move |conn, _| {
                if let Some(version) = conn.server_version_num() {
                    let _ = learnt.set(version);
                }
                Box::pin(async { Ok(()) })
            })
            .connect_lazy_with(options);
        Self { pool, iam, partitions: Arc::new(Mutex::new(HashSet::new())), server_version }
    }

    /// See [`crate::storage::Store::connect_in_background`]; the connection goes back to the pool, idle.
    pub(crate) fn connect_in_background(&self) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            if let Err(e) = pool.acquire().await {
                let error = crate::telemetry::ErrorChain(&e).to_string();
                tracing::warn!(%error, "the database connection started at cold start failed; the next use tries again");
            }
        });
    }

    /// The `sql` block of this store's X-Ray subsegments: where and as whom, never the password.
    pub(crate) fn sql_call(&self, statement: &'static str) -> crate::xray::SqlCall {
        let options = self.pool.connect_options();
        let (host, port, database) =
            (options.get_host(), options.get_port(), options.get_database().unwrap_or("postgres"));
        crate::xray::SqlCall {
            statement,
            url: format!("postgresql://{host}:{port}/{database}"),
            database_type: "PostgreSQL",
            // 150018 is 15.18; from 10 on the number is major * 10000 + minor.
            database_version: self.server_version.get().map(|v| format!("{}.{}", v / 10_000, v % 10_000)),
            user: Some(options.get_username().to_owned()),
            name: format!("{database}@{host}"),
        }
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        // The migrator holds a PostgreSQL advisory lock while it runs, so concurrent cold starts take turns.
        MIGRATOR.run(&self.pool).await.map_err(StoreError::from_migrate)
    }

    /// Renews the IAM token when a login now could have less than five minutes of it left. Called before
    /// every store operation ([`crate::storage::Store`] does), so a reconnect deep into a long invocation
    /// logs in with a fresh token too.
    pub(crate) async fn refresh_credentials(&self) -> Result<(), StoreError> {
        let Some(iam) = &self.iam else { return Ok(()) };
        if let Some(token) = iam.tokens.renew_if_due().await.map_err(token_error)? {
            // Only new connections use it: open sessions outlive their login token.
            self.pool.set_connect_options(iam.base.clone().password(token.as_str()));
            tracing::debug!("renewed the RDS IAM auth token");
        }
        Ok(())
    }

    /// The token new connections log in with (tests).
    #[cfg(test)]
    pub(crate) async fn current_token(&self) -> Option<crate::rds_iam::IssuedToken> {
        match &self.iam {
            Some(iam) => Some(iam.tokens.current().await),
            None => None,
        }
    }

    /// The query API's reads, shared with the other engine.
    pub(crate) fn reader(&self) -> Reader<'_, Postgres> {
        Reader(&self.pool)
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn token_error(e: TokenError) -> StoreError {
    match e {
        TokenError::NoRegion => StoreError::config("RDS IAM auth", e),
        other => StoreError::Token(other),
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
        let pem = std::fs::read(path).map_err(|e| StoreError::config(format!("DB_CA_BUNDLE {}", path.display()), e))?;
        options = options.ssl_root_cert_from_pem(pem);
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;

    use super::*;
    use crate::domain::FlightId;
    use crate::rds_iam::{MIN_REMAINING_LIFE, TOKEN_LIFETIME};
    use crate::storage::Store;

    /// Any store operation renews a token that a login could no longer use for five minutes: the test
    /// cluster trusts loopback logins, so the token is observed in the store rather than by the server.
    #[tokio::test]
    async fn every_store_operation_renews_a_token_that_is_due() {
        let Some(url) = contrail_testkit::postgres::fresh_database() else { return };
        let parsed = PgConnectOptions::from_str(&url).expect("test URL");
        let mut config = DbConfig::from_url(&url);
        config.target = DbTarget::RdsIam {
            host: parsed.get_host().to_owned(),
            port: parsed.get_port(),
            database: parsed.get_database().expect("database").to_owned(),
            user: parsed.get_username().to_owned(),
            region: Some("eu-west-1".into()),
        };
        config.connect_timeout = Duration::from_secs(5);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let now = Arc::new(Mutex::new(start));
        let read = now.clone();
        let clock: Clock = Arc::new(move || *read.lock().expect("clock"));
        let creds = Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE", None, None, "test");
        let tokens = TokenSource::new(
            SharedCredentialsProvider::new(creds),
            "eu-west-1",
            "127.0.0.1",
            config_port(&config),
            "u",
        );
        let pg = PgStore::connect_iam(&config, tokens, clock).await.expect("IAM store");
        let store = Store::Postgres(pg.clone());
        store.migrate().await.expect("migrate");
        let flight = FlightId::parse("UA1-2026-11-25-EWR").expect("id");

        let signed = |t: Option<crate::rds_iam::IssuedToken>| t.expect("IAM store").signed_at;
        assert_eq!(signed(pg.current_token().await), start);
        // Still more than five minutes (plus the connect timeout) left: kept.
        let keep = start + TOKEN_LIFETIME - MIN_REMAINING_LIFE - config.connect_timeout - Duration::from_secs(1);
        *now.lock().expect("clock") = keep;
        store.get_flight(&flight).await.expect("read");
        assert_eq!(signed(pg.current_token().await), start);
        // One second later a login could end with less: the read itself renews it first.
        let due = keep + Duration::from_secs(2);
        *now.lock().expect("clock") = due;
        store.get_flight(&flight).await.expect("read");
        assert_eq!(signed(pg.current_token().await), due);
        // Deep into a long run, with no refresh_credentials call in between: any other call renews it too.
        let later = due + TOKEN_LIFETIME - MIN_REMAINING_LIFE;
        *now.lock().expect("clock") = later;
        store.list_dead_letters(1).await.expect("read");
        assert_eq!(signed(pg.current_token().await), later);
    }

    fn config_port(config: &DbConfig) -> u16 {
        match &config.target {
            DbTarget::RdsIam { port, .. } => *port,
            DbTarget::Url(_) => 5432,
        }
    }
}
