//! The event source mapping, locally: records gathered into batches of up to `batch_size` records or
//! `batch_window`, shaped exactly as the MSK event (base64 key and value, `topic-partition` groups),
//! handed to the ingest handler, and retried with backoff on a handler error without advancing.

use std::time::Duration;

use contrail_ingest::msk::{MskEvent, MskRecord};
use contrail_shared::storage::{Store, StoreError};
use contrail_simulator::partition_for;
use tokio::sync::{mpsc, watch};

use crate::functions::{Functions, IngestCounts};

/// The ARN the local mapping reports as its event source.
pub const LOCAL_SOURCE_ARN: &str =
    "arn:aws:kafka:local:000000000000:cluster/contrail-local/00000000-0000-0000-0000-000000000000-1";
/// Partitions of the simulated topic.
pub const LOCAL_PARTITIONS: u32 = 3;

/// Batching settings, as on the mapping.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub batch_size: usize,
    pub window: Duration,
}

/// One record headed for the handler, before base64.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp_ms: i64,
}

/// Assigns partitions and offsets to locally produced records, like a broker's log would.
///
/// Offsets come from the store's `local_log`, reserved a batch at a time in one transaction: each run
/// continues where the last one ended (the ingest ledger sees one contiguous log, so `contrail audit` finds
/// no gap between runs), and a replay next to a running `up` never takes the same offsets (dead letters,
/// keyed by coordinates, never collide). A partition's first offset is the current time in microseconds,
/// past any offset an older build, which numbered every run that way, may have used.
pub struct LocalLog {
    topic: String,
}

impl LocalLog {
    pub fn new(topic: impl Into<String>) -> Self {
        Self { topic: topic.into() }
    }

    /// Appends records; returns them placed on their partitions, in the order given within each.
    pub async fn place(&self, store: &Store, records: &[PendingRecord]) -> Result<Vec<MskRecord>, StoreError> {
        let partitions: Vec<i64> = records
            .iter()
            .map(|r| i64::from(r.key.as_deref().map_or(0, |k| partition_for(k, LOCAL_PARTITIONS))))
            .collect();
        let counts: Vec<(i64, i64)> = (0..i64::from(LOCAL_PARTITIONS))
            .map(|p| (p, partitions.iter().filter(|q| **q == p).count() as i64))
            .filter(|(_, n)| *n > 0)
            .collect();
        let start = chrono::Utc::now().timestamp_micros();
        let mut next = [0i64; LOCAL_PARTITIONS as usize];
        for (p, first) in store.reserve_local_offsets(&self.topic, &counts, start).await? {
            if let Some(slot) = usize::try_from(p).ok().and_then(|p| next.get_mut(p)) {
                *slot = first;
            }
        }
        Ok(records
            .iter()
            .zip(partitions)
            .map(|(r, p)| {
                let offset = next[p as usize];
                next[p as usize] += 1;
                MskRecord::new(&self.topic, p, offset, r.timestamp_ms, r.key.as_deref(), r.value.as_deref())
            })
            .collect())
    }
}

/// Builds the event the mapping would send for these records.
pub fn event_for(records: Vec<MskRecord>) -> MskEvent {
    let mut event = MskEvent::from_records(LOCAL_SOURCE_ARN, records);
    event.bootstrap_servers = "localhost:9092".to_owned();
    event
}

/// Invokes the ingest handler until it succeeds, backing off from 200 ms to 10 s between attempts.
/// Returns `None` if shutdown was requested while the batch kept failing (nothing advanced).
pub async fn deliver(
    functions: &Functions,
    event: &MskEvent,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<IngestCounts> {
    retrying("ingest handler", shutdown, async || functions.ingest(event).await).await
}

/// Places a batch on the local log (offsets reserved in the store), retried like [`deliver`] while the
/// database is down.
pub async fn place(
    log: &LocalLog,
    store: &Store,
    records: &[PendingRecord],
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Vec<MskRecord>> {
    let reserve = async || log.place(store, records).await.map_err(anyhow::Error::from);
    retrying("reserving offsets in the local log", shutdown, reserve).await
}

/// Runs `step` until it succeeds, backing off from 200 ms to 10 s between attempts; `None` if shutdown
/// was requested while it kept failing.
async fn retrying<T>(
    what: &str,
    shutdown: &mut watch::Receiver<bool>,
    mut step: impl AsyncFnMut() -> anyhow::Result<T>,
) -> Option<T> {
    let mut backoff = Duration::from_millis(200);
    let mut attempt = 1u32;
    loop {
        match step().await {
            Ok(done) => return Some(done),
            Err(e) => {
                tracing::warn!(
                    attempt,
                    retry_in_ms = backoff.as_millis() as u64,
                    "{what} failed, batch will be retried: {e:#}"
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.wait_for(|s| *s) => {
                        tracing::warn!("shutting down with a failing batch; it was not committed");
                        return None;
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
        }
    }
}

/// Pulls up to `batch_size` records from `rx`, waiting at most the window after the first one.
/// Returns an empty batch when the channel closed or shutdown was requested before any record came.
pub async fn next_batch(
    rx: &mut mpsc::Receiver<PendingRecord>,
    batching: Batching,
    shutdown: &mut watch::Receiver<bool>,
) -> Vec<PendingRecord> {
    let mut batch = Vec::new();
    if *shutdown.borrow() {
        return batch;
    }
    tokio::select! {
        first = rx.recv() => match first {
            Some(r) => batch.push(r),
            None => return batch,
        },
        _ = shutdown.wait_for(|s| *s) => return batch,
    }
    let deadline = tokio::time::Instant::now() + batching.window;
    while batch.len() < batching.batch_size {
        tokio::select! {
            r = rx.recv() => match r {
                Some(r) => batch.push(r),
                None => break,
            },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_log_numbers_each_partition_on_from_where_the_last_batch_or_run_ended() {
        let db = contrail_testkit::store::sqlite().await;
        let recs: Vec<_> = (0..30)
            .map(|i| PendingRecord {
                key: Some(format!("k{i}").into_bytes()),
                value: Some(b"{}".to_vec()),
                timestamp_ms: 1,
            })
            .collect();
        let mut ends = std::collections::BTreeMap::new();
        // Two batches of one run, then a batch of a second run (another LocalLog over the same store).
        for log in [LocalLog::new("flight-data"), LocalLog::new("flight-data")] {
            for batch in [&recs[..20], &recs[20..]] {
                let event = event_for(log.place(&db.store, batch).await.unwrap());
                assert_eq!(event.record_count(), batch.len());
                for (group, records) in &event.records {
                    assert!(group.starts_with("flight-data-"));
                    for w in records.windows(2) {
                        assert_eq!(w[1].offset, w[0].offset + 1);
                    }
                    if let Some(end) = ends.insert(group.clone(), records.last().unwrap().offset) {
                        assert_eq!(records[0].offset, end + 1, "{group} continues where it ended");
                    }
                }
            }
        }
        assert_eq!(ends.len(), LOCAL_PARTITIONS as usize);
    }
}
