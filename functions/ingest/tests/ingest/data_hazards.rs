//! What the data itself can do to the handler: implausible event times, tombstones on the producer's clock,
//! and reused event ids. Every scenario runs on PostgreSQL and on SQLite with a fixed clock.

use crate::common::{Ev, ToRecord, event, local_state, ms, tombstone, utc};
use chrono::{DateTime, Duration, Utc};
use contrail_ingest::{IngestSummary, State, ingest_at};
use contrail_shared::codec::RejectReason;
use contrail_shared::deadletter::DeadLetter;
use contrail_shared::domain::FlightId;
use contrail_shared::storage::{Engine, Store};
use contrail_shared::time_bounds::TimeLimits;
use contrail_testkit::store::TestStore;

contrail_testkit::on_both_engines!(
    an_event_dated_beyond_the_future_skew_is_dead_lettered_and_cannot_freeze_a_flight,
    with_retention_an_event_older_than_the_horizon_is_dead_lettered_and_creates_no_partition,
    without_retention_a_historical_replay_is_stored,
    a_tombstone_event_time_header_orders_the_removal_on_the_producer_clock,
    a_tombstone_header_that_cannot_be_read_or_is_out_of_range_is_dead_lettered,
    a_reused_event_id_with_other_content_is_a_conflicting_duplicate,
);

/// The clock every scenario runs at.
fn now() -> DateTime<Utc> {
    utc("2026-11-25T15:00:00Z")
}

fn state(store: &Store, limits: TimeLimits) -> State {
    local_state(store.clone()).with_limits(limits)
}

async fn status_of(store: &Store, flight: &str) -> Option<String> {
    store.get_flight(&FlightId::parse(flight).unwrap()).await.unwrap().map(|f| f.status.to_string())
}

async fn letters(store: &Store) -> Vec<DeadLetter> {
    store.list_dead_letters(1000).await.unwrap().into_iter().map(|l| l.letter).collect()
}

fn counts(s: &IngestSummary) -> (u64, u64, u64, u64, u64) {
    assert!(s.is_balanced(), "{s:?}");
    (s.records, s.stored, s.duplicates, s.dead_lettered, s.superseded)
}

/// The months (`YYYY_MM`) of the history partitions on PostgreSQL, counted in `pg_inherits`.
async fn history_months(url: &str) -> Vec<String> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'flight_events'::regclass ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    names.into_iter().map(|n| n.trim_start_matches("flight_events_").to_owned()).collect()
}

async fn an_event_dated_beyond_the_future_skew_is_dead_lettered_and_cannot_freeze_a_flight(db: TestStore) {
    let store = db.store.clone();
    let state = state(&store, TimeLimits { max_future_skew_seconds: 900, retention_months: 0 });
    let flight = "UA1-2026-11-25-EWR";
    let ev = |id: &str, status: &str, t: &str| Ev::new(id, "UA1", status, t);
    let s = ingest_at(
        &state,
        &event([
            ev("far", "cancelled", "9999-12-31T23:59:59Z").record(0, 1, ms("2026-11-25T15:00:00Z")),
            ev("edge", "boarding", "2026-11-25T15:15:00Z").record(0, 2, ms("2026-11-25T15:00:00Z")),
            ev("late", "departed", "2026-11-25T15:15:00.000001Z").record(0, 3, ms("2026-11-25T15:00:00Z")),
        ]),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(counts(&s), (3, 1, 0, 2, 0));
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("boarding"), "the far-future event must not win");
    let letters = letters(&store).await;
    assert_eq!(letters.len(), 2);
    for l in &letters {
        assert_eq!((l.reason, l.field.as_deref()), (RejectReason::EventTimeOutOfRange, Some("event_time")), "{l:?}");
        assert!(l.detail.contains("after the latest accepted time 2026-11-25T15:15:00Z"), "{}", l.detail);
    }
    assert!(letters[1].detail.contains("1 µs after"), "{}", letters[1].detail);
    // A later, plausible update still applies.
    let s = ingest_at(&state, &event([ev("next", "airborne", "2026-11-25T15:20:00Z").record(0, 4, 0)]), now()).await;
    assert_eq!(counts(&s.unwrap()), (1, 0, 0, 1, 0), "15:20 is still beyond 15:00 + 900 s");
    let later = now() + Duration::minutes(10);
    let s = ingest_at(&state, &event([ev("next", "airborne", "2026-11-25T15:20:00Z").record(0, 5, 0)]), later).await;
    assert_eq!(counts(&s.unwrap()), (1, 1, 0, 0, 0));
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("airborne"));
}

