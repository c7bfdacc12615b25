//! Storage: one interface ([`Store`]) over two engines with the same behaviour.
//!
//! - PostgreSQL (`postgres://`): production on RDS/Aurora, IAM auth tokens, partitioned history.
//! - SQLite (`sqlite://`): the local stack's embedded default, zero setup. Behind the `sqlite` feature,
//!   which only the local stack and the test suites enable: the Lambda binaries carry no SQLite.
//!
//! Writes take whole batches in one transaction; reads serve the query API with keyset pagination.
//! The conformance suite (`shared/tests/storage_conformance.rs`) runs every behaviour on both engines.

mod batch;
mod error;
mod model;
mod postgres;
mod read;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod state;

use chrono::{DateTime, Utc};

use crate::config::DbConfig;
use crate::deadletter::DeadLetter;
use crate::domain::{FlightId, Snapshot};
use crate::ledger::{LedgerEntry, LedgerRow};

pub use batch::{Digest, content_digest};
pub use error::StoreError;
pub use model::{
    BBox, BoardFilter, BoardKind, CarrierStats, Flight, FlightFilter, FlightPosition, GroupStats, GroupedStats,
    GroupedStatsFilter, HistoryEntry, HourStats, Keyset, LedgerFilter, ON_TIME_MINUTES, PositionFilter,
    PositionStatuses, Stats, StatsFilter, StatsGrouping, StoredDeadLetter, WriteOutcome, rfc3339,
};
pub use postgres::{PgStore, RETENTION_LOCK_TIMEOUT, copy};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Sqlite,
}

/// A handle on the database; cheap to clone (the pool is shared). Build one per cold start.
#[derive(Clone)]
pub enum Store {
    Postgres(PgStore),
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
}

/// Calls the same method on whichever engine backs the store. On PostgreSQL the IAM token is renewed
/// first when due, so any connection the call opens logs in with enough token life left.
/// Each call is one X-Ray subsegment named for the operation (see [`crate::xray`]).
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        crate::xray::record(|_| $self.sql_call(stringify!($method)), async {
            match $self {
                Store::Postgres(s) => {
                    s.refresh_credentials().await?;
                    s.$method($($arg),*).await
                }
                #[cfg(feature = "sqlite")]
                Store::Sqlite(s) => s.$method($($arg),*).await,
            }
        })
        .await
    };
    // A read: the same shared code over whichever engine's pool.
    (read $self:ident.$method:ident($($arg:expr),*)) => {
        crate::xray::record(|_| $self.sql_call(stringify!($method)), async {
            match $self {
                Store::Postgres(s) => {
                    s.refresh_credentials().await?;
                    s.reader().$method($($arg),*).await
                }
                #[cfg(feature = "sqlite")]
                Store::Sqlite(s) => s.reader().$method($($arg),*).await,
            }
        })
        .await
    };
}

impl Store {
    /// Opens (lazily) the database the configuration names; no connection is made until first use.
    pub async fn connect(config: &DbConfig) -> Result<Self, StoreError> {
        if config.is_sqlite() {
            #[cfg(feature = "sqlite")]
            return Ok(Self::Sqlite(SqliteStore::connect(config).await?));
            #[cfg(not(feature = "sqlite"))]
            return Err(StoreError::config_message(
                "this build has no SQLite engine (contrail-shared's `sqlite` feature): use a postgres:// URL",
            ));
        }
        Ok(Self::Postgres(PgStore::connect(config).await?))
    }

    /// Connects, then migrates when the configuration asks (`DB_MIGRATE_ON_START`): a function's cold start.
    pub async fn open(config: &DbConfig) -> Result<Self, StoreError> {
        let store = Self::connect(config).await?;
        if config.migrate_on_start {
            store.migrate().await?;
        } else if config.connect_on_start {
            store.connect_in_background();
        }
        Ok(store)
    }

    /// Starts the first database connection on a task of its own and returns at once: a cold start then
    /// connects while the Lambda runtime polls for its first event. A request that comes meanwhile waits for
    /// that connection (within its own `DB_CONNECT_TIMEOUT_MS`); a failure is logged and the next use tries
    /// again, reporting the outage if it persists.
    fn connect_in_background(&self) {
        match self {
            Self::Postgres(s) => s.connect_in_background(),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => {}
        }
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        match self {
            Self::Postgres(_) => Engine::Postgres,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// What an X-Ray subsegment says of a call of `statement` on this store: never a password.
    fn sql_call(&self, statement: &'static str) -> crate::xray::Call {
        crate::xray::Call::Sql(match self {
            Self::Postgres(s) => s.sql_call(statement),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(s) => s.sql_call(statement),
        })
    }

    /// Brings the schema up to date (sqlx migrations shipped in this crate; serialized by a lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self.migrate())
    }

    /// Renews short-lived credentials (RDS IAM tokens) before a login could use one with less than five
    /// minutes left. Every store operation does this itself; calling it at the start of an invocation
    /// surfaces a signing failure early. Cheap when nothing is due.
    pub async fn refresh_credentials(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(s) => s.refresh_credentials().await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => Ok(()),
        }
    }

