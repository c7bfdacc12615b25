//! Fault case 4: hostile batches on real PostgreSQL. A 10,000-record batch of about 6 MB with 30% poison of
//! every kind the codec and the store can refuse, and a batch whose records all fail: exact counts, every
//! poison record dead-lettered once with its reason, every good record stored once, redelivery changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use contrail_ingest::{IngestSummary, MskEvent, MskRecord, State, ingest_at};
use contrail_shared::codec::{MAX_VALUE_BYTES, RejectReason};
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::storage::Store;
use contrail_shared::time_bounds::TimeLimits;
use contrail_testkit::flight::FlightEvent;
use serde_json::{Value, json};
use sqlx::PgPool;

const TOPIC: &str = "flight-data";
const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/contrail-msk/faults";
const RECORDS: usize = 10_000;
/// Partitions 0-2 carry the good records and most poison; 3 carries the reused ids, so the good original
/// always comes first in the batch's (partition, offset) order.
const REUSE_PARTITION: i64 = 3;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T15:00:00Z").unwrap().to_utc()
}

/// Retention on, so both time bounds are live: the horizon is 2025-11-01, the future bound 15:15.
fn limits() -> TimeLimits {
    TimeLimits { max_future_skew_seconds: 900, retention_months: 12 }
}

struct Pg {
    store: Store,
    pool: PgPool,
}

async fn postgres() -> Option<Pg> {
    let db = contrail_testkit::store::postgres().await?;
    let pool = PgPool::connect(&db.url).await.expect("probe connection");
    Some(Pg { store: db.store, pool })
}

fn state(store: &Store) -> State {
    State::new(store.clone(), DeadLetterSink::Store(store.clone())).with_limits(limits())
}

/// A valid flight-event/v1 value and its key; `n` picks the flight (40 snapshots per flight).
fn good_value(event_id: &str, n: usize, status: &str, time: DateTime<Utc>) -> (String, Value) {
    let event = FlightEvent::new(event_id, &format!("UA{}", 100 + n / 40), status, &time.to_rfc3339());
    (event.flight_id(), event.to_json())
}

