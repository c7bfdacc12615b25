//! History retention on PostgreSQL: monthly partitions past the horizon are detached, then dropped, one
//! statement at a time under a lock timeout, so that retention gives up (and tries again at the next cold
//! start) rather than holding ingest and reads behind its locks.
//!
//! A `DROP TABLE` of a partition needs an `ACCESS EXCLUSIVE` lock on `flight_events`; while it waits for
//! one (a long read, a batch in flight), every later statement on the table queues behind it. From
//! PostgreSQL 14 the partition is first detached `CONCURRENTLY`, which takes only `SHARE UPDATE EXCLUSIVE`
//! (no conflict with reads and writes) and then waits for the transactions that may still see the
//! partition; the detached table is dropped on its own, locking nothing that ingest or the API use. That
//! form cannot run in a transaction block or a function, hence statements from here rather than SQL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};

use super::PgStore;
use crate::storage::StoreError;

/// How long one retention statement may wait for a lock before it fails (PostgreSQL's `lock_timeout`).
/// It bounds how long retention can delay ingest or a read: on PostgreSQL 13 and older, where the detach
/// locks the table, the statements queued behind it wait at most this long.
pub const RETENTION_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// `DETACH PARTITION ... CONCURRENTLY` and `FINALIZE` exist from this server version on.
const CONCURRENT_DETACH_SINCE: i32 = 140_000;

/// The partitions of `flight_events` (named as `contrail_ensure_event_partition` names them), with their
/// upper bounds and whether a concurrent detach of them was interrupted (PostgreSQL 14 and later).
const PARTITIONS: &str = r#"
SELECT c.relname::text,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz,
       i.inhdetachpending
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'flight_events'::regclass AND c.relname ~ '^flight_events_[0-9]{4}_[0-9]{2}$'
ORDER BY 1
"#;

/// The same before PostgreSQL 14, which has no detach-pending state.
const PARTITIONS_BEFORE_14: &str = r#"
SELECT c.relname::text,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz,
       false
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'flight_events'::regclass AND c.relname ~ '^flight_events_[0-9]{4}_[0-9]{2}$'
ORDER BY 1
"#;

/// Month tables that are no longer partitions: a run that detached one and then timed out on its drop.
/// They must go too: `contrail_ensure_event_partition` would take one for the month's partition.
const DETACHED_LEFTOVERS: &str = r#"
SELECT c.relname::text,
       (to_date(substr(c.relname, 15), 'YYYY_MM') + interval '1 month')::timestamp AT TIME ZONE 'UTC'
FROM pg_class c
WHERE c.relkind = 'r' AND NOT c.relispartition
  AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
  AND c.relname ~ '^flight_events_[0-9]{4}_[0-9]{2}$'
ORDER BY 1
"#;

impl PgStore {
    /// Drops the history partitions that end at or before `keep_from`; returns how many went. Each
    /// statement gives up after [`RETENTION_LOCK_TIMEOUT`] (an error: the rest waits for the next run).
    pub(crate) async fn drop_history_before(&self, keep_from: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let result =
            match sqlx::query(AssertSqlSafe(format!("SET lock_timeout = '{}ms'", RETENTION_LOCK_TIMEOUT.as_millis())))
                .execute(&mut *conn)
                .await
            {
                Ok(_) => match drop_partitions_before(&mut conn, keep_from).await {
                    Ok(dropped) => drop_ledger_before(&mut conn, keep_from).await.map(|()| dropped),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e.into()),
            };
        // The pooled session must not keep the timeout; if it cannot be reset, it is not reused.
        if sqlx::query("RESET lock_timeout").execute(&mut *conn).await.is_err() {
            conn.close_on_drop();
        }
        drop(conn);
        self.forget_partitions();
        result
    }
}

async fn drop_partitions_before(conn: &mut PgConnection, keep_from: DateTime<Utc>) -> Result<u64, StoreError> {
    let version: i32 =
        sqlx::query_scalar("SELECT current_setting('server_version_num')::int").fetch_one(&mut *conn).await?;
    let concurrent = version >= CONCURRENT_DETACH_SINCE;
    let listing = if concurrent { PARTITIONS } else { PARTITIONS_BEFORE_14 };
    let mut partitions: Vec<(String, Option<DateTime<Utc>>, bool)> =
        sqlx::query_as(listing).fetch_all(&mut *conn).await?;
    // An interrupted detach first: until it is finished, no other partition can be detached concurrently.
    partitions.sort_by_key(|(_, _, pending)| !pending);
    let leftovers: Vec<(String, DateTime<Utc>)> = sqlx::query_as(DETACHED_LEFTOVERS).fetch_all(&mut *conn).await?;
    let expired = |upper: Option<DateTime<Utc>>| upper.is_some_and(|u| u <= keep_from);

    let mut dropped = 0;
    for (name, _) in leftovers.iter().filter(|(_, upper)| expired(Some(*upper))) {
        execute(conn, format!("DROP TABLE {}", quote_ident(name))).await?;
        tracing::info!(partition = %name, "dropped a history partition detached by an earlier run");
        dropped += 1;
    }
    for (name, upper, pending) in partitions.iter().filter(|(_, upper, _)| expired(*upper)) {
        let detach = if *pending {
            // An earlier concurrent detach was interrupted (its wait timed out): it can only be finished.
            "FINALIZE"
        } else if concurrent {
            "CONCURRENTLY"
        } else {
            ""
        };
        execute(conn, format!("ALTER TABLE flight_events DETACH PARTITION {} {detach}", quote_ident(name))).await?;
        execute(conn, format!("DROP TABLE {}", quote_ident(name))).await?;
        tracing::info!(partition = %name, upper_bound = ?upper, "dropped a history partition");
        dropped += 1;
    }
    Ok(dropped)
}

/// The ledger rows committed before `keep_from` go with the history they account for, but only as a prefix of
/// their partition: a row above a range kept (a late replay from the failure bucket) stays, or the audit would
/// see a gap between the replay and the next rows kept.
async fn drop_ledger_before(conn: &mut PgConnection, keep_from: DateTime<Utc>) -> Result<(), StoreError> {
    let done = sqlx::query(DROP_LEDGER_BEFORE).bind(keep_from).execute(&mut *conn).await?;
    tracing::info!(rows = done.rows_affected(), "dropped ledger rows past retention");
    Ok(())
}

const DROP_LEDGER_BEFORE: &str = r#"
WITH kept AS (
    SELECT topic, kafka_partition, min(first_offset) AS first_offset
    FROM ingest_ledger WHERE committed_at >= $1 GROUP BY topic, kafka_partition
)
DELETE FROM ingest_ledger
WHERE committed_at < $1
  AND NOT EXISTS (SELECT 1 FROM kept k
                  WHERE k.topic = ingest_ledger.topic AND k.kafka_partition = ingest_ledger.kafka_partition
                    AND ingest_ledger.last_offset >= k.first_offset)
"#;

async fn execute(conn: &mut PgConnection, statement: String) -> Result<(), StoreError> {
    sqlx::query(AssertSqlSafe(statement)).execute(&mut *conn).await?;
    Ok(())
}

/// An identifier quoted for SQL (the names are already restricted to `flight_events_YYYY_MM`).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