    /// Answers when the database does (a round trip); the health check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self.ping())
    }

    /// Writes a batch in one transaction: history once per event id, current state newest-wins.
    /// Nothing of the batch is committed on error.
    pub async fn write_snapshots(&self, batch: &[Snapshot]) -> Result<WriteOutcome, StoreError> {
        self.write_batch(batch, &[]).await
    }

    /// [`Store::write_snapshots`] with the batch's ledger rows (one per topic-partition) in the same
    /// transaction; the outcome names the partitions whose ledger had a gap before this batch.
    pub async fn write_batch(&self, batch: &[Snapshot], ledger: &[LedgerEntry]) -> Result<WriteOutcome, StoreError> {
        if batch.is_empty() && ledger.is_empty() {
            return Ok(WriteOutcome::default());
        }
        dispatch!(self.write_snapshots(batch, ledger))
    }

    /// Reserves consecutive offsets on partitions of the local stack's log (`local_log`): `counts` holds
    /// (partition, how many); returns (partition, first offset reserved) for each. A partition never used
    /// before starts at `start`. All or none, in one transaction, so concurrent processes (`up` and `replay`)
    /// never take the same offsets, a failure takes none, and each run continues where the last ended.
    pub async fn reserve_local_offsets(
        &self,
        topic: &str,
        counts: &[(i64, i64)],
        start: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        if counts.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self.reserve_local_offsets(topic, counts, start))
    }

    /// The ledger rows `filter` selects, by topic, partition and first offset: what an audit reads.
    pub async fn ledger_rows(&self, filter: &LedgerFilter) -> Result<Vec<LedgerRow>, StoreError> {
        dispatch!(self.ledger_rows(filter))
    }

    /// Drops history older than `keep_from` (whole partitions on PostgreSQL), and the ledger rows committed
    /// before it; returns what history was dropped (partitions on PostgreSQL, rows on SQLite). Current state
    /// is untouched.
    pub async fn drop_history_before(&self, keep_from: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self.drop_history_before(keep_from))
    }

    /// Keeps dead letters in the local dead-letter table; idempotent on (topic, partition, offset).
    pub async fn put_dead_letters(&self, letters: &[DeadLetter]) -> Result<u64, StoreError> {
        if letters.is_empty() {
            return Ok(0);
        }
        dispatch!(self.put_dead_letters(letters))
    }

    /// The oldest `limit` dead letters of the local table, oldest first.
    pub async fn list_dead_letters(&self, limit: u32) -> Result<Vec<StoredDeadLetter>, StoreError> {
        dispatch!(self.list_dead_letters(limit))
    }

    /// Removes dead letters (after a successful replay).
    pub async fn delete_dead_letters(&self, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        dispatch!(self.delete_dead_letters(ids))
    }

    /// The current snapshot of one flight; `None` if unknown or removed.
    pub async fn get_flight(&self, id: &FlightId) -> Result<Option<Flight>, StoreError> {
        dispatch!(read self.get_flight(id))
    }

    /// Current flights matching `filter`, ordered by (scheduled_departure, flight_id), after `after`.
    pub async fn list_flights(
        &self,
        filter: &FlightFilter,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<Flight>, StoreError> {
        dispatch!(read self.list_flights(filter, after, limit))
    }

    /// One airport's board, ordered by (scheduled departure or arrival, flight_id), after `after`.
    pub async fn board(
        &self,
        filter: &BoardFilter,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<Flight>, StoreError> {
        dispatch!(read self.board(filter, after, limit))
    }

    /// A flight's history ordered by (event_time, event_id), after `after` (event_time, event_id).
    pub async fn flight_history(
        &self,
        id: &FlightId,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        dispatch!(read self.flight_history(id, after, limit))
    }

    /// The departures and arrivals of one date (at one airport, when the filter names it), grouped by UTC hour
    /// or by carrier.
    pub async fn grouped_stats(&self, filter: &GroupedStatsFilter) -> Result<GroupedStats, StoreError> {
        dispatch!(read self.grouped_stats(filter))
    }

    /// Current positions of the flights in the air (see [`PositionFilter`]), ordered by flight id, after
    /// the flight id `after`. Served by the partial index `flights_positions_idx`.
    pub async fn positions(
        &self,
        filter: &PositionFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FlightPosition>, StoreError> {
        dispatch!(read self.positions(filter, after, limit))
    }

    /// Aggregates over the current flights of one date.
    pub async fn stats(&self, filter: &StatsFilter) -> Result<Stats, StoreError> {
        dispatch!(read self.stats(filter))
    }
}
