//! Batch writes on PostgreSQL: a whole batch in a few array-bound statements (UNNEST), one transaction.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::{PgStore, copy};
use crate::deadletter::DeadLetter;
use crate::domain::{FlightId, Snapshot};
use crate::storage::batch::{
    Distinct, OrderKey, StoredId, conflicting, count_superseded, distinct_events, flights_with_several,
    newest_per_flight,
};
use crate::storage::sql::state_conflict_clause;
use crate::storage::{StoreError, StoredDeadLetter, WriteOutcome};

/// The `event_id`s of a batch already stored in any partition. The primary key has to include the partition
/// key, so it alone cannot see an id stored under another time. One array probe per partition index, not a
/// correlated sub-query per row: the latter re-runs executor setup for every row and every partition, and cost
/// more than the insert itself once a year of monthly partitions is kept. The digest comes back only for ids
/// already stored, so telling a redelivery from a reused id costs nothing for new events.
const STORED_EVENT_IDS: &str = "SELECT event_id, digest FROM flight_events WHERE event_id = ANY($1::text[])";

// The batch's new history rows go in by binary `COPY` (`copy::COPY_HISTORY`), inside the batch's
// transaction. No `ON CONFLICT` is needed: `STORED_EVENT_IDS` already filtered them, and a concurrent writer
// of the same row makes the `COPY` fail with a unique violation instead, so the batch is retried (see
// `write_snapshots`).

/// The insert half of the state upsert; the conflict clause is shared with the other engine.
const INSERT_STATE: &str = r#"
INSERT INTO flights AS f (
    flight_id, carrier, number, date, origin, destination, status,
    scheduled_departure, scheduled_arrival, estimated_departure, estimated_arrival, actual_departure, actual_arrival,
    departure_delay_minutes, arrival_delay_minutes, tail_number, gate, terminal, position,
    event_time, event_id, removed)
SELECT u.flight_id, u.carrier, u.number, u.date, u.origin, u.destination, u.status,
    u.sd, u.sa, u.ed, u.ea, u.ad, u.aa, u.dep_delay, u.arr_delay, u.tail, u.gate, u.terminal, u.position::jsonb,
    u.event_time, u.event_id, u.removed
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::text[], $7::text[],
    $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
    $13::timestamptz[], $14::float8[], $15::float8[], $16::text[], $17::text[], $18::text[], $19::text[],
    $20::timestamptz[], $21::text[], $22::bool[])
    AS u(flight_id, carrier, number, date, origin, destination, status, sd, sa, ed, ea, ad, aa, dep_delay, arr_delay,
         tail, gate, terminal, position, event_time, event_id, removed)
"#;

/// Current state, newest `(event_time, event_id)` wins (see `state_conflict_clause`); returns the flights
/// whose row it wrote (inserted or updated), which tells the stored events that moved state.
static UPSERT_STATE: LazyLock<String> =
    LazyLock::new(|| format!("{INSERT_STATE}{}RETURNING f.flight_id", state_conflict_clause("f")));

/// The state rows' order keys of some flights, read before the upsert changes them.
const STATE_KEYS: &str = "SELECT flight_id, event_time, event_id FROM flights WHERE flight_id = ANY($1::text[])";

const INSERT_DEAD_LETTERS: &str = r#"
INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, reason, letter, dead_lettered_at)
SELECT d.topic, d.kafka_partition, d.kafka_offset, d.reason, d.letter::jsonb, d.at
FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::timestamptz[])
    AS d(topic, kafka_partition, kafka_offset, reason, letter, at)
ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING
"#;

/// SQLSTATE of "no partition of relation found for row": a partition this store believed in was dropped.
const NO_PARTITION: &str = "23514";
/// SQLSTATE of a unique violation: a concurrent writer stored the same (event_id, event_time) first.
const UNIQUE_VIOLATION: &str = "23505";
/// A batch is tried again (in a new transaction) at most this often after one of the two errors above.
const MAX_ATTEMPTS: u32 = 3;

