//! Batch writes on SQLite: one `BEGIN IMMEDIATE` transaction, one prepared statement per row (SQLite runs
//! in-process, so a statement per row costs microseconds and never meets the bound-variable limit).
//! Times are integer microseconds since the epoch, dates `YYYY-MM-DD` text (see the migration).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Arguments as _;
use sqlx::error::BoxDynError;
use sqlx::sqlite::SqliteArguments;

use super::{DATE_FORMAT, SqliteStore, from_micros};
use crate::deadletter::DeadLetter;
use crate::domain::Snapshot;
use crate::ledger::{LedgerEntry, LedgerGap, LedgerRow, gap_before};
use crate::storage::batch::{
    OrderKey, StoredId, conflicting, count_superseded, distinct_events, flights_with_several, newest_per_flight,
    payload_and_digest,
};
use crate::storage::{LedgerFilter, StoreError, StoredDeadLetter, WriteOutcome, model, state};

/// The primary key is `event_id` alone, so an id stored under any time is a duplicate.
const INSERT_HISTORY: &str = "INSERT INTO flight_events \
     (event_id, event_time, flight_id, removed, payload, received_at, digest) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (event_id) DO NOTHING";

/// A flight's state order key, read before the upsert changes it.
const STATE_KEY: &str = "SELECT event_time, event_id FROM flights WHERE flight_id = ?1";

/// The digest of an event already stored: read only when an insert found its id taken.
const STORED_DIGEST: &str = "SELECT digest FROM flight_events WHERE event_id = ?1";

/// Current state, newest `(event_time, event_id)` wins (see `state::conflict_clause`).
static UPSERT_STATE: LazyLock<String> = LazyLock::new(|| {
    let values: Vec<String> = (1..=state::COLUMNS.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO flights ({}) VALUES ({})\n{}",
        state::column_list(),
        values.join(", "),
        state::conflict_clause("flights")
    )
});

/// A partition's highest ledger offset before this batch.
const DROP_LEDGER_BEFORE: &str = "WITH kept AS (\
     SELECT topic, kafka_partition, min(first_offset) AS first_offset \
     FROM ingest_ledger WHERE committed_at >= ?1 GROUP BY topic, kafka_partition) \
     DELETE FROM ingest_ledger WHERE committed_at < ?1 AND NOT EXISTS (SELECT 1 FROM kept k \
     WHERE k.topic = ingest_ledger.topic AND k.kafka_partition = ingest_ledger.kafka_partition \
     AND ingest_ledger.last_offset >= k.first_offset)";
const LAST_OFFSET: &str = "SELECT max(last_offset) FROM ingest_ledger WHERE topic = ?1 AND kafka_partition = ?2";

const INSERT_LEDGER: &str = "INSERT INTO ingest_ledger \
     (topic, kafka_partition, first_offset, last_offset, records, stored, duplicates, dead_lettered, checksum, source, \
     committed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

const SELECT_LEDGER: &str = "SELECT topic, kafka_partition, first_offset, last_offset, records, stored, duplicates, \
     dead_lettered, checksum, source, committed_at FROM ingest_ledger \
     WHERE (?1 IS NULL OR topic = ?1) \
     AND (?2 = '[]' OR kafka_partition IN (SELECT value FROM json_each(?2))) \
     ORDER BY topic, kafka_partition, first_offset, id";

/// Takes `?3` offsets of a partition of the local log: a new partition starts at `?4`.
const RESERVE_LOCAL_OFFSETS: &str = "INSERT INTO local_log (topic, kafka_partition, next_offset) VALUES (?1, ?2, ?4 + ?3) \
     ON CONFLICT (topic, kafka_partition) DO UPDATE SET next_offset = local_log.next_offset + ?3 \
     RETURNING next_offset - ?3";

type LedgerColumns = (String, i64, i64, i64, i64, i64, i64, i64, Vec<u8>, String, i64);

const INSERT_DEAD_LETTER: &str = "INSERT INTO dead_letters \
     (topic, kafka_partition, kafka_offset, reason, letter, dead_lettered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING";

/// One state row's values, bound in SQLite's representation: times as microseconds, dates as text, the
/// position as JSON text. The first value that fails to encode is kept and fails the statement.
#[derive(Default)]
struct StateBinds {
    args: SqliteArguments,
    error: Option<BoxDynError>,
}

