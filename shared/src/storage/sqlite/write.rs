//! Batch writes on SQLite: one `BEGIN IMMEDIATE` transaction, one prepared statement per row (SQLite runs
//! in-process, so a statement per row costs microseconds and never meets the bound-variable limit).
//! Times are integer microseconds since the epoch, dates `YYYY-MM-DD` text (see the migration).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::deadletter::DeadLetter;
use crate::domain::Snapshot;
use crate::storage::batch::{
    OrderKey, StoredId, conflicting, count_superseded, distinct_events, flights_with_several, newest_per_flight,
    payload_and_digest,
};
use crate::storage::sql::state_conflict_clause;
use crate::storage::{StoreError, StoredDeadLetter, WriteOutcome};

/// The primary key is `event_id` alone, so an id stored under any time is a duplicate.
const INSERT_HISTORY: &str = "INSERT INTO flight_events \
     (event_id, event_time, flight_id, removed, payload, received_at, digest) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (event_id) DO NOTHING";

/// A flight's state order key, read before the upsert changes it.
const STATE_KEY: &str = "SELECT event_time, event_id FROM flights WHERE flight_id = ?1";

/// The digest of an event already stored: read only when an insert found its id taken.
const STORED_DIGEST: &str = "SELECT digest FROM flight_events WHERE event_id = ?1";

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
        let distinct = distinct_events(batch);
        let received_at = micros(Utc::now());
        // IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of deadlocking.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut new: HashSet<&str> = HashSet::with_capacity(distinct.rows.len());
        let mut stored: HashMap<String, StoredId> = HashMap::new();
        for (_, s) in &distinct.rows {
            let (payload, digest) = payload_and_digest(s);
            let done = sqlx::query(INSERT_HISTORY)
                .bind(s.event_id())
                .bind(micros(s.event_time()))
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
                let time = DateTime::from_timestamp_micros(time)
                    .ok_or_else(|| StoreError::Corrupt(format!("flight {}: event_time {time}", flight.as_str())))?;
                stored_keys.insert(flight.as_str().to_owned(), (time, event_id));
            }
        }
        let winners = newest_per_flight(new_rows.iter().map(|(_, s)| *s));
        let mut applied: HashSet<String> = HashSet::new();
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
            let done = q.bind(micros(s.event_time())).bind(s.event_id()).bind(removed).execute(&mut *tx).await?;
            if done.rows_affected() > 0 {
                applied.insert(id.as_str().to_owned());
            }
        }
        tx.commit().await?;
        let stored = new.len() as u64;
        Ok(WriteOutcome {
            stored,
            duplicates: batch.len() as u64 - stored - conflicting.len() as u64,
            superseded: count_superseded(&new_rows, &stored_keys, &applied),
            conflicting,
        })
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