async fn with_retention_an_event_older_than_the_horizon_is_dead_lettered_and_creates_no_partition(db: TestStore) {
    let store = db.store.clone();
    // Three months before November 2026: the horizon is 2026-08-01T00:00:00Z.
    let state = state(&store, TimeLimits { max_future_skew_seconds: 900, retention_months: 3 });
    let old = Ev::new("old", "AA2", "scheduled", "2026-07-31T23:59:59Z");
    let kept = Ev::new("kept", "AA2", "scheduled", "2026-08-01T00:00:00Z");
    let s = ingest_at(&state, &event([old.record(0, 1, 0), kept.record(0, 2, 0)]), now()).await.unwrap();
    assert_eq!(counts(&s), (2, 1, 0, 1, 0));
    let first = letters(&store).await;
    assert_eq!((first[0].offset, first[0].reason), (1, RejectReason::EventTimeOutOfRange));
    assert!(
        first[0].detail.contains("1 s before the retention horizon 2026-08-01T00:00:00Z (HISTORY_RETENTION_MONTHS=3)"),
        "{}",
        first[0].detail
    );
    // Tombstones are bounded the same way, by their Kafka timestamp.
    let s = ingest_at(&state, &event([tombstone(&kept.flight_id(), 0, 3, ms("2026-07-01T00:00:00Z"))]), now()).await;
    assert_eq!(counts(&s.unwrap()), (1, 0, 0, 1, 0));
    assert_eq!(letters(&store).await[1].field.as_deref(), Some("timestamp"));
    if db.store.engine() == Engine::Postgres {
        let url = &db.url;
        assert_eq!(history_months(url).await, ["2026_08"], "no partition for the refused months");
    }
}

async fn without_retention_a_historical_replay_is_stored(db: TestStore) {
    let store = db.store.clone();
    let state = state(&store, TimeLimits::default());
    let ev = Ev::new("2013", "UA9", "arrived", "2013-01-01T10:00:00Z");
    let s = ingest_at(&state, &event([ev.record(0, 1, ms("2013-01-01T10:00:00Z"))]), now()).await.unwrap();
    assert_eq!(counts(&s), (1, 1, 0, 0, 0));
}

async fn a_tombstone_event_time_header_orders_the_removal_on_the_producer_clock(db: TestStore) {
    let store = db.store.clone();
    let state = state(&store, TimeLimits::default());
    // The producer's clock runs ten minutes ahead of the broker's.
    let flight = "B61-2026-11-25-JFK";
    let snap = Ev::new("b6-1", "B61", "cancelled", "2026-11-25T14:10:00Z").route("JFK", "BOS");
    ingest_at(&state, &event([snap.record(0, 1, ms("2026-11-25T14:00:00Z"))]), now()).await.unwrap();
    // Without the header the removal time is the broker's 14:01: it loses, and the summary says so.
    let s = ingest_at(&state, &event([tombstone(flight, 0, 2, ms("2026-11-25T14:01:00Z"))]), now()).await.unwrap();
    assert_eq!(counts(&s), (1, 1, 0, 0, 1));
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("cancelled"));
    // With the producer's own time it wins.
    let removal = tombstone(flight, 0, 3, ms("2026-11-25T14:01:00Z")).with_header("event_time", "2026-11-25T14:11:00Z");
    let s = ingest_at(&state, &event([removal.clone()]), now()).await.unwrap();
    assert_eq!(counts(&s), (1, 1, 0, 0, 0));
    assert_eq!(status_of(&store, flight).await, None, "the tombstone removed the flight");
    let history = store.flight_history(&FlightId::parse(flight).unwrap(), None, 10).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.removed, last.event_time), (true, utc("2026-11-25T14:11:00Z")));
    // Its redelivery is a duplicate.
    let s = ingest_at(&state, &event([removal]), now()).await.unwrap();
    assert_eq!(counts(&s), (1, 0, 1, 0, 0));
}