impl PgStore {
    pub(crate) async fn write_snapshots(&self, batch: &[Snapshot]) -> Result<WriteOutcome, StoreError> {
        let distinct = distinct_events(batch);
        let mut attempt = 1;
        loop {
            self.ensure_partitions(&distinct.rows).await?;
            match self.write_rows(batch, &distinct).await {
                Ok(outcome) => return Ok(outcome),
                Err(StoreError::Query(sqlx::Error::Database(e))) if attempt < MAX_ATTEMPTS => {
                    match e.code().as_deref() {
                        // Retention ran elsewhere since this store cached its partitions: forget them.
                        Some(NO_PARTITION) => self.forget_partitions(),
                        // Another writer committed some of these events first; they are duplicates now.
                        Some(UNIQUE_VIOLATION) => {}
                        _ => return Err(StoreError::Query(sqlx::Error::Database(e))),
                    }
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes the batch's distinct events (sorted by id) in one transaction.
    async fn write_rows(&self, batch: &[Snapshot], distinct: &Distinct<'_>) -> Result<WriteOutcome, StoreError> {
        let ids: Vec<&str> = distinct.rows.iter().map(|(_, s)| s.event_id()).collect();
        let mut tx = self.pool.begin().await?;
        let found: Vec<(String, Option<Vec<u8>>)> =
            sqlx::query_as(STORED_EVENT_IDS).bind(&ids).fetch_all(&mut *tx).await?;
        drop(ids);
        let stored: HashMap<String, StoredId> =
            found.into_iter().map(|(id, digest)| (id, StoredId::from_column(digest))).collect();
        let new: Vec<(usize, &Snapshot)> = if stored.is_empty() {
            distinct.rows.clone()
        } else {
            distinct.rows.iter().copied().filter(|(_, s)| !stored.contains_key(s.event_id())).collect()
        };
        let conflicting = conflicting(batch, distinct, &stored);
        if !new.is_empty() {
            let rows = copy::history_rows(new.iter().map(|(_, s)| *s));
            let mut copy_in = tx.copy_in_raw(copy::COPY_HISTORY).await?;
            copy_in.send(rows).await?;
            copy_in.finish().await?;
        }

        // Only new events move current state: a duplicate changes nothing, whatever it carries.
        // Flights with several new events: their state as it was, to tell which of them came too late.
        let several = flights_with_several(&new);
        let mut stored_keys: HashMap<String, OrderKey> = HashMap::new();
        if !several.is_empty() {
            let ids: Vec<&str> = several.iter().map(FlightId::as_str).collect();
            let rows: Vec<(String, DateTime<Utc>, String)> =
                sqlx::query_as(STATE_KEYS).bind(&ids).fetch_all(&mut *tx).await?;
            stored_keys.extend(rows.into_iter().map(|(flight, time, event_id)| (flight, (time, event_id))));
        }
        let winners = newest_per_flight(new.iter().map(|(_, s)| *s));
        let mut applied: HashSet<String> = HashSet::new();
        if !winners.is_empty() {
            let s = StateColumns::new(&winners);
            let written: Vec<String> = sqlx::query_scalar(UPSERT_STATE.as_str())
                .bind(&s.flight_id)
                .bind(&s.carrier)
                .bind(&s.number)
                .bind(&s.date)
                .bind(&s.origin)
                .bind(&s.destination)
                .bind(&s.status)
                .bind(&s.scheduled_departure)
                .bind(&s.scheduled_arrival)
                .bind(&s.estimated_departure)
                .bind(&s.estimated_arrival)
                .bind(&s.actual_departure)
                .bind(&s.actual_arrival)
                .bind(&s.departure_delay)
                .bind(&s.arrival_delay)
                .bind(&s.tail_number)
                .bind(&s.gate)
                .bind(&s.terminal)
                .bind(&s.position)
                .bind(&s.event_time)
                .bind(&s.event_id)
                .bind(&s.removed)
                .fetch_all(&mut *tx)
                .await?;
            applied.extend(written);
        }
        tx.commit().await?;
        let stored = new.len() as u64;
        Ok(WriteOutcome {
            stored,
            duplicates: batch.len() as u64 - stored - conflicting.len() as u64,
            superseded: count_superseded(&new, &stored_keys, &applied),
            conflicting,
        })
    }

    /// Creates the month partitions the rows need, in its own short transaction (the DDL takes a strong
    /// lock on the parent table; holding it through the batch would stall every other writer and reader).
    async fn ensure_partitions(&self, rows: &[(usize, &Snapshot)]) -> Result<(), StoreError> {
        let missing: Vec<DateTime<Utc>> = {
            let known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
            let mut months = HashSet::new();
            rows.iter()
                .map(|(_, s)| s.event_time())
                .filter(|t| !known.contains(&month(t)) && months.insert(month(t)))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT contrail_ensure_event_partition(t) FROM UNNEST($1::timestamptz[]) AS t")
            .bind(&missing)
            .execute(&self.pool)
            .await?;
        let mut known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        known.extend(missing.iter().map(month));
        Ok(())
    }

    pub(super) fn forget_partitions(&self) {
        self.partitions.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) async fn put_dead_letters(&self, letters: &[DeadLetter]) -> Result<u64, StoreError> {
        let topic: Vec<&str> = letters.iter().map(|l| l.topic.as_str()).collect();
        let partition: Vec<i64> = letters.iter().map(|l| l.partition).collect();
        let offset: Vec<i64> = letters.iter().map(|l| l.offset).collect();
        let reason: Vec<&str> = letters.iter().map(|l| l.reason.as_str()).collect();
        let letter: Vec<String> = letters.iter().map(DeadLetter::to_json).collect();
        let at: Vec<DateTime<Utc>> = letters.iter().map(|l| l.dead_lettered_at).collect();
        let done = sqlx::query(INSERT_DEAD_LETTERS)
            .bind(&topic)
            .bind(&partition)
            .bind(&offset)
            .bind(&reason)
            .bind(&letter)
            .bind(&at)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn list_dead_letters(&self, limit: u32) -> Result<Vec<StoredDeadLetter>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, letter::text FROM dead_letters ORDER BY id LIMIT $1")
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
        let done = sqlx::query("DELETE FROM dead_letters WHERE id = ANY($1)").bind(ids).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}

/// The (year, month) of the partition holding `t` (partitions are by UTC month).
fn month(t: &DateTime<Utc>) -> (i32, u32) {
    (t.year(), t.month())
}

/// Current-state rows as column arrays (the newest snapshot per flight).
#[derive(Default)]
struct StateColumns<'a> {
    flight_id: Vec<&'a str>,
    carrier: Vec<Option<&'a str>>,
    number: Vec<Option<&'a str>>,
    date: Vec<Option<NaiveDate>>,
    origin: Vec<Option<&'a str>>,
    destination: Vec<Option<&'a str>>,
    status: Vec<Option<&'static str>>,
    scheduled_departure: Vec<Option<DateTime<Utc>>>,
    scheduled_arrival: Vec<Option<DateTime<Utc>>>,
    estimated_departure: Vec<Option<DateTime<Utc>>>,
    estimated_arrival: Vec<Option<DateTime<Utc>>>,
    actual_departure: Vec<Option<DateTime<Utc>>>,
    actual_arrival: Vec<Option<DateTime<Utc>>>,
    departure_delay: Vec<Option<f64>>,
    arrival_delay: Vec<Option<f64>>,
    tail_number: Vec<Option<&'a str>>,
    gate: Vec<Option<&'a str>>,
    terminal: Vec<Option<&'a str>>,
    position: Vec<Option<String>>,
    event_time: Vec<DateTime<Utc>>,
    event_id: Vec<&'a str>,
    removed: Vec<bool>,
}

impl<'a> StateColumns<'a> {
    fn new(winners: &'a [(FlightId, &'a Snapshot)]) -> Self {
        let mut c = Self::default();
        for (id, s) in winners {
            c.flight_id.push(id.as_str());
            c.event_time.push(s.event_time());
            c.event_id.push(s.event_id());
            match s {
                Snapshot::Event(e) => {
                    c.removed.push(false);
                    c.carrier.push(Some(e.carrier.as_str()));
                    c.number.push(Some(e.number.as_str()));
                    c.date.push(Some(e.date));
                    c.origin.push(Some(e.origin.as_str()));
                    c.destination.push(Some(e.destination.as_str()));
                    c.status.push(Some(e.status.as_str()));
                    c.scheduled_departure.push(Some(e.scheduled_departure));
                    c.scheduled_arrival.push(Some(e.scheduled_arrival));
                    c.estimated_departure.push(e.estimated_departure);
                    c.estimated_arrival.push(e.estimated_arrival);
                    c.actual_departure.push(e.actual_departure);
                    c.actual_arrival.push(e.actual_arrival);
                    c.departure_delay.push(e.departure_delay_minutes());
                    c.arrival_delay.push(e.arrival_delay_minutes());
                    c.tail_number.push(e.tail_number.as_deref());
                    c.gate.push(e.gate.as_deref());
                    c.terminal.push(e.terminal.as_deref());
                    c.position.push(e.position.as_ref().and_then(|p| serde_json::to_string(p).ok()));
                }
                Snapshot::Removal(_) => {
                    c.removed.push(true);
                    c.carrier.push(None);
                    c.number.push(None);
                    c.date.push(None);
                    c.origin.push(None);
                    c.destination.push(None);
                    c.status.push(None);
                    c.scheduled_departure.push(None);
                    c.scheduled_arrival.push(None);
                    c.estimated_departure.push(None);
                    c.estimated_arrival.push(None);
                    c.actual_departure.push(None);
                    c.actual_arrival.push(None);
                    c.departure_delay.push(None);
                    c.arrival_delay.push(None);
                    c.tail_number.push(None);
                    c.gate.push(None);
                    c.terminal.push(None);
                    c.position.push(None);
                }
            }
        }
        c
    }
}
