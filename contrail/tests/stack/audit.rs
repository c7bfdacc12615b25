//! The consistency audit end to end: records produced to a real Kafka-protocol broker (librdkafka's mock
//! cluster, in this process), consumed by `up --kafka` through a crash, then `audit --kafka` against the
//! topic's own records. Then loss on purpose, twice: a ledger range and its history deleted, and a batch fed
//! with one record missing; the audit names exactly those partitions and ranges.
//!
//! The mock cluster cannot compact a topic, and it writes no transaction markers (a committed transaction
//! takes no offset there: tried), so no offset of its topics is ever empty. The empty offsets compaction and
//! markers leave are covered by the ledger's unit tests (`contrail_shared::ledger`), a stand-in for a real
//! compacted topic; tombstones are produced and accounted for here.

#![cfg(feature = "kafka")]

use std::collections::HashMap;
use std::time::Duration;

use crate::common::*;
use contrail_ingest::{MskEvent, MskRecord};
use contrail_testkit::flight::FlightEvent;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Value, json};

const TOPIC: &str = "flight-data";
const GROUP: &str = "contrail-audit-e2e";
const RECORDS: usize = 20_000;

/// A record to produce: partition, key, value (`None` for a tombstone), and the event id it carries.
struct Produced {
    partition: i32,
    key: String,
    value: Option<String>,
    event_id: Option<String>,
}

/// 20,000 records over 3 partitions: 2,000 flights of 10 records each, a flight's records on one partition in
/// order. Every 101st record is poison, every 97th repeats its flight's previous event (a duplicate), and
/// every 50th flight ends with a tombstone.
fn feed() -> Vec<Produced> {
    let statuses = ["scheduled", "boarding", "delayed"];
    let mut out: Vec<Produced> = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let (flight, n) = (i / 10, i % 10);
        let event = FlightEvent::new(
            &format!("audit-{flight}-{n}"),
            &format!("UA{}", 1000 + flight),
            statuses[n % statuses.len()],
            &format!("2026-11-20T06:{n:02}:00Z"),
        )
        .date("2026-11-20")
        .with("scheduled_departure", json!("2026-11-20T08:00:00Z"))
        .with("scheduled_arrival", json!("2026-11-20T12:00:00Z"));
        let key = event.flight_id();
        let partition = (flight % 3) as i32;
        let record = if i % 101 == 100 {
            Produced { partition, key, value: Some("{not json".into()), event_id: None }
        } else if i % 97 == 96 && n > 0 && out[i - 1].event_id.is_some() {
            let previous = &out[i - 1];
            Produced { partition, key, value: previous.value.clone(), event_id: previous.event_id.clone() }
        } else if flight % 50 == 0 && n == 9 {
            Produced { partition, key, value: None, event_id: None }
        } else {
            Produced { partition, key, value: Some(event.to_string()), event_id: Some(event.event_id.clone()) }
        };
        out.push(record);
    }
    out
}

/// Produces the records in order, idempotently (so each partition's offsets follow the order sent), and
/// returns each record's (partition, offset).
fn produce(brokers: &str, records: &[Produced]) -> Vec<(i32, i64)> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let mut next: HashMap<i32, i64> = HashMap::new();
    let start = high_watermarks(brokers);
    let mut placed = Vec::with_capacity(records.len());
    for r in records {
        let mut record = BaseRecord::<str, str>::to(TOPIC).partition(r.partition).key(r.key.as_str());
        if let Some(v) = &r.value {
            record = record.payload(v.as_str());
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    producer.poll(Duration::from_millis(20));
                    record = back;
                }
                Err((e, _)) => panic!("producing: {e}"),
            }
        }
        producer.poll(Duration::ZERO);
        let offset = next.entry(r.partition).or_insert(start[r.partition as usize]);
        placed.push((r.partition, *offset));
        *offset += 1;
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let end = high_watermarks(brokers);
    for (p, n) in &next {
        assert_eq!(end[*p as usize], *n, "partition {p}: offsets follow the order sent");
    }
    placed
}

fn high_watermarks(brokers: &str) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).create().expect("consumer");
    (0..3).map(|p| consumer.fetch_watermarks(TOPIC, p, Duration::from_secs(10)).expect("watermarks").1).collect()
}

fn committed_total(brokers: &str) -> i64 {
    committed_offsets(brokers, TOPIC, GROUP, 3)
}

