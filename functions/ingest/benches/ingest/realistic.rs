//! The realistic feed: the simulator's event mix at the scale of a US-wide feed (1,800 departures an
//! hour, a position a minute while airborne), keyed and partitioned as a producer would, and the Python
//! sink a user would otherwise write, run on the same events.

use std::collections::HashMap;
use std::io::Write as _;

use anyhow::{Context as _, Result, bail};
use chrono::{Duration, Utc};
use contrail_ingest::{MskEvent, MskRecord};
use contrail_simulator::{FeedFaults, Positions, Simulator, partition_for};
use serde_json::Value;

use super::{PARTITIONS, Run, TOPIC};

/// Departures per simulated hour: about the US-wide traffic of a working day.
pub const FLIGHTS_PER_HOUR: u32 = 1_800;
/// Simulated time before the measured events, so flights are in every phase of their lives (the first
/// departures come five hours after the simulator's start; two more hours fill the sky).
const WARM_UP: Duration = Duration::hours(7);

/// The feed: a warm-up (stored before the clock starts) and the measured batches.
pub struct Feed {
    pub warm_up: Vec<MskEvent>,
    pub measured: Vec<MskEvent>,
    /// Share of the measured events whose status differs from their flight's previous event.
    pub status_changes: f64,
    /// Distinct flights per measured batch, on average: the state rows a batch writes.
    pub flights_per_batch: f64,
    /// The simulated time the measured events cover: the feed's own rate is their count over it.
    pub simulated: Duration,
}

/// `events` measured events of the simulator without faults, in `batch`-record MSK batches.
pub fn feed(events: usize, batch: usize) -> Feed {
    let start = Utc::now() - Duration::days(3);
    let mut sim = Simulator::new(17, start)
        .with_faults(FeedFaults { duplicate: 0.0, late: 0.0, poison: 0.0 })
        .with_positions(Positions::Every(1.0))
        .with_flights_per_hour(FLIGHTS_PER_HOUR);
    let mut partitions = Partitioner::default();
    let mut last_status: HashMap<Vec<u8>, String> = HashMap::new();
    let mut pull = |sim: &mut Simulator, measured: bool, changes: &mut usize| {
        let r = sim.next_record();
        let key = r.key.unwrap_or_default();
        let value = r.value.unwrap_or_default();
        let status = serde_json::from_slice::<Value>(&value).ok().and_then(|v| v["status"].as_str().map(str::to_owned));
        if let Some(status) = status {
            let previous = last_status.insert(key.clone(), status.clone());
            *changes += usize::from(measured && previous.is_some_and(|p| p != status));
        }
        partitions.record(key, value)
    };
    // Of the warm-up, each flight's newest record only: current state as the full prefix would leave it
    // (the rows the measured events update) without ingesting the two million events before it.
    let mut ignored = 0;
    let mut newest: HashMap<Option<String>, (usize, MskRecord)> = HashMap::new();
    let mut seq = 0;
    while sim.clock() < start + WARM_UP {
        let r = pull(&mut sim, false, &mut ignored);
        seq += 1;
        newest.insert(r.key.clone(), (seq, r));
    }
    let mut warm: Vec<(usize, MskRecord)> = newest.into_values().collect();
    warm.sort_unstable_by_key(|(seq, _)| *seq);
    let warm: Vec<MskRecord> = warm.into_iter().map(|(_, r)| r).collect();
    let mut changes = 0;
    let first = sim.clock();
    let measured: Vec<MskRecord> = (0..events).map(|_| pull(&mut sim, true, &mut changes)).collect();
    let simulated = sim.clock() - first;
    let group = |records: Vec<MskRecord>| -> Vec<MskEvent> {
        records
            .chunks(batch)
            .map(|c| MskEvent::from_records("arn:aws:kafka:us-east-1:123456789012:cluster/bench/1", c.to_vec()))
            .collect()
    };
    let measured = group(measured);
    let flights: usize = measured.iter().map(distinct_keys).sum();
    Feed {
        warm_up: group(warm),
        status_changes: changes as f64 / events.max(1) as f64,
        flights_per_batch: flights as f64 / measured.len().max(1) as f64,
        simulated,
        measured,
    }
}