impl StateBinds {
    fn add<T: sqlx::Encode<'static, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(&mut self, v: T) {
        if let Err(e) = self.args.add(v) {
            self.error.get_or_insert(e);
        }
    }
}

impl<'a> state::Sink<'a> for StateBinds {
    fn text(&mut self, v: Option<&'a str>) {
        self.add(v.map(str::to_owned));
    }
    fn date(&mut self, v: Option<NaiveDate>) {
        self.add(v.map(|d| d.format(DATE_FORMAT).to_string()));
    }
    fn time(&mut self, v: Option<DateTime<Utc>>) {
        self.add(v.map(|t| t.timestamp_micros()));
    }
    fn float(&mut self, v: Option<f64>) {
        self.add(v);
    }
    fn json(&mut self, v: Option<String>) {
        self.add(v);
    }
    fn flag(&mut self, v: bool) {
        self.add(v);
    }
}

impl SqliteStore {
    pub(crate) async fn write_snapshots(
        &self,
        batch: &[Snapshot],
        ledger: &[LedgerEntry],
    ) -> Result<WriteOutcome, StoreError> {
        let distinct = distinct_events(batch);
        let received_at = Utc::now().timestamp_micros();
        // IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of deadlocking.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut new: HashSet<&str> = HashSet::with_capacity(distinct.rows.len());
        let mut stored: HashMap<String, StoredId> = HashMap::new();
        for (_, s) in &distinct.rows {
            let (payload, digest) = payload_and_digest(s);
            let done = sqlx::query(INSERT_HISTORY)
                .bind(s.event_id())
                .bind(s.event_time().timestamp_micros())
                .bind(s.flight_id().as_str())
                .bind(matches!(s, Snapshot::Removal(_)))
                .bind(payload)
                .bind(received_at)
                .bind(digest.as_slice())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 1 {
                new.insert(s.event_id());
            } else {
                let digest: Option<Vec<u8>> =
                    sqlx::query_scalar(STORED_DIGEST).bind(s.event_id()).fetch_one(&mut *tx).await?;
                stored.insert(s.event_id().to_owned(), StoredId::from_column(digest));
            }
        }
        let conflicting = conflicting(batch, &distinct, &stored);
        // Only new events move current state: a duplicate changes nothing, whatever it carries.
        let new_rows: Vec<(usize, &Snapshot)> =
            distinct.rows.iter().copied().filter(|(_, s)| new.contains(s.event_id())).collect();
        // Flights with several new events: their state as it was, to tell which of them came too late.
        let mut stored_keys: HashMap<String, OrderKey> = HashMap::new();
        for flight in flights_with_several(&new_rows) {
            let row: Option<(i64, String)> =
                sqlx::query_as(STATE_KEY).bind(flight.as_str()).fetch_optional(&mut *tx).await?;
            if let Some((time, event_id)) = row {
                stored_keys.insert(flight.as_str().to_owned(), (from_micros(time)?, event_id));
            }
        }
        let winners = newest_per_flight(new_rows.iter().map(|(_, s)| *s));
        let mut applied: HashSet<String> = HashSet::new();
        for (id, s) in &winners {
            let mut binds = StateBinds::default();
            state::fill(&mut binds, id, s);
            if let Some(e) = binds.error {
                return Err(StoreError::Query(sqlx::Error::Encode(e)));
            }
            let done = sqlx::query_with(UPSERT_STATE.as_str(), binds.args).execute(&mut *tx).await?;
            if done.rows_affected() > 0 {
                applied.insert(id.as_str().to_owned());
            }
        }
        let mut new_indices: Vec<usize> = new_rows.iter().map(|(i, _)| *i).collect();
        new_indices.sort_unstable();
        let ledger_gaps = write_ledger(&mut tx, ledger, &new_indices, &conflicting).await?;
        tx.commit().await?;
        let stored = new.len() as u64;
        Ok(WriteOutcome {
            stored,
            duplicates: batch.len() as u64 - stored - conflicting.len() as u64,
            superseded: count_superseded(&new_rows, &stored_keys, &applied),
            conflicting,
            ledger_gaps,
        })
    }