/// `contrail invoke ingest` on `event`, written to `name` in `dir`; it must succeed.
fn invoke_ingest(dir: &std::path::Path, name: &str, event: &MskEvent) {
    let file = dir.join(name);
    std::fs::write(&file, serde_json::to_string(event).unwrap()).unwrap();
    let out = run(dir, &["invoke", "ingest", "--event", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn span(v: &Value) -> (i64, i64) {
    (v["first_offset"].as_i64().unwrap(), v["last_offset"].as_i64().unwrap())
}

/// Runs `work` on the stack's SQLite database in `dir`.
fn with_db<T>(dir: &std::path::Path, work: impl AsyncFnOnce(&sqlx::SqlitePool) -> T) -> T {
    let url = format!("sqlite://{}", dir.join(".contrail/contrail.db").display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let out = work(&pool).await;
        pool.close().await;
        out
    })
}

fn sqlite(dir: &std::path::Path, statements: &[String]) {
    with_db(dir, async |pool| {
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone())).execute(pool).await.unwrap();
        }
    })
}

fn ledger_rows(dir: &std::path::Path, partition: i64) -> Vec<(i64, i64)> {
    with_db(dir, async |pool| {
        sqlx::query_as(
            "SELECT first_offset, last_offset FROM ingest_ledger WHERE kafka_partition = ?1 ORDER BY first_offset, id",
        )
        .bind(partition)
        .fetch_all(pool)
        .await
        .unwrap()
    })
}

