//! Batch writes on SQLite: one `BEGIN IMMEDIATE` transaction, one prepared statement per row (SQLite runs
//! in-process, so a statement per row costs microseconds and never meets the bound-variable limit).
//! Times are integer microseconds since the epoch, dates `YYYY-MM-DD` text (see the migration).

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::deadletter::DeadLetter;
use crate::domain::Snapshot;
use crate::storage::batch::{distinct_events, newest_per_flight};
use crate::storage::sql::state_conflict_clause;
use crate::storage::{StoreError, StoredDeadLetter, WriteOutcome};

/// The primary key is `event_id` alone, so an id stored under any time is a duplicate.
const INSERT_HISTORY: &str = "INSERT INTO flight_events (event_id, event_time, flight_id, removed, payload, received_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (event_id) DO NOTHING";

/// The insert half of the state upsert; the conflict clause is shared with the other engine.
const INSERT_STATE: &str = r#"
INSERT INTO flights (
    flight_id, carrier, number, date, origin, destination, status,
    scheduled_departure, scheduled_arrival, estimated_departure, estimated_arrival, actual_departure, actual_arrival,
    departure_delay_minutes, arrival_delay_minutes, tail_number, gate, terminal, position,
    event_time, event_id, removed)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
"#;

/// Current state, newest `(event_time, event_id)` wins (see `state_conflict_clause`).
static UPSERT_STATE: LazyLock<String> = LazyLock::new(|| format!("{INSERT_STATE}{}", state_conflict_clause("flights")));

const INSERT_DEAD_LETTER: &str = "INSERT INTO dead_letters \
     (topic, kafka_partition, kafka_offset, reason, letter, dead_lettered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING";

/// Microseconds since the epoch: how SQLite rows keep times (exact, ordered).
fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

impl SqliteStore {
    pub(crate) async fn write_snapshots(&self, batch: &[Snapshot]) -> Result<WriteOutcome, StoreError> {
        let rows = distinct_events(batch);
        let received_at = micros(Utc::now());
        // IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of deadlocking.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut new: HashSet<&str> = HashSet::with_capacity(rows.len());
        for s in &rows {
            let (removed, payload) = match s {
                Snapshot::Event(e) => (false, Some(e.to_canonical_json())),
                Snapshot::Removal(_) => (true, None),
            };
            let done = sqlx::query(INSERT_HISTORY)
                .bind(s.event_id())
                .bind(micros(s.event_time()))
                .bind(s.flight_id().as_str())
                .bind(removed)
                .bind(payload)
                .bind(received_at)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 1 {
                new.insert(s.event_id());
            }
        }
        // Only new events move current state: a duplicate changes nothing, whatever it carries.
        let winners = newest_per_flight(rows.iter().copied().filter(|s| new.contains(s.event_id())));
        for (id, s) in &winners {
            let q = sqlx::query(UPSERT_STATE.as_str()).bind(id.as_str());
            let (q, removed) = match s {
                Snapshot::Event(e) => (
                    q.bind(e.carrier.as_str())
                        .bind(e.number.as_str())
                        .bind(e.date.format("%Y-%m-%d").to_string())
                        .bind(e.origin.as_str())
                        .bind(e.destination.as_str())
                        .bind(e.status.as_str())
                        .bind(micros(e.scheduled_departure))
                        .bind(micros(e.scheduled_arrival))
                        .bind(e.estimated_departure.map(micros))
                        .bind(e.estimated_arrival.map(micros))
                        .bind(e.actual_departure.map(micros))
                        .bind(e.actual_arrival.map(micros))
                        .bind(e.departure_delay_minutes())
                        .bind(e.arrival_delay_minutes())
                        .bind(e.tail_number.as_deref())
                        .bind(e.gate.as_deref())
                        .bind(e.terminal.as_deref())
                        .bind(e.position.as_ref().and_then(|p| serde_json::to_string(p).ok())),
                    false,
                ),
                Snapshot::Removal(_) => {
                    let mut q = q;
                    for _ in 0..6 {
                        q = q.bind(None::<String>);
                    }
                    for _ in 0..6 {
                        q = q.bind(None::<i64>);
                    }
                    for _ in 0..2 {
                        q = q.bind(None::<f64>);
                    }
                    for _ in 0..4 {
                        q = q.bind(None::<String>);
                    }
                    (q, true)
                }
            };
            q.bind(micros(s.event_time())).bind(s.event_id()).bind(removed).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let stored = new.len() as u64;
        Ok(WriteOutcome { stored, duplicates: batch.len() as u64 - stored })
    }

    pub(crate) async fn drop_history_before(&self, keep_from: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM flight_events WHERE event_time < ?1")
            .bind(micros(keep_from))
            .execute(&self.pool)
            .await?;
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
                .bind(micros(l.dead_lettered_at))
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