async fn a_tombstone_header_that_cannot_be_read_or_is_out_of_range_is_dead_lettered(db: TestStore) {
    let store = db.store.clone();
    let state = state(&store, TimeLimits::default());
    let first = Ev::new("dl-1", "DL5", "scheduled", "2026-11-25T08:00:00Z");
    let flight = first.flight_id();
    ingest_at(&state, &event([first.record(0, 1, 0)]), now()).await.unwrap();
    let t = ms("2026-11-25T14:00:00Z");
    let records = [
        tombstone(&flight, 0, 2, t).with_header("event_time", "yesterday"),
        tombstone(&flight, 0, 3, t).with_header("event_time", vec![0xff, 0xfe]),
        tombstone(&flight, 0, 4, t).with_header("event_time", "2027-01-01T00:00:00Z"),
    ];
    let s = ingest_at(&state, &event(records), now()).await.unwrap();
    assert_eq!(counts(&s), (3, 0, 0, 3, 0));
    assert_eq!(status_of(&store, &flight).await.as_deref(), Some("scheduled"), "no fallback to the Kafka timestamp");
    let got: Vec<(i64, RejectReason, Option<String>)> =
        letters(&store).await.into_iter().map(|l| (l.offset, l.reason, l.field)).collect();
    let field = Some("headers.event_time".to_owned());
    assert_eq!(
        got,
        [
            (2, RejectReason::SchemaViolation, field.clone()),
            (3, RejectReason::SchemaViolation, field.clone()),
            (4, RejectReason::EventTimeOutOfRange, field),
        ]
    );
}

async fn a_reused_event_id_with_other_content_is_a_conflicting_duplicate(db: TestStore) {
    let store = db.store.clone();
    let state = state(&store, TimeLimits::default());
    let flight = "WN3-2026-11-25-DAL";
    let first = Ev::new("wn-1", "WN3", "scheduled", "2026-11-25T08:00:00Z").route("DAL", "HOU");
    // The producer reused the id for another snapshot (another status, another time).
    let reused = Ev::new("wn-1", "WN3", "cancelled", "2026-11-25T09:00:00Z").route("DAL", "HOU");
    let other_flight = Ev::new("wn-1", "WN4", "scheduled", "2026-11-25T08:00:00Z").route("DAL", "HOU");
    // Within one batch: the first delivery is stored, an identical one is a duplicate, the others conflict.
    let batch =
        event([first.record(0, 1, 0), reused.record(0, 2, 0), first.record(0, 3, 0), other_flight.record(1, 1, 0)]);
    let s = ingest_at(&state, &batch, now()).await.unwrap();
    assert_eq!(counts(&s), (4, 1, 1, 2, 0));
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("scheduled"));
    assert_eq!(status_of(&store, "WN4-2026-11-25-DAL").await, None);
    let got = letters(&store).await;
    let coordinates: Vec<(i64, i64, RejectReason)> = got.iter().map(|l| (l.partition, l.offset, l.reason)).collect();
    assert_eq!(coordinates, [(0, 2, RejectReason::ConflictingDuplicate), (1, 1, RejectReason::ConflictingDuplicate)]);
    assert_eq!(got[0].value, reused.record(0, 2, 0).value, "the letter carries the refused record as received");
    assert!(got[0].detail.contains("\"wn-1\""), "{}", got[0].detail);
    // In a later batch: the byte-identical redelivery is a duplicate, the other content is refused again.
    let s = ingest_at(&state, &event([first.record(0, 4, 0), reused.record(0, 5, 0)]), now()).await.unwrap();
    assert_eq!(counts(&s), (2, 0, 1, 1, 0));
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("scheduled"), "the stored event stays");
    let history = store.flight_history(&FlightId::parse(flight).unwrap(), None, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    // Redelivering the whole first batch gives the same letters again, idempotent on coordinates.
    let s = ingest_at(&state, &batch, now()).await.unwrap();
    assert_eq!(counts(&s), (4, 0, 2, 2, 0));
    assert_eq!(letters(&store).await.len(), 3);
}