#[test]
fn every_offset_is_accounted_for_through_a_crash_and_loss_made_on_purpose_is_named_exactly() {
    let (_cluster, brokers) = mock_topic(TOPIC);
    let dir = workdir();
    let records = feed();
    let placed = produce(&brokers, &records);

    // Consume through a crash (SIGKILL, mid-stream): whatever was stored but not committed is redelivered.
    let kafka_args = [
        "--kafka",
        brokers.as_str(),
        "--topic",
        TOPIC,
        "--group",
        GROUP,
        "--batch-size",
        "500",
        "--batch-window",
        "100",
    ];
    let mut stack = Stack::start(dir.path(), &kafka_args);
    eventually(120, "a first part committed", || (committed_total(&brokers) >= 5_000).then_some(()));
    stack.child.kill().expect("killing the stack");
    let _ = stack.child.wait();
    drop(stack);
    let stack = Stack::start(dir.path(), &kafka_args);
    eventually(180, "every record committed", || (committed_total(&brokers) == RECORDS as i64).then_some(()));
    stack.stop();

    let (ok, partitions, err) = audit_json(dir.path(), &["--kafka", &brokers]);
    assert!(ok, "the audit after the crash: {err}\n{partitions:#?}");
    assert_eq!(partitions.len(), 3, "{partitions:#?}");
    let mut produced = 0;
    for p in &partitions {
        assert_eq!(p["gaps"], json!([]), "{p}");
        assert_eq!(p["mismatches"], json!([]), "{p}");
        let k = &p["kafka"];
        assert_eq!(k["pending"], 0, "{p}");
        assert_eq!(k["compacted"], 0, "{p}");
        assert_eq!(k["verified"], p["batches"], "every ledger row's checksum recomputed from the topic: {p}");
        let counts = ["stored", "duplicates", "dead_lettered"].map(|c| p[c].as_u64().unwrap());
        assert_eq!(counts.iter().sum::<u64>(), p["records"].as_u64().unwrap(), "{p}");
        assert!(p["dead_lettered"].as_u64().unwrap() > 0 && p["duplicates"].as_u64().unwrap() > 0, "{p}");
        produced += k["records"].as_u64().unwrap();
    }
    assert_eq!(produced, RECORDS as u64);

    // A redelivery made sure of (the crash above may or may not have caused one): offsets 10..=30 of
    // partition 2 once more, exactly as the topic holds them. An overlap, not an error.
    let again =
        records.iter().zip(&placed).filter(|(_, (p, o))| *p == 2 && (10..=30).contains(o)).map(|(r, (p, o))| {
            let value = r.value.as_deref().map(str::as_bytes);
            MskRecord::new(TOPIC, i64::from(*p), *o, 1_763_622_000_000, Some(r.key.as_bytes()), value)
        });
    invoke_ingest(dir.path(), "redelivered.json", &MskEvent::self_managed(brokers.as_str(), again));
    let (ok, partitions, err) = audit_json(dir.path(), &["--kafka", &brokers, "--partition", "2"]);
    assert!(ok, "a redelivery is not an error: {err}\n{partitions:#?}");
    let redelivered: Vec<(i64, i64)> = partitions[0]["redelivered"].as_array().unwrap().iter().map(span).collect();
    assert!(redelivered.iter().any(|&(f, l)| f <= 10 && l >= 30), "{redelivered:?}");
    assert_eq!(partitions[0]["kafka"]["verified"], partitions[0]["batches"], "{}", partitions[0]);

    // Loss 1: a ledger range of partition 1 and the history it stands for are deleted.
    let rows = ledger_rows(dir.path(), 1);
    let lost = rows
        .iter()
        .copied()
        .skip(1)
        .take(rows.len().saturating_sub(2))
        .find(|&(first, last)| rows.iter().all(|&(f, l)| (f, l) == (first, last) || l < first || f > last))
        .expect("a ledger row of partition 1 that no other row overlaps");
    let ids: Vec<String> = records
        .iter()
        .zip(&placed)
        .filter(|(_, (p, o))| *p == 1 && (lost.0..=lost.1).contains(o))
        .filter_map(|(r, _)| r.event_id.as_ref().map(|id| format!("'{id}'")))
        .collect();
    assert!(!ids.is_empty());
    sqlite(
        dir.path(),
        &[
            format!(
                "DELETE FROM ingest_ledger WHERE kafka_partition = 1 AND first_offset = {} AND last_offset = {}",
                lost.0, lost.1
            ),
            format!("DELETE FROM flight_events WHERE event_id IN ({})", ids.join(", ")),
        ],
    );

    // Loss 2: ten more records on partition 0, fed to ingest as one batch with the fifth missing.
    let more: Vec<Produced> = (0..10)
        .map(|n| {
            let event = FlightEvent::new(&format!("audit-late-{n}"), "UA999", "scheduled", "2026-11-20T07:00:00Z")
                .date("2026-11-20")
                .with("scheduled_departure", json!("2026-11-20T08:00:00Z"))
                .with("scheduled_arrival", json!("2026-11-20T12:00:00Z"));
            Produced { partition: 0, key: event.flight_id(), value: Some(event.to_string()), event_id: None }
        })
        .collect();
    let more_placed = produce(&brokers, &more);
    let first_late = more_placed[0].1;
    let batch = more.iter().zip(&more_placed).filter(|(_, (_, o))| *o != first_late + 4).map(|(r, (p, o))| {
        MskRecord::new(
            TOPIC,
            i64::from(*p),
            *o,
            1_763_622_000_000,
            Some(r.key.as_bytes()),
            r.value.as_deref().map(str::as_bytes),
        )
    });
    invoke_ingest(dir.path(), "skipped.json", &MskEvent::self_managed(brokers.as_str(), batch));

    let (ok, partitions, err) = audit_json(dir.path(), &["--kafka", &brokers]);
    assert!(!ok, "the audit must fail: {partitions:#?}");
    assert!(err.contains("audit failed: 1 gap(s) and 1 mismatch(es)"), "{err}");
    let by_partition = |n: i64| partitions.iter().find(|p| p["partition"] == n).unwrap_or_else(|| panic!("{n}"));
    let p0 = by_partition(0);
    assert_eq!(p0["gaps"], json!([]), "{p0}");
    assert_eq!(
        p0["mismatches"],
        json!([{"first_offset": first_late, "last_offset": first_late + 9, "ledger_records": 9, "topic_records": 10, "kind": "count"}]),
        "{p0}"
    );
    let p1 = by_partition(1);
    assert_eq!(p1["gaps"].as_array().unwrap().iter().map(span).collect::<Vec<_>>(), [lost], "{p1}");
    assert_eq!(p1["mismatches"], json!([]), "{p1}");
    let p2 = by_partition(2);
    assert!(p2["gaps"] == json!([]) && p2["mismatches"] == json!([]), "{p2}");

    // The ledger alone (what the redrive function can answer in AWS) sees the deleted range, not the
    // record the batch skipped.
    let (ok, partitions, _) = audit_json(dir.path(), &["--partition", "1", "--partition", "0"]);
    assert!(!ok);
    let gaps: Vec<(i64, Vec<(i64, i64)>)> = partitions
        .iter()
        .map(|p| (p["partition"].as_i64().unwrap(), p["gaps"].as_array().unwrap().iter().map(span).collect()))
        .collect();
    assert_eq!(gaps, [(0, vec![]), (1, vec![lost])]);
    let request = dir.path().join("audit.json");
    std::fs::write(&request, r#"{"source": "audit"}"#).unwrap();
    let out = run(dir.path(), &["invoke", "redrive", "--event", request.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["consistent"], false, "{report}");
    assert_eq!(report["gap_offsets"], lost.1 - lost.0 + 1, "{report}");
}
