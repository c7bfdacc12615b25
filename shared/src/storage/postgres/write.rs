//! Batch writes on PostgreSQL, one transaction a batch: history by binary `COPY`, current state in one
//! array-bound upsert (UNNEST).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::{PgStore, copy, ledger};
use crate::deadletter::DeadLetter;
use crate::domain::{FlightId, Snapshot};
use crate::ledger::LedgerEntry;
use crate::storage::batch::{
    Distinct, OrderKey, StoredId, conflicting, count_superseded, distinct_events, flights_with_several,
    newest_per_flight,
};
use crate::storage::state::{self, Kind};
use crate::storage::{StoreError, StoredDeadLetter, WriteOutcome};

/// The `event_id`s of a batch already stored in any partition. The primary key has to include the partition
/// key, so it alone cannot see an id stored under another time. One array probe per partition index, not a
/// correlated sub-query per row: the latter re-runs executor setup for every row and every partition, and cost
/// more than the insert itself once a year of monthly partitions is kept. The digest comes back only for ids
/// already stored, so telling a redelivery from a reused id costs nothing for new events.
const STORED_EVENT_IDS: &str = "SELECT event_id, digest FROM flight_events WHERE event_id = ANY($1::text[])";

// The batch's new history rows go in by binary `COPY` (`copy::COPY_HISTORY`), inside the batch's
// transaction, sent in parts so the server inserts one while the next is encoded (`copy::send_history`).
// No `ON CONFLICT` is needed: `STORED_EVENT_IDS` already filtered them, and a concurrent writer of the same
// row makes the `COPY` fail with a unique violation instead, so the batch is retried (see `write_snapshots`).