pub fn distinct_keys(e: &MskEvent) -> usize {
    let mut keys: Vec<&str> = e.iter_records().filter_map(|r| r.key.as_deref()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len()
}

/// Kafka's placement: a partition by the key (the default partitioner), offsets counted per partition.
#[derive(Default)]
struct Partitioner {
    next_offset: HashMap<i64, i64>,
    records: i64,
}

impl Partitioner {
    fn record(&mut self, key: Vec<u8>, value: Vec<u8>) -> MskRecord {
        let partition = i64::from(partition_for(&key, PARTITIONS as u32));
        let offset = self.next_offset.entry(partition).or_insert(0);
        *offset += 1;
        self.records += 1;
        let at = Utc::now().timestamp_millis() + self.records;
        MskRecord::new(TOPIC, partition, *offset, at, Some(&key), Some(&value))
    }
}

/// The conventional sink (`bench/ingest_peer.py`: psycopg, `executemany` per batch) on `url`, a database
/// migrated with Contrail's schema so both write to the same tables and indexes. `None` when no Python
/// with psycopg is configured (`BENCH_PYTHON`, set by `bench/ingest.sh`).
pub fn peer(url: &str, feed: &Feed) -> Result<Option<Run>> {
    let Ok(python) = std::env::var("BENCH_PYTHON") else { return Ok(None) };
    let mut file = tempfile::NamedTempFile::new()?;
    let mut write = |events: &[MskEvent], phase: &str| -> Result<()> {
        for e in events {
            let records: Vec<(String, String)> =
                e.iter_records().map(|r| (text(r.key.as_deref()), text(r.value.as_deref()))).collect();
            writeln!(file, "{}", serde_json::json!({ "phase": phase, "records": records }))?;
        }
        Ok(())
    };
    write(&feed.warm_up, "warm_up")?;
    write(&feed.measured, "measured")?;
    file.flush()?;
    let script = contrail_testkit::workspace_root().join("bench/ingest_peer.py");
    let out = std::process::Command::new(python).arg(script).arg(url).arg(file.path()).output()?;
    if !out.status.success() {
        bail!("the Python sink failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let result: Value = serde_json::from_slice(&out.stdout).context("the Python sink's report")?;
    let (Some(records), Some(secs)) = (result["records"].as_u64(), result["secs"].as_f64()) else {
        bail!("unexpected report from the Python sink: {result}");
    };
    Ok(Some(Run { records, secs }))
}

/// A base64 record field back to its text (the simulator writes UTF-8 JSON and ids).
fn text(b64: Option<&str>) -> String {
    use base64::Engine as _;
    let bytes = b64.and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()).unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The measured batches as `writers` ingest instances would receive them: each batch split by key the way
/// Kafka's default partitioner fills a topic of that many partitions (the event source mapping runs one
/// poller, so one instance, per partition). Every flight stays with one writer, and a writer's batch covers
/// the same stretch of the feed as the single writer's, so together they write as many state rows per record
/// as it does, in batches a third the size.
pub fn per_partition(feed: &Feed, writers: u32) -> Vec<Vec<MskEvent>> {
    use base64::Engine as _;
    let mut streams: Vec<Vec<MskEvent>> = vec![Vec::new(); writers as usize];
    for batch in &feed.measured {
        let mut parts: Vec<Vec<MskRecord>> = vec![Vec::new(); writers as usize];
        for r in batch.iter_records() {
            let key = r.key.as_deref().and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok());
            parts[partition_for(&key.unwrap_or_default(), writers) as usize].push(r.clone());
        }
        for (stream, part) in streams.iter_mut().zip(parts) {
            stream.push(MskEvent::from_records("arn:aws:kafka:us-east-1:123456789012:cluster/bench/1", part));
        }
    }
    streams
}