    pub(crate) async fn reserve_local_offsets(
        &self,
        topic: &str,
        counts: &[(i64, i64)],
        start: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut firsts = Vec::with_capacity(counts.len());
        for &(partition, count) in counts {
            let first: i64 = sqlx::query_scalar(RESERVE_LOCAL_OFFSETS)
                .bind(topic)
                .bind(partition)
                .bind(count)
                .bind(start)
                .fetch_one(&mut *tx)
                .await?;
            firsts.push((partition, first));
        }
        tx.commit().await?;
        Ok(firsts)
    }

    pub(crate) async fn ledger_rows(&self, filter: &LedgerFilter) -> Result<Vec<LedgerRow>, StoreError> {
        let partitions = serde_json::to_string(&filter.partitions).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rows: Vec<LedgerColumns> =
            sqlx::query_as(SELECT_LEDGER).bind(filter.topic.as_deref()).bind(partitions).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(topic, partition, first, last, records, stored, duplicates, dead, checksum, source, at)| {
                let at = from_micros(at)?;
                model::ledger_row(
                    topic,
                    partition,
                    (first, last),
                    [records, stored, duplicates, dead],
                    checksum,
                    source,
                    at,
                )
            })
            .collect()
    }

    pub(crate) async fn drop_history_before(&self, keep_from: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query("DELETE FROM flight_events WHERE event_time < ?1")
            .bind(keep_from.timestamp_micros())
            .execute(&mut *tx)
            .await?;
        // A prefix of each partition only, as on PostgreSQL (`drop_ledger_before`): a row above a late replay
        // that is kept stays, or the audit would see a gap after the replay.
        sqlx::query(DROP_LEDGER_BEFORE).bind(keep_from.timestamp_micros()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn put_dead_letters(&self, letters: &[DeadLetter]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut stored = 0;
        for l in letters {
            let done = sqlx::query(INSERT_DEAD_LETTER)
                .bind(&l.topic)
                .bind(l.partition)
                .bind(l.offset)
                .bind(l.reason.as_str())
                .bind(l.to_json())
                .bind(l.dead_lettered_at.timestamp_micros())
                .execute(&mut *tx)
                .await?;
            stored += done.rows_affected();
        }
        tx.commit().await?;
        Ok(stored)
    }

    pub(crate) async fn list_dead_letters(&self, limit: u32) -> Result<Vec<StoredDeadLetter>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, letter FROM dead_letters ORDER BY id LIMIT ?1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id, text)| {
                serde_json::from_str(&text)
                    .map(|letter| StoredDeadLetter { id, letter })
                    .map_err(|e| StoreError::Corrupt(format!("dead letter {id}: {e}")))
            })
            .collect()
    }

    pub(crate) async fn delete_dead_letters(&self, ids: &[i64]) -> Result<u64, StoreError> {
        // One statement for any number of ids: the list travels as one JSON array.
        let list = serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query("DELETE FROM dead_letters WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(list)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Writes the batch's ledger rows inside `tx` and returns the partitions it finds a gap before (see the
/// PostgreSQL engine's `ledger::write`).
async fn write_ledger(
    tx: &mut sqlx::SqliteConnection,
    entries: &[LedgerEntry],
    new: &[usize],
    conflicting: &[usize],
) -> Result<Vec<LedgerGap>, StoreError> {
    let mut gaps = Vec::new();
    let committed_at = Utc::now().timestamp_micros();
    for e in entries {
        let before: Option<i64> =
            sqlx::query_scalar(LAST_OFFSET).bind(&e.topic).bind(e.partition).fetch_one(&mut *tx).await?;
        gaps.extend(gap_before(e, before));
        let (stored, duplicates, dead_lettered) = e.counts(new, conflicting);
        sqlx::query(INSERT_LEDGER)
            .bind(&e.topic)
            .bind(e.partition)
            .bind(e.first_offset)
            .bind(e.last_offset)
            .bind(e.records as i64)
            .bind(stored as i64)
            .bind(duplicates as i64)
            .bind(dead_lettered as i64)
            .bind(e.checksum.as_slice())
            .bind(e.source.as_str())
            .bind(committed_at)
            .execute(&mut *tx)
            .await?;
    }
    Ok(gaps)
}