/// Current state, newest `(event_time, event_id)` wins (see `state::conflict_clause`), all winners in one
/// statement: one array per column, unnested into rows. Returns the flights whose row it wrote (inserted
/// or updated), which tells the stored events that moved state.
static UPSERT_STATE: LazyLock<String> = LazyLock::new(|| {
    let columns = state::column_list();
    let mut select = Vec::with_capacity(state::COLUMNS.len());
    let mut arrays = Vec::with_capacity(state::COLUMNS.len());
    for (i, (name, kind)) in state::COLUMNS.iter().enumerate() {
        let (array, cast) = match kind {
            Kind::Text => ("text", ""),
            Kind::Date => ("date", ""),
            Kind::Time => ("timestamptz", ""),
            Kind::Float => ("float8", ""),
            Kind::Json => ("text", "::jsonb"),
            Kind::Flag => ("bool", ""),
        };
        select.push(format!("u.{name}{cast}"));
        arrays.push(format!("${}::{array}[]", i + 1));
    }
    format!(
        "INSERT INTO flights AS f ({columns})\nSELECT {}\nFROM UNNEST({}) AS u({columns})\n{}RETURNING f.flight_id",
        select.join(", "),
        arrays.join(", "),
        state::conflict_clause("f")
    )
});

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
    pub(crate) async fn write_snapshots(
        &self,
        batch: &[Snapshot],
        ledger: &[LedgerEntry],
    ) -> Result<WriteOutcome, StoreError> {
        let distinct = distinct_events(batch);
        let mut attempt = 1;
        loop {
            self.ensure_partitions(&distinct.rows).await?;
            match self.write_rows(batch, &distinct, ledger).await {
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

    /// Writes the batch's distinct events (sorted by id) and its ledger rows in one transaction.
    async fn write_rows(
        &self,
        batch: &[Snapshot],
        distinct: &Distinct<'_>,
        ledger: &[LedgerEntry],
    ) -> Result<WriteOutcome, StoreError> {
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
        if new.is_empty() {
            let ledger_gaps = ledger::write(&mut tx, ledger, &[], &conflicting).await?;
            tx.commit().await?;
            let duplicates = batch.len() as u64 - conflicting.len() as u64;
            return Ok(WriteOutcome { stored: 0, duplicates, superseded: 0, conflicting, ledger_gaps });
        }
        // Only new events move current state: a duplicate changes nothing, whatever it carries. The state
        // rows are made ready while the server writes the last part of the history.
        let several;
        let winners;
        let columns = {
            let mut copy_in = tx.copy_in_raw(copy::COPY_HISTORY).await?;
            let rows: Vec<&Snapshot> = new.iter().map(|(_, s)| *s).collect();
            copy::send_history(&mut copy_in, &rows).await?;
            several = flights_with_several(&new);
            winners = newest_per_flight(new.iter().map(|(_, s)| *s));
            let mut columns = StateArrays::with_capacity(winners.len());
            for (id, s) in &winners {
                state::fill(&mut columns, id, s);
            }
            copy_in.finish().await?;
            columns
        };
        if columns.misaligned {
            return Err(StoreError::Corrupt("state rows out of column order (a bug of the write path)".into()));
        }

        // Flights with several new events: their state as it was, to tell which of them came too late.
        let mut stored_keys: HashMap<String, OrderKey> = HashMap::new();
        if !several.is_empty() {
            let ids: Vec<&str> = several.iter().map(FlightId::as_str).collect();
            let rows: Vec<(String, DateTime<Utc>, String)> =
                sqlx::query_as(STATE_KEYS).bind(&ids).fetch_all(&mut *tx).await?;
            stored_keys.extend(rows.into_iter().map(|(flight, time, event_id)| (flight, (time, event_id))));
        }
        let mut applied: HashSet<String> = HashSet::new();
        if !winners.is_empty() {
            let mut q = sqlx::query_scalar(UPSERT_STATE.as_str());
            for column in &columns.arrays {
                q = match column {
                    Array::Text(v) => q.bind(v),
                    Array::Date(v) => q.bind(v),
                    Array::Time(v) => q.bind(v),
                    Array::Float(v) => q.bind(v),
                    Array::Json(v) => q.bind(v),
                    Array::Flag(v) => q.bind(v),
                };
            }
            let written: Vec<String> = q.fetch_all(&mut *tx).await?;
            applied.extend(written);
        }
        let mut new_indices: Vec<usize> = new.iter().map(|(i, _)| *i).collect();
        new_indices.sort_unstable();
        let ledger_gaps = ledger::write(&mut tx, ledger, &new_indices, &conflicting).await?;
        tx.commit().await?;
        let stored = new.len() as u64;
        Ok(WriteOutcome {
            stored,
            duplicates: batch.len() as u64 - stored - conflicting.len() as u64,
            superseded: count_superseded(&new, &stored_keys, &applied),
            conflicting,
            ledger_gaps,
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

/// One array of values per state column, in [`state::COLUMNS`] order: the upsert's parameters.
enum Array<'a> {
    Text(Vec<Option<&'a str>>),
    Date(Vec<Option<NaiveDate>>),
    Time(Vec<Option<DateTime<Utc>>>),
    Float(Vec<Option<f64>>),
    Json(Vec<Option<String>>),
    Flag(Vec<bool>),
}

/// Collects state rows column-wise: the `n`th value of a row goes to the `n`th array.
struct StateArrays<'a> {
    arrays: Vec<Array<'a>>,
    next: usize,
    /// Set when a value arrived for an array of another kind: the arrays no longer line up as rows.
    misaligned: bool,
}

impl<'a> StateArrays<'a> {
    fn with_capacity(rows: usize) -> Self {
        let arrays = state::COLUMNS
            .iter()
            .map(|(_, kind)| match kind {
                Kind::Text => Array::Text(Vec::with_capacity(rows)),
                Kind::Date => Array::Date(Vec::with_capacity(rows)),
                Kind::Time => Array::Time(Vec::with_capacity(rows)),
                Kind::Float => Array::Float(Vec::with_capacity(rows)),
                Kind::Json => Array::Json(Vec::with_capacity(rows)),
                Kind::Flag => Array::Flag(Vec::with_capacity(rows)),
            })
            .collect();
        Self { arrays, next: 0, misaligned: false }
    }

    /// The array the next value belongs to; the cursor wraps at the end of a row.
    fn next_array(&mut self) -> Option<&mut Array<'a>> {
        let i = self.next;
        self.next = (i + 1) % self.arrays.len();
        self.arrays.get_mut(i)
    }
}

/// `state::fill` sends the values in the columns' declared order and kinds (its test checks both). A value
/// of another kind than its array would be a bug of this file; it marks the arrays misaligned, and the
/// upsert refuses them rather than let `UNNEST` pad short arrays with nulls.
macro_rules! push_to {
    ($self:ident, $variant:ident, $v:expr) => {{
        match $self.next_array() {
            Some(Array::$variant(a)) => a.push($v),
            _ => $self.misaligned = true,
        }
    }};
}

impl<'a> state::Sink<'a> for StateArrays<'a> {
    fn text(&mut self, v: Option<&'a str>) {
        push_to!(self, Text, v)
    }
    fn date(&mut self, v: Option<NaiveDate>) {
        push_to!(self, Date, v)
    }
    fn time(&mut self, v: Option<DateTime<Utc>>) {
        push_to!(self, Time, v)
    }
    fn float(&mut self, v: Option<f64>) {
        push_to!(self, Float, v)
    }
    fn json(&mut self, v: Option<String>) {
        push_to!(self, Json, v)
    }
    fn flag(&mut self, v: bool) {
        push_to!(self, Flag, v)
    }
}
