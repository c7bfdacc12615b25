//! The consistency ledger on PostgreSQL: the batch's rows in the batch's transaction, the gap check before
//! them, and the rows an audit reads.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::PgStore;
use crate::ledger::{LedgerEntry, LedgerGap, LedgerRow};
use crate::storage::{LedgerFilter, StoreError};

/// Each partition's highest ledger offset before this batch: one backward scan of the partition index each.
const LAST_OFFSETS: &str = r#"
SELECT b.topic, b.kafka_partition,
       (SELECT l.last_offset FROM ingest_ledger l
        WHERE l.topic = b.topic AND l.kafka_partition = b.kafka_partition
        ORDER BY l.last_offset DESC LIMIT 1)
FROM UNNEST($1::text[], $2::int8[]) AS b(topic, kafka_partition)
"#;

/// The batch's rows, all in one statement; the last of the transaction, so `committed_at` is its end.
const INSERT_LEDGER: &str = r#"
INSERT INTO ingest_ledger
    (topic, kafka_partition, first_offset, last_offset, records, stored, duplicates, dead_lettered, checksum, source)
SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[],
                     $9::bytea[], $10::text[])
"#;

const SELECT_LEDGER: &str = r#"
SELECT topic, kafka_partition, first_offset, last_offset, records, stored, duplicates, dead_lettered, checksum,
       source, committed_at
FROM ingest_ledger
WHERE ($1::text IS NULL OR topic = $1)
  AND (cardinality($2::int8[]) = 0 OR kafka_partition = ANY($2))
ORDER BY topic, kafka_partition, first_offset, id
"#;

/// Takes offsets on partitions `$2` of the local log, `$3` of each, in one statement; a new partition starts
/// at `$4`. Returns each partition's next offset after the reservation.
const RESERVE_LOCAL_OFFSETS: &str = r#"
INSERT INTO local_log AS l (topic, kafka_partition, next_offset)
SELECT $1, r.kafka_partition, $4 + r.count FROM UNNEST($2::int8[], $3::int8[]) AS r(kafka_partition, count)
ON CONFLICT (topic, kafka_partition) DO UPDATE SET next_offset = l.next_offset + (excluded.next_offset - $4)
RETURNING kafka_partition, next_offset
"#;

type Row = (String, i64, i64, i64, i64, i64, i64, i64, Vec<u8>, String, DateTime<Utc>);

/// Writes the batch's ledger rows inside `tx` and returns the partitions it finds a gap before. `new` and
/// `conflicting` are the batch indices stored as new events and refused (sorted).
pub(super) async fn write(
    tx: &mut PgConnection,
    entries: &[LedgerEntry],
    new: &[usize],
    conflicting: &[usize],
) -> Result<Vec<LedgerGap>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let topics: Vec<&str> = entries.iter().map(|e| e.topic.as_str()).collect();
    let partitions: Vec<i64> = entries.iter().map(|e| e.partition).collect();
    let last: Vec<(String, i64, Option<i64>)> =
        sqlx::query_as(LAST_OFFSETS).bind(&topics).bind(&partitions).fetch_all(&mut *tx).await?;
    // Matched by partition, not by position: nothing promises the rows come back in the arrays' order.
    let last: std::collections::HashMap<(String, i64), Option<i64>> =
        last.into_iter().map(|(topic, partition, before)| ((topic, partition), before)).collect();
    let gaps = entries
        .iter()
        .filter_map(|e| {
            let before = last.get(&(e.topic.clone(), e.partition)).copied().flatten();
            crate::ledger::gap_before(e, before)
        })
        .collect();

    let (mut stored, mut duplicates, mut dead_lettered) = (Vec::new(), Vec::new(), Vec::new());
    for e in entries {
        let (s, d, x) = e.counts(new, conflicting);
        stored.push(s as i64);
        duplicates.push(d as i64);
        dead_lettered.push(x as i64);
    }
    let int = |f: fn(&LedgerEntry) -> i64| entries.iter().map(f).collect::<Vec<i64>>();
    let checksums: Vec<&[u8]> = entries.iter().map(|e| e.checksum.as_slice()).collect();
    let sources: Vec<&str> = entries.iter().map(|e| e.source.as_str()).collect();
    sqlx::query(INSERT_LEDGER)
        .bind(&topics)
        .bind(&partitions)
        .bind(int(|e| e.first_offset))
        .bind(int(|e| e.last_offset))
        .bind(int(|e| e.records as i64))
        .bind(&stored)
        .bind(&duplicates)
        .bind(&dead_lettered)
        .bind(&checksums)
        .bind(&sources)
        .execute(&mut *tx)
        .await?;
    Ok(gaps)
}

impl PgStore {
    pub(crate) async fn reserve_local_offsets(
        &self,
        topic: &str,
        counts: &[(i64, i64)],
        start: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let (partitions, sizes): (Vec<i64>, Vec<i64>) = counts.iter().copied().unzip();
        let next: Vec<(i64, i64)> = sqlx::query_as(RESERVE_LOCAL_OFFSETS)
            .bind(topic)
            .bind(&partitions)
            .bind(&sizes)
            .bind(start)
            .fetch_all(&self.pool)
            .await?;
        crate::storage::model::first_offsets(counts, &next)
    }

    pub(crate) async fn ledger_rows(&self, filter: &LedgerFilter) -> Result<Vec<LedgerRow>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(SELECT_LEDGER)
            .bind(filter.topic.as_deref())
            .bind(&filter.partitions)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(from_row).collect()
    }
}

fn from_row(r: Row) -> Result<LedgerRow, StoreError> {
    let (topic, partition, first_offset, last_offset, records, stored, duplicates, dead_lettered, checksum, source, at) =
        r;
    crate::storage::model::ledger_row(
        topic,
        partition,
        (first_offset, last_offset),
        [records, stored, duplicates, dead_lettered],
        checksum,
        source,
        at,
    )
}