fn record(partition: i64, offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> MskRecord {
    MskRecord::new(TOPIC, partition, offset, now().timestamp_millis() - 60_000, key, value)
}

/// What the batch holds and what ingest must make of it.
struct Hostile {
    event: MskEvent,
    /// event_id of every good record, stored once.
    good_ids: BTreeSet<String>,
    /// Byte-identical redeliveries inside the batch.
    duplicates: u64,
    /// (partition, offset) of every poison record, with its reason.
    poison: BTreeMap<(i64, i64), RejectReason>,
}

/// 10,000 records: 6,900 good, 100 identical redeliveries, 3,000 poison spread over every reason.
fn hostile_batch() -> Hostile {
    const POISON_KINDS: usize = 15;
    let mut records = Vec::with_capacity(RECORDS);
    let mut good_ids = BTreeSet::new();
    let mut poison = BTreeMap::new();
    let mut offsets = [0i64; 4];
    let mut next = |p: i64| {
        let o = offsets[p as usize];
        offsets[p as usize] += 1;
        o
    };
    let mut good_values: Vec<(String, String, Value)> = Vec::new();
    let base = now() - Duration::hours(6);
    for i in 0..6_900 {
        let id = format!("good-{i:05}");
        let (key, value) =
            good_value(&id, i, ["scheduled", "boarding", "departed"][i % 3], base + Duration::seconds(i as i64));
        let p = (i % 3) as i64;
        records.push(record(p, next(p), Some(key.as_bytes()), Some(value.to_string().as_bytes())));
        good_ids.insert(id.clone());
        good_values.push((id, key, value));
    }
    for (_, key, value) in good_values.iter().take(100) {
        records.push(record(2, next(2), Some(key.as_bytes()), Some(value.to_string().as_bytes())));
    }
    for (j, (_, key, good)) in good_values.iter().enumerate().take(3_000) {
        let kind = j % POISON_KINDS;
        let mut v = good.clone();
        v["event_id"] = json!(format!("poison-{j:04}"));
        let p = if kind == 14 { REUSE_PARTITION } else { (j % 3) as i64 };
        let offset = next(p);
        let (rec, reason) = match kind {
            0 => {
                let mut r = record(p, offset, Some(key.as_bytes()), None);
                r.value = Some("%%% not base64 %%%".into());
                (r, RejectReason::InvalidBase64)
            }
            1 => {
                let mut r = record(p, offset, None, Some(v.to_string().as_bytes()));
                r.key = Some("not base64!".into());
                (r, RejectReason::InvalidBase64)
            }
            2 => (
                record(p, offset, Some(key.as_bytes()), Some(b"{\"event_id\": \"\xff\xfe\"}")),
                RejectReason::InvalidUtf8,
            ),
            3 => (record(p, offset, Some(key.as_bytes()), Some(b"{\"event_id\": ")), RejectReason::InvalidJson),
            4 => {
                v["status"] = json!("taxiing");
                (record(p, offset, Some(key.as_bytes()), Some(v.to_string().as_bytes())), RejectReason::SchemaViolation)
            }
            5 => {
                v["position"] = json!({"lat": 91.0, "lon": 0.0});
                (record(p, offset, Some(key.as_bytes()), Some(v.to_string().as_bytes())), RejectReason::SchemaViolation)
            }
            6 => {
                v["schema_version"] = json!(2);
                (
                    record(p, offset, Some(key.as_bytes()), Some(v.to_string().as_bytes())),
                    RejectReason::UnsupportedSchemaVersion,
                )
            }
            7 => (
                record(p, offset, Some(b"DL1-2026-11-25-ATL"), Some(v.to_string().as_bytes())),
                RejectReason::KeyMismatch,
            ),
            8 if j == 8 => {
                // A value just over the limit: a quarter of the batch's size on its own. Unknown fields are
                // ignored, so the padding is one.
                v["producer_note"] = json!("x".repeat(MAX_VALUE_BYTES));
                (record(p, offset, Some(key.as_bytes()), Some(v.to_string().as_bytes())), RejectReason::TooLarge)
            }
            8 => {
                // A tombstone without a key cannot be placed.
                (record(p, offset, None, None), RejectReason::SchemaViolation)
            }
            9 => {
                v["event_time"] = json!("9999-12-31T23:59:59Z");
                (
                    record(p, offset, Some(key.as_bytes()), Some(v.to_string().as_bytes())),
                    RejectReason::EventTimeOutOfRange,
                )
            }
            10 => {
                v["event_time"] = json!("1999-01-01T00:00:00Z");
                (
                    record(p, offset, Some(key.as_bytes()), Some(v.to_string().as_bytes())),
                    RejectReason::EventTimeOutOfRange,
                )
            }
            11 => (
                record(p, offset, Some(key.as_bytes()), None).with_header("event_time", "not a time"),
                RejectReason::SchemaViolation,
            ),
            12 => (
                record(p, offset, Some(key.as_bytes()), None).with_header("event_time", "2030-01-01T00:00:00Z"),
                RejectReason::EventTimeOutOfRange,
            ),
            13 => {
                let mut r = record(p, offset, Some(key.as_bytes()), None);
                r.timestamp = -1;
                (r, RejectReason::SchemaViolation)
            }
            _ => {
                // A good event's id reused for other content.
                let mut reused = good.clone();
                reused["status"] = json!("cancelled");
                (
                    record(p, offset, Some(key.as_bytes()), Some(reused.to_string().as_bytes())),
                    RejectReason::ConflictingDuplicate,
                )
            }
        };
        poison.insert((rec.partition, rec.offset), reason);
        records.push(rec);
    }
    assert_eq!(records.len(), RECORDS);
    Hostile { event: MskEvent::from_records(ARN, records), good_ids, duplicates: 100, poison }
}

fn balanced(s: &IngestSummary) -> (u64, u64, u64, u64) {
    assert!(s.is_balanced(), "{s:?}");
    (s.records, s.stored, s.duplicates, s.dead_lettered)
}

async fn dead_letters(store: &Store) -> BTreeMap<(i64, i64), RejectReason> {
    let letters = store.list_dead_letters(u32::MAX).await.expect("list dead letters");
    let mut out = BTreeMap::new();
    for l in letters {
        let previous = out.insert((l.letter.partition, l.letter.offset), l.letter.reason);
        assert!(previous.is_none(), "{}: dead-lettered twice", l.letter.coordinates());
    }
    out
}

async fn stored_ids(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT event_id FROM flight_events ORDER BY event_id").fetch_all(pool).await.unwrap()
}

#[tokio::test]
async fn a_ten_thousand_record_batch_with_thirty_percent_poison_of_every_kind_is_accounted_for_exactly() {
    let Some(pg) = postgres().await else { return };
    let hostile = hostile_batch();
    let size = serde_json::to_string(&hostile.event).unwrap().len();
    // The event source mapping delivers at most 6 MB; on top of that comes the one value over the 1 MiB record
    // limit (1.4 MB once base64-encoded), so the batch is the largest one AWS sends plus the oversized record.
    assert!((6_000_000..=7_000_000).contains(&size), "the batch is {size} bytes, not about 6 MB + 1.4 MB");
    let reasons: BTreeSet<RejectReason> = hostile.poison.values().copied().collect();
    assert_eq!(reasons.len(), 9, "every dead-letter reason is in the batch: {reasons:?}");
    let state = state(&pg.store);

    let s = ingest_at(&state, &hostile.event, now()).await.expect("the batch is handled, not failed");
    let good = hostile.good_ids.len() as u64;
    let poison = hostile.poison.len() as u64;
    assert_eq!((good, poison), (6_900, 3_000));
    assert_eq!(balanced(&s), (RECORDS as u64, good, hostile.duplicates, poison));
    assert_eq!(dead_letters(&pg.store).await, hostile.poison, "every poison record once, with its reason");
    let ids = stored_ids(&pg.pool).await;
    assert_eq!(ids, hostile.good_ids.iter().cloned().collect::<Vec<_>>(), "every good record stored once");
    let cancelled: i64 = sqlx::query_scalar("SELECT count(*) FROM flights WHERE status = 'cancelled'")
        .fetch_one(&pg.pool)
        .await
        .unwrap();
    assert_eq!(cancelled, 0, "no reused id changed state");

    // The mapping redelivers the same batch (a timeout after the commit): nothing new anywhere.
    let again = ingest_at(&state, &hostile.event, now()).await.unwrap();
    assert_eq!(balanced(&again), (RECORDS as u64, 0, good + hostile.duplicates, poison));
    assert_eq!(dead_letters(&pg.store).await, hostile.poison);
    assert_eq!(stored_ids(&pg.pool).await.len() as u64, good);
}

#[tokio::test]
async fn a_batch_whose_records_all_fail_dead_letters_every_one_and_stores_nothing() {
    let Some(pg) = postgres().await else { return };
    let state = state(&pg.store);
    let mut expected = BTreeMap::new();
    let records: Vec<MskRecord> = (0..RECORDS as i64)
        .map(|i| {
            let p = i % 4;
            let offset = 1_000 + i / 4;
            let (rec, reason) = match i % 4 {
                0 => (record(p, offset, Some(b"UA1-2026-11-25-EWR"), Some(b"not json")), RejectReason::InvalidJson),
                1 => {
                    let mut r = record(p, offset, None, None);
                    r.value = Some("@@@".into());
                    (r, RejectReason::InvalidBase64)
                }
                2 => (record(p, offset, None, Some(b"[1, 2, 3]")), RejectReason::SchemaViolation),
                _ => {
                    let (key, mut v) = good_value(&format!("future-{i}"), 0, "scheduled", now());
                    v["event_time"] = json!("2100-01-01T00:00:00Z");
                    (
                        record(p, offset, Some(key.as_bytes()), Some(v.to_string().as_bytes())),
                        RejectReason::EventTimeOutOfRange,
                    )
                }
            };
            expected.insert((p, offset), reason);
            rec
        })
        .collect();
    let event = MskEvent::from_records(ARN, records);
    for _ in 0..2 {
        let s = ingest_at(&state, &event, now()).await.expect("an all-poison batch succeeds: nothing to retry");
        assert_eq!(balanced(&s), (RECORDS as u64, 0, 0, RECORDS as u64));
        assert_eq!(s.partitions.len(), 4);
        assert_eq!(dead_letters(&pg.store).await, expected);
        assert!(stored_ids(&pg.pool).await.is_empty());
    }
    let partitions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'flight_events'::regclass")
            .fetch_one(&pg.pool)
            .await
            .unwrap();
    assert_eq!(partitions, 0, "nothing stored, no partition made");
}
