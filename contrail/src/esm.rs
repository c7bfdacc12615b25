//! The event source mapping, locally: records gathered into batches of up to `batch_size` records or
//! `batch_window`, shaped exactly as the MSK event (base64 key and value, `topic-partition` groups),
//! handed to the ingest handler, and retried with backoff on a handler error without advancing.

use std::time::Duration;

use contrail_ingest::msk::{MskEvent, MskRecord};
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
/// Offsets start at the current time in microseconds, so two local runs (or a replay next to a
/// running `up`) never reuse an offset and dead letters, keyed by coordinates, never collide.
pub struct LocalLog {
    topic: String,
    next: Vec<i64>,
}

impl LocalLog {
    pub fn new(topic: impl Into<String>) -> Self {
        let base = chrono::Utc::now().timestamp_micros();
        Self { topic: topic.into(), next: vec![base; LOCAL_PARTITIONS as usize] }
    }

    /// Appends records; returns them placed on their partitions.
    pub fn place(&mut self, records: Vec<PendingRecord>) -> Vec<MskRecord> {
        records
            .into_iter()
            .map(|r| {
                let p = r.key.as_deref().map_or(0, |k| partition_for(k, LOCAL_PARTITIONS));
                let offset = self.next[p as usize];
                self.next[p as usize] += 1;
                MskRecord::new(&self.topic, i64::from(p), offset, r.timestamp_ms, r.key.as_deref(), r.value.as_deref())
            })
            .collect()
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
    let mut backoff = Duration::from_millis(200);
    let mut attempt = 1u32;
    loop {
        match functions.ingest(event).await {
            Ok(counts) => return Some(counts),
            Err(e) => {
                tracing::warn!(
                    attempt,
                    retry_in_ms = backoff.as_millis() as u64,
                    "ingest handler failed, batch will be retried: {e:#}"
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

    #[test]
    fn the_local_log_numbers_each_partition_from_its_own_offset() {
        let mut log = LocalLog::new("flight-data");
        let recs: Vec<_> = (0..30)
            .map(|i| PendingRecord {
                key: Some(format!("k{i}").into_bytes()),
                value: Some(b"{}".to_vec()),
                timestamp_ms: 1,
            })
            .collect();
        let placed = log.place(recs);
        let event = event_for(placed);
        assert_eq!(event.record_count(), 30);
        for (group, records) in &event.records {
            assert!(group.starts_with("flight-data-"));
            for w in records.windows(2) {
                assert_eq!(w[1].offset, w[0].offset + 1);
            }
        }
    }
}
