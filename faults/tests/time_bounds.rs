//! Fault case 5: 1,000 events spread over 300 years, on real PostgreSQL with retention set. Every event or
//! removal outside [retention horizon, clock + skew] is dead-lettered with `event_time_out_of_range`; the
//! rest are stored; the history partitions stay bounded by the retention window (counted in `pg_inherits`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use contrail_ingest::{MskEvent, MskRecord, State, ingest_at};
use contrail_shared::codec::RejectReason;
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::time_bounds::TimeLimits;
use serde_json::json;
use sqlx::PgPool;

const TOPIC: &str = "flight-data";
const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/contrail-msk/faults";
const EVENTS: i64 = 1_000;
const RETENTION_MONTHS: u32 = 12;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn now() -> DateTime<Utc> {
    utc("2026-11-25T15:00:00Z")
}

/// Worked out by hand from the contract: the first instant of the month 12 months before November 2026,
/// and the clock plus the default 900 s.
fn horizon() -> DateTime<Utc> {
    utc("2025-11-01T00:00:00Z")
}

fn latest() -> DateTime<Utc> {
    utc("2026-11-25T15:15:00Z")
}

/// 1,000 times from 1876 to 2176, evenly spaced, so some fall inside the 13-month window.
fn times() -> Vec<DateTime<Utc>> {
    let first = utc("1876-11-25T15:00:00Z");
    let span = utc("2176-11-25T15:00:00Z") - first;
    (0..EVENTS).map(|i| first + Duration::seconds(span.num_seconds() / (EVENTS - 1) * i)).collect()
}

/// An event for time `i`; every fifth one is a tombstone whose removal time is its `event_time` header.
fn record(i: i64, t: DateTime<Utc>) -> MskRecord {
    let number = 1 + i % 97;
    let key = format!("AA{number}-2026-11-25-JFK");
    let partition = i % 4;
    let offset = i / 4;
    let broker_ms = now().timestamp_millis() - 1_000;
    if i % 5 == 4 {
        return MskRecord::new(TOPIC, partition, offset, broker_ms, Some(key.as_bytes()), None)
            .with_header("event_time", t.to_rfc3339());
    }
    let value = json!({
        "event_id": format!("span-{i:04}"),
        "event_time": t.to_rfc3339(),
        "carrier": "AA",
        "number": number.to_string(),
        "date": "2026-11-25",
        "origin": "JFK",
        "destination": "LAX",
        "status": "scheduled",
        "scheduled_departure": "2026-11-25T14:00:00Z",
        "scheduled_arrival": "2026-11-25T20:25:00Z",
    });
    MskRecord::new(TOPIC, partition, offset, broker_ms, Some(key.as_bytes()), Some(value.to_string().as_bytes()))
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn events_over_three_hundred_years_make_bounded_partitions_and_the_rest_are_out_of_range() {
    let Some(db) = contrail_testkit::store::postgres().await else { return };
    let store = db.store;
    let pool = PgPool::connect(&db.url).await.unwrap();
    let limits = TimeLimits { max_future_skew_seconds: 900, retention_months: RETENTION_MONTHS };
    let state = State::new(store.clone(), DeadLetterSink::Store(store.clone())).with_limits(limits);

    let times = times();
    let records: Vec<MskRecord> = times.iter().enumerate().map(|(i, t)| record(i as i64, *t)).collect();
    let in_range = |t: &DateTime<Utc>| *t >= horizon() && *t <= latest();
    let expected_out: BTreeMap<(i64, i64), ()> =
        records.iter().zip(&times).filter(|(_, t)| !in_range(t)).map(|(r, _)| ((r.partition, r.offset), ())).collect();
    let kept = times.iter().filter(|t| in_range(t)).count() as u64;
    assert!(kept >= 3 && expected_out.len() >= 990, "the spread puts a few inside the window: {kept}");

    // Ten batches of 100, as the mapping would deliver them.
    let (mut stored, mut dead) = (0, 0);
    for chunk in records.chunks(100) {
        let s = ingest_at(&state, &MskEvent::from_records(ARN, chunk.to_vec()), now()).await.unwrap();
        assert!(s.is_balanced(), "{s:?}");
        assert_eq!(s.duplicates, 0);
        stored += s.stored;
        dead += s.dead_lettered;
    }
    assert_eq!((stored, dead), (kept, EVENTS as u64 - kept));

    let letters = store.list_dead_letters(u32::MAX).await.unwrap();
    let mut got = BTreeMap::new();
    for l in &letters {
        assert_eq!(
            l.letter.reason,
            RejectReason::EventTimeOutOfRange,
            "{}: {}",
            l.letter.coordinates(),
            l.letter.detail
        );
        let field = if l.letter.value.is_none() { "headers.event_time" } else { "event_time" };
        assert_eq!(l.letter.field.as_deref(), Some(field), "{}", l.letter.coordinates());
        assert!(
            l.letter.detail.contains("before the retention horizon 2025-11-01T00:00:00Z")
                || l.letter.detail.contains("after the latest accepted time 2026-11-25T15:15:00Z"),
            "{}",
            l.letter.detail
        );
        assert!(got.insert((l.letter.partition, l.letter.offset), ()).is_none(), "dead-lettered twice");
    }
    assert_eq!(got, expected_out, "every out-of-range record, and only those");

    // At most one partition per month of the window (12 months back plus the current one).
    let partitions = count(&pool, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'flight_events'::regclass").await;
    assert!((1..=i64::from(RETENTION_MONTHS) + 1).contains(&partitions), "{partitions} partitions");
    let outside = count(
        &pool,
        "SELECT count(*) FROM flight_events WHERE event_time < '2025-11-01' OR event_time > '2026-11-25T15:15:00Z'",
    )
    .await;
    assert_eq!(outside, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM flight_events").await as u64, kept);
}
