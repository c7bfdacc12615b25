//! The SQLite engine: the local stack's embedded default, one file, zero setup. Writes live in `write.rs`;
//! the reads are shared (`storage::read`), and `read.rs` holds this engine's side of them.

mod read;
mod write;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::config::{DbConfig, DbTarget};
use crate::storage::StoreError;
use crate::storage::read::Reader;

/// The SQLite schema, shipped in the crate.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How dates are kept: ISO text, which orders as the dates do.
const DATE_FORMAT: &str = "%Y-%m-%d";

/// A time kept as microseconds since the epoch (how SQLite rows keep times: exact and ordered), read back.
fn from_micros(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt(format!("stored time {us} is out of range")))
}

/// How long a writer waits for another connection's write lock before reporting the database busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite engine; clones share the pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// The `sql` block of this store's X-Ray subsegments (the local stack's traces).
    pub(crate) fn sql_call(&self, statement: &'static str) -> crate::xray::SqlCall {
        let file = self.pool.connect_options().get_filename().display().to_string();
        crate::xray::SqlCall {
            statement,
            url: format!("sqlite://{file}"),
            database_type: "SQLite",
            database_version: None,
            user: None,
            name: format!("sqlite@{file}"),
        }
    }

    pub(crate) async fn connect(config: &DbConfig) -> Result<Self, StoreError> {
        let DbTarget::Url(url) = &config.target else {
            return Err(StoreError::config_message("SQLite needs a sqlite:// DATABASE_URL"));
        };
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::config("DATABASE_URL is not a usable SQLite URL", e))?
            .create_if_missing(config.create_if_missing)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        if !in_memory && config.create_if_missing {
            // SQLite creates the file but not its directory; a first run should just work.
            if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::config(format!("creating {}", dir.display()), e))?;
            }
        }
        let mut pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.connect_timeout)
            .test_before_acquire(true);
        if in_memory {
            // An in-memory database lives as long as one of its connections: keep them.
            pool = pool.idle_timeout(None).max_lifetime(None);
        }
        Ok(Self { pool: pool.connect_lazy_with(options) })
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(StoreError::from_migrate)
    }

    /// The query API's reads, shared with the other engine.
    pub(crate) fn reader(&self) -> Reader<'_, Sqlite> {
        Reader(&self.pool)
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
