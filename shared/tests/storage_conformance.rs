//! The storage conformance suite: every behaviour of the write path, on both engines.
//!
//! SQLite runs in a temporary file; PostgreSQL on a fresh database from `contrail_testkit::postgres`
//! (a throwaway cluster, or `TEST_DATABASE_URL`). Results are checked with plain SQL on a separate
//! connection, so the suite does not depend on the read API it is meant to support.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sqlx::{AssertSqlSafe, PgPool, Row, SqlitePool};

use contrail_shared::codec::RejectReason;
use contrail_shared::config::DbConfig;
use contrail_shared::deadletter::{DEAD_LETTER_KIND, DeadLetter};
use contrail_shared::domain::{
    Airport, Carrier, FlightEvent, FlightId, FlightNumber, FlightStatus, Position, Removal, Snapshot,
};
use contrail_shared::ledger::{LedgerEntry, LedgerSource, audit};
use contrail_shared::storage::{Engine, LedgerFilter, Store, StoreError, WriteOutcome};
use contrail_testkit::store::TestStore;

/// One engine under test, with a side connection to look at what it wrote.
struct Db {
    test: TestStore,
    probe: Probe,
}

/// `db.store` and `db.name()` are the test store's.
impl std::ops::Deref for Db {
    type Target = TestStore;
    fn deref(&self) -> &TestStore {
        &self.test
    }
}

enum Probe {
    Pg(PgPool),
    Lite(SqlitePool),
}

/// SQLite always; PostgreSQL when the testkit can provide one (it reports a skip loudly otherwise, and
/// fails under CI).
async fn engines() -> Vec<Db> {
    let mut dbs = Vec::new();
    for test in contrail_testkit::store::engines().await {
        dbs.push(with_probe(test).await);
    }
    dbs
}

async fn postgres() -> Option<Db> {
    Some(with_probe(contrail_testkit::store::postgres().await?).await)
}

async fn with_probe(test: TestStore) -> Db {
    let probe = match test.store.engine() {
        Engine::Postgres => Probe::Pg(PgPool::connect(&test.url).await.unwrap()),
        Engine::Sqlite => Probe::Lite(SqlitePool::connect(&test.url).await.unwrap()),
    };
    Db { test, probe }
}

/// What current state says about one flight.
#[derive(Debug, PartialEq)]
struct State {
    event_id: String,
    removed: bool,
    status: Option<String>,
    gate: Option<String>,
}

impl Db {
    /// (stored, duplicates) of a write that must succeed.
    async fn write(&self, batch: &[Snapshot]) -> (u64, u64) {
        let w = self.write_outcome(batch).await;
        (w.stored, w.duplicates)
    }

    async fn write_outcome(&self, batch: &[Snapshot]) -> WriteOutcome {
        self.store.write_snapshots(batch).await.unwrap_or_else(|e| panic!("{}: write failed: {e}", self.name()))
    }

    async fn execute(&self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.probe {
            Probe::Pg(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
            Probe::Lite(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.probe {
            Probe::Pg(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.unwrap(),
            Probe::Lite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// Event ids in a flight's history, oldest first.
    async fn history(&self, flight: &str) -> Vec<String> {
        let sql = AssertSqlSafe(format!(
            "SELECT event_id FROM flight_events WHERE flight_id = '{flight}' ORDER BY event_time, event_id"
        ));
        match &self.probe {
            Probe::Pg(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
            Probe::Lite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        }
    }

    async fn state(&self, flight: &str) -> Option<State> {
        let sql = AssertSqlSafe(format!(
            "SELECT event_id, CASE WHEN removed THEN 1 ELSE 0 END AS removed, status, gate \
             FROM flights WHERE flight_id = '{flight}'"
        ));
        macro_rules! read {
            ($pool:expr) => {
                sqlx::query(sql).fetch_optional($pool).await.unwrap().map(|r| State {
                    event_id: r.get("event_id"),
                    removed: r.get::<i32, _>("removed") == 1,
                    status: r.get("status"),
                    gate: r.get("gate"),
                })
            };
        }
        match &self.probe {
            Probe::Pg(p) => read!(p),
            Probe::Lite(p) => read!(p),
        }
    }
}

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, hour, minute, 0).unwrap()
}

const FLIGHT: &str = "UA1545-2024-05-01-EWR";

/// A snapshot of flight UA{number} on 2024-05-01 from EWR.
fn event_for(number: &str, event_id: &str, event_time: DateTime<Utc>, status: FlightStatus) -> Snapshot {
    let scheduled = at(1, 14, 0);
    Snapshot::Event(Box::new(FlightEvent {
        schema_version: 1,
        event_id: event_id.to_owned(),
        event_time,
        carrier: Carrier::parse("UA").unwrap(),
        number: FlightNumber::parse(number).unwrap(),
        date: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
        origin: Airport::parse("EWR").unwrap(),
        destination: Airport::parse("IAH").unwrap(),
        status,
        scheduled_departure: scheduled,
        scheduled_arrival: scheduled + Duration::hours(4),
        estimated_departure: None,
        estimated_arrival: None,
        actual_departure: (status >= FlightStatus::Departed).then(|| scheduled + Duration::minutes(12)),
        actual_arrival: None,
        tail_number: Some("N12345".into()),
        gate: Some(format!("G{}", event_id.len())),
        terminal: Some("C".into()),
        position: Some(Position {
            lat: 40.69,
            lon: -74.17,
            altitude_ft: Some(0.0),
            ground_speed_kt: None,
            heading_deg: None,
        }),
    }))
}

fn event(event_id: &str, event_time: DateTime<Utc>, status: FlightStatus) -> Snapshot {
    event_for("1545", event_id, event_time, status)
}

fn removal(flight: &str, event_id: &str, event_time: DateTime<Utc>) -> Snapshot {
    Snapshot::Removal(Removal {
        flight_id: FlightId::parse(flight).unwrap(),
        event_id: event_id.to_owned(),
        event_time,
    })
}

fn outcome(stored: u64, duplicates: u64) -> (u64, u64) {
    (stored, duplicates)
}

fn full(stored: u64, duplicates: u64, superseded: u64, conflicting: &[usize]) -> WriteOutcome {
    WriteOutcome { stored, duplicates, superseded, conflicting: conflicting.to_vec(), ledger_gaps: Vec::new() }
}

#[tokio::test]
async fn new_events_are_stored_and_a_redelivered_batch_is_all_duplicates() {
    for db in engines().await {
        let batch = [
            event("e1", at(1, 10, 0), FlightStatus::Scheduled),
            event("e2", at(1, 11, 0), FlightStatus::Boarding),
            event_for("22", "e3", at(1, 11, 0), FlightStatus::Scheduled),
        ];
        assert_eq!(db.write(&batch).await, outcome(3, 0), "{}", db.name());
        assert_eq!(db.write(&batch).await, outcome(0, 3), "{}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flight_events").await, 3, "{}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flights").await, 2, "{}", db.name());
        let state = db.state(FLIGHT).await.unwrap();
        assert_eq!((state.event_id.as_str(), state.status.as_deref()), ("e2", Some("boarding")), "{}", db.name());
    }
}

#[tokio::test]
async fn an_older_snapshot_after_a_newer_one_leaves_state_alone_and_history_keeps_both() {
    for db in engines().await {
        assert_eq!(db.write(&[event("new", at(1, 12, 0), FlightStatus::Departed)]).await, outcome(1, 0));
        assert_eq!(db.write(&[event("old", at(1, 9, 0), FlightStatus::Scheduled)]).await, outcome(1, 0));
        let state = db.state(FLIGHT).await.unwrap();
        assert_eq!((state.event_id.as_str(), state.status.as_deref()), ("new", Some("departed")), "{}", db.name());
        assert_eq!(db.history(FLIGHT).await, ["old", "new"], "{}", db.name());
    }
}

#[tokio::test]
async fn the_same_event_time_is_won_by_the_greater_event_id_whatever_the_order() {
    for db in engines().await {
        let t = at(1, 10, 0);
        db.write(&[event("b-event", t, FlightStatus::Delayed)]).await;
        db.write(&[event("a-event", t, FlightStatus::Boarding)]).await;
        assert_eq!(db.state(FLIGHT).await.unwrap().event_id, "b-event", "{}", db.name());
        // Byte order, not a locale's: "Z" (0x5A) sorts before "a" (0x61).
        db.write(&[event_for("7", "a", t, FlightStatus::Delayed), event_for("7", "Z", t, FlightStatus::Boarding)])
            .await;
        assert_eq!(db.state("UA7-2024-05-01-EWR").await.unwrap().event_id, "a", "{}", db.name());
    }
}

#[tokio::test]
async fn a_removal_hides_the_flight_and_an_older_event_does_not_bring_it_back() {
    for db in engines().await {
        db.write(&[event("e1", at(1, 10, 0), FlightStatus::Boarding)]).await;
        assert_eq!(db.write(&[removal(FLIGHT, "gone", at(1, 11, 0))]).await, outcome(1, 0));
        let state = db.state(FLIGHT).await.unwrap();
        assert!(state.removed, "{}", db.name());
        assert_eq!(state.event_id, "gone", "{}", db.name());
        // The last known details are kept with the removed row.
        assert_eq!(state.status.as_deref(), Some("boarding"), "{}", db.name());

        assert_eq!(db.write(&[event("late", at(1, 10, 30), FlightStatus::Departed)]).await, outcome(1, 0));
        let state = db.state(FLIGHT).await.unwrap();
        assert!(state.removed, "{}: an older event resurrected a removed flight", db.name());
        assert_eq!(db.history(FLIGHT).await, ["e1", "late", "gone"], "{}", db.name());
    }
}

#[tokio::test]
async fn a_newer_event_after_a_removal_brings_the_flight_back() {
    for db in engines().await {
        db.write(&[event("e1", at(1, 10, 0), FlightStatus::Boarding), removal(FLIGHT, "gone", at(1, 11, 0))]).await;
        assert!(db.state(FLIGHT).await.unwrap().removed, "{}", db.name());
        db.write(&[event("back", at(1, 12, 0), FlightStatus::Delayed)]).await;
        let state = db.state(FLIGHT).await.unwrap();
        assert!(!state.removed, "{}", db.name());
        assert_eq!((state.event_id.as_str(), state.status.as_deref()), ("back", Some("delayed")), "{}", db.name());
    }
}

#[tokio::test]
async fn a_removal_of_an_unknown_flight_is_kept_so_older_events_stay_hidden() {
    for db in engines().await {
        assert_eq!(db.write(&[removal(FLIGHT, "gone", at(1, 11, 0))]).await, outcome(1, 0));
        let state = db.state(FLIGHT).await.unwrap();
        assert!(state.removed && state.status.is_none(), "{}: {state:?}", db.name());
        assert_eq!(
            db.count("SELECT count(*) FROM flight_events WHERE payload IS NULL").await,
            1,
            "{}: a removal has no payload",
            db.name()
        );
        db.write(&[event("older", at(1, 10, 0), FlightStatus::Scheduled)]).await;
        assert!(db.state(FLIGHT).await.unwrap().removed, "{}", db.name());
    }
}

#[tokio::test]
async fn duplicates_inside_one_batch_are_stored_once_and_the_newest_snapshot_wins() {
    for db in engines().await {
        let batch = [
            event("e2", at(1, 11, 0), FlightStatus::Boarding),
            event("e1", at(1, 10, 0), FlightStatus::Scheduled),
            event("e2", at(1, 11, 0), FlightStatus::Boarding),
            event("e3", at(1, 12, 0), FlightStatus::Departed),
            event("e1", at(1, 10, 0), FlightStatus::Scheduled),
        ];
        assert_eq!(db.write(&batch).await, outcome(3, 2), "{}", db.name());
        assert_eq!(db.history(FLIGHT).await, ["e1", "e2", "e3"], "{}", db.name());
        assert_eq!(db.state(FLIGHT).await.unwrap().event_id, "e3", "{}", db.name());
    }
}

#[tokio::test]
async fn an_event_id_already_stored_with_other_content_is_conflicting_and_changes_nothing() {
    for db in engines().await {
        let first = event("e1", at(1, 10, 0), FlightStatus::Scheduled);
        db.write(std::slice::from_ref(&first)).await;
        // Same id, a later time in another month (another partition on PostgreSQL), different content.
        let other = event("e1", Utc.with_ymd_and_hms(2024, 6, 2, 0, 0, 0).unwrap(), FlightStatus::Cancelled);
        let batch = [event("e2", at(1, 9, 0), FlightStatus::Scheduled), other];
        assert_eq!(db.write_outcome(&batch).await, full(1, 0, 1, &[1]), "{}", db.name());
        let state = db.state(FLIGHT).await.unwrap();
        assert_eq!((state.event_id.as_str(), state.status.as_deref()), ("e1", Some("scheduled")), "{}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flight_events").await, 2, "{}", db.name());
        // The byte-identical redelivery is a duplicate, however often it comes.
        assert_eq!(db.write_outcome(&[first.clone(), first]).await, full(0, 2, 0, &[]), "{}", db.name());
        // A removal reusing an event's id conflicts too.
        assert_eq!(db.write_outcome(&[removal(FLIGHT, "e1", at(1, 10, 0))]).await, full(0, 0, 0, &[0]));
    }
}

#[tokio::test]
async fn a_reused_event_id_inside_one_batch_is_compared_with_its_first_delivery_or_the_stored_event() {
    for db in engines().await {
        let a = event("e1", at(1, 10, 0), FlightStatus::Scheduled);
        let b = event("e1", at(1, 10, 0), FlightStatus::Boarding);
        // Not stored yet: the first delivery is the reference.
        let batch = [a.clone(), b.clone(), a.clone(), b.clone()];
        assert_eq!(db.write_outcome(&batch).await, full(1, 1, 0, &[1, 3]), "{}", db.name());
        assert_eq!(db.state(FLIGHT).await.unwrap().status.as_deref(), Some("scheduled"), "{}", db.name());
        // Stored: the stored event is the reference, whatever the batch's order.
        assert_eq!(db.write_outcome(&[b.clone(), a.clone(), b]).await, full(0, 1, 0, &[0, 2]), "{}", db.name());
        assert_eq!(db.history(FLIGHT).await, ["e1"], "{}", db.name());
        let removal_twice = [removal(FLIGHT, "r1", at(1, 11, 0)), removal(FLIGHT, "r1", at(1, 11, 0))];
        assert_eq!(db.write_outcome(&removal_twice).await, full(1, 1, 0, &[]), "{}", db.name());
    }
}

#[tokio::test]
async fn every_history_row_keeps_the_digest_of_its_content_and_rows_without_one_compare_equal() {
    for db in engines().await {
        db.write(&[event("e1", at(1, 10, 0), FlightStatus::Scheduled), removal(FLIGHT, "r1", at(1, 11, 0))]).await;
        assert_eq!(db.count("SELECT count(*) FROM flight_events WHERE length(digest) = 32").await, 2, "{}", db.name());
        if db.store.engine() == Engine::Postgres {
            // The digest is SHA-256 of the stored payload text.
            let same = db
                .count("SELECT count(*) FROM flight_events WHERE digest = sha256(convert_to(payload::text, 'UTF8'))")
                .await;
            assert_eq!(same, 1);
        }
        // A row stored before the digest column: a reused id cannot be told apart, so it is a duplicate.
        db.execute("UPDATE flight_events SET digest = NULL").await;
        let other = event("e1", at(1, 10, 0), FlightStatus::Cancelled);
        assert_eq!(db.write_outcome(&[other]).await, full(0, 1, 0, &[]), "{}", db.name());
    }
}

#[tokio::test]
async fn stored_events_that_do_not_move_current_state_are_counted_as_superseded() {
    for db in engines().await {
        let name = db.name();
        assert_eq!(db.write_outcome(&[event("new", at(1, 12, 0), FlightStatus::Departed)]).await, full(1, 0, 0, &[]));
        // Older than the stored state: stored in history, state unchanged.
        let older = event("old", at(1, 9, 0), FlightStatus::Scheduled);
        assert_eq!(db.write_outcome(&[older]).await, full(1, 0, 1, &[]), "{name}");
        // A tombstone older than the stored state loses, visibly.
        let lost = removal(FLIGHT, "tombstone:flight-data-0@7", at(1, 11, 0));
        assert_eq!(db.write_outcome(&[lost]).await, full(1, 0, 1, &[]), "{name}");
        assert!(!db.state(FLIGHT).await.unwrap().removed, "{name}");
        // Inside one batch, in Kafka order: b1 is the newest when it comes, b2 newer still; neither is superseded.
        let batch = [
            event("b1", at(1, 13, 0), FlightStatus::Airborne),
            event("b2", at(1, 14, 0), FlightStatus::Landed),
            event_for("9", "other", at(1, 8, 0), FlightStatus::Scheduled),
        ];
        assert_eq!(db.write_outcome(&batch).await, full(3, 0, 0, &[]), "{name}");
        // A snapshot that comes after a newer one of the same batch is superseded.
        let late = [event("c2", at(1, 16, 0), FlightStatus::Landed), event("c1", at(1, 15, 0), FlightStatus::Airborne)];
        assert_eq!(db.write_outcome(&late).await, full(2, 0, 1, &[]), "{name}");
        assert_eq!(db.state(FLIGHT).await.unwrap().event_id, "c2", "{name}");
        // Duplicates are not stored, so never superseded.
        assert_eq!(db.write_outcome(&batch).await, full(0, 3, 0, &[]), "{name}");
    }
}

#[tokio::test]
async fn a_batch_of_ten_thousand_snapshots_is_written_in_one_call() {
    for db in engines().await {
        let base = at(1, 0, 0);
        // 2,000 flights, five snapshots each, spread over two months.
        let batch: Vec<Snapshot> = (0..10_000)
            .map(|i| {
                let number = (i % 2_000).to_string();
                let time = base + Duration::minutes(i64::from(i) * 9);
                event_for(&number, &format!("evt-{i:05}"), time, FlightStatus::Airborne)
            })
            .collect();
        assert_eq!(db.write(&batch).await, outcome(10_000, 0), "{}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flights").await, 2_000, "{}", db.name());
        // Flight 0's newest snapshot is the last of its five.
        assert_eq!(db.state("UA0-2024-05-01-EWR").await.unwrap().event_id, "evt-08000", "{}", db.name());
        assert_eq!(db.write(&batch).await, outcome(0, 10_000), "{}", db.name());
    }
}

#[tokio::test]
async fn history_partitions_are_created_for_every_month_a_batch_touches() {
    for db in engines().await {
        let times = [
            Utc.with_ymd_and_hms(2023, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 3, 15, 8, 0, 0).unwrap(),
        ];
        let batch: Vec<Snapshot> =
            times.iter().enumerate().map(|(i, t)| event(&format!("m{i}"), *t, FlightStatus::Scheduled)).collect();
        assert_eq!(db.write(&batch).await, outcome(3, 0), "{}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flight_events").await, 3, "{}", db.name());
        if db.store.engine() == Engine::Postgres {
            let partitions = db
                .count(
                    "SELECT count(*) FROM pg_inherits WHERE inhparent = 'flight_events'::regclass \
                     AND inhrelid::regclass::text IN ('flight_events_2023_12', 'flight_events_2024_01', \
                     'flight_events_2024_03')",
                )
                .await;
            assert_eq!(partitions, 3);
            assert_eq!(db.count("SELECT count(*) FROM flight_events_2024_01").await, 1);
        }
    }
}

/// Most snapshots of a flight in the air change only its position and times, none of them indexed, so
/// PostgreSQL can update the row in place (HOT) without touching any index. A column named anywhere in an
/// index, its predicate included, takes that away from every such update.
#[tokio::test]
async fn position_updates_of_a_flight_in_the_air_are_hot_updates_in_postgresql() {
    let Some(db) = postgres().await else { return };
    let moved = |i: u32| {
        let mut s = event(&format!("p{i}"), at(1, 15, i), FlightStatus::Airborne);
        if let Snapshot::Event(e) = &mut s {
            e.position = Some(Position {
                lat: 41.0 + f64::from(i) / 10.0,
                lon: -80.0 - f64::from(i) / 10.0,
                altitude_ft: Some(35_000.0),
                ground_speed_kt: Some(450.0),
                heading_deg: Some(250.0),
            });
            e.gate = Some("C71".into());
        }
        s
    };
    assert_eq!(db.write(&[moved(0)]).await, outcome(1, 0));
    const UPDATES: i64 = 10;
    for i in 1..=UPDATES as u32 {
        assert_eq!(db.write(&[moved(i)]).await, outcome(1, 0));
    }
    // Statistics reach pg_stat_user_tables when the writing backend goes idle (within about 10 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let stats = "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'flights'";
    while db.count(stats).await < UPDATES {
        assert!(std::time::Instant::now() < deadline, "no update statistics for flights after 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let hot = db.count("SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'flights'").await;
    assert_eq!((db.count(stats).await, hot), (UPDATES, UPDATES), "every position update is HOT");
    let flight = db.store.get_flight(&FlightId::parse(FLIGHT).unwrap()).await.unwrap().expect("the flight");
    assert_eq!(flight.position.map(|p| p.lat), Some(42.0), "the last position is served");
}

#[tokio::test]
async fn retention_drops_old_history_and_keeps_current_state() {
    for db in engines().await {
        let batch = [
            event("march", Utc.with_ymd_and_hms(2024, 3, 10, 0, 0, 0).unwrap(), FlightStatus::Scheduled),
            event("april", Utc.with_ymd_and_hms(2024, 4, 10, 0, 0, 0).unwrap(), FlightStatus::Delayed),
            event("may", at(1, 10, 0), FlightStatus::Departed),
        ];
        db.write(&batch).await;
        let dropped = db.store.drop_history_before(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap()).await.unwrap();
        // Whole partitions on PostgreSQL, rows on SQLite: two either way here.
        assert_eq!(dropped, 2, "{}", db.name());
        assert_eq!(db.history(FLIGHT).await, ["may"], "{}", db.name());
        assert_eq!(db.state(FLIGHT).await.unwrap().event_id, "may", "{}", db.name());
        // A store that dropped partitions can still write into those months again.
        assert_eq!(db.write(&[event("april-2", batch[1].event_time(), FlightStatus::Delayed)]).await, outcome(1, 0));
        assert_eq!(db.store.drop_history_before(at(1, 0, 0)).await.unwrap(), 1, "{}", db.name());
    }
}

#[tokio::test]
async fn a_store_whose_partitions_were_dropped_elsewhere_recreates_them() {
    for db in engines().await {
        let april = Utc.with_ymd_and_hms(2024, 4, 10, 0, 0, 0).unwrap();
        db.write(&[event("april", april, FlightStatus::Scheduled)]).await;
        // Another process applies retention; this store still believes April's partition exists.
        match &db.probe {
            Probe::Pg(p) => {
                sqlx::query("SELECT contrail_drop_event_partitions_before('2024-05-01T00:00:00Z')")
                    .execute(p)
                    .await
                    .unwrap();
            }
            Probe::Lite(p) => {
                sqlx::query("DELETE FROM flight_events").execute(p).await.unwrap();
            }
        }
        assert_eq!(db.write(&[event("april-2", april, FlightStatus::Delayed)]).await, outcome(1, 0), "{}", db.name());
    }
}

#[tokio::test]
async fn two_writers_racing_with_the_same_batch_store_each_event_once() {
    for db in engines().await {
        let batch: Vec<Snapshot> = (0..2_000)
            .map(|i| {
                event_for(
                    &(i % 500).to_string(),
                    &format!("race-{i:04}"),
                    at(2, 0, 0) + Duration::seconds(i),
                    FlightStatus::Landed,
                )
            })
            .collect();
        let (a, b) = tokio::join!(db.store.write_snapshots(&batch), db.store.write_snapshots(&batch));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.stored + b.stored, 2_000, "{}: {a:?} {b:?}", db.name());
        assert_eq!(a.duplicates + b.duplicates, 2_000, "{}: {a:?} {b:?}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flight_events").await, 2_000, "{}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flights").await, 500, "{}", db.name());
    }
}

/// Where the concurrent-writers test holds the writers back, so they race at that step when let go.
#[derive(Debug, Clone, Copy)]
enum Gate {
    /// No gate: the writers interleave as they happen to.
    None,
    /// A lock on `flight_events`: every writer has probed for stored ids and waits to insert history.
    History,
    /// A lock on `flights`: every writer has inserted its history and waits to write current state.
    State,
}

/// One Lambda instance's store: its own pool, as each concurrent ingest instance has.
async fn instance(url: &str) -> Store {
    let mut config = DbConfig::from_url(url);
    config.max_connections = 1;
    Store::connect(&config).await.unwrap()
}

/// Three ingest writers (one per Kafka partition, as the event source mapping runs them) and a redrive
/// write overlapping flights at once. Each writer carries every third snapshot of each flight plus the
/// newest one of a third of them (a redelivery across partitions); the redrive replays, one snapshot per
/// call as the redrive function does, the newest snapshot of 30 flights. On PostgreSQL the test also holds
/// all four at the history insert, then at the state upsert, and lets them go together. Every round ends
/// with every distinct event stored once, exactly the newest snapshot per flight, and no error (a
/// deadlock would be one).
#[tokio::test]
async fn three_writers_and_a_redrive_over_the_same_flights_leave_the_newest_snapshot_of_each() {
    const FLIGHTS: u32 = 300;
    const STEPS: u32 = 12;
    for db in engines().await {
        let gates: &[Gate] = match db.store.engine() {
            Engine::Postgres => &[Gate::None, Gate::History, Gate::State],
            // One writer at a time by design (BEGIN IMMEDIATE): nothing to hold back.
            Engine::Sqlite => &[Gate::None],
        };
        // The month partition exists before any gate is taken.
        db.write(&[event("concurrency-warm", at(1, 9, 0), FlightStatus::Scheduled)]).await;
        for (round, gate) in gates.iter().enumerate() {
            let number = |f: u32| (1000 * (round as u32 + 1) + f).to_string();
            let snapshot = |f: u32, k: u32| {
                let status = if k < 6 { FlightStatus::Scheduled } else { FlightStatus::Airborne };
                event_for(
                    &number(f),
                    &format!("c{round}-{f:03}-{k:02}"),
                    at(1, 10, 0) + Duration::minutes(k.into()),
                    status,
                )
            };
            let batches: Vec<Vec<Snapshot>> = (0..3)
                .map(|w| {
                    let mut b = Vec::new();
                    for f in 0..FLIGHTS {
                        for k in (0..STEPS).filter(|k| k % 3 == w || (*k == STEPS - 1 && f % 3 == 0)) {
                            b.push(snapshot(f, k));
                        }
                    }
                    // Not in time order: a partition's records reach the writer in offset order only.
                    b.reverse();
                    b
                })
                .collect();
            let redrive: Vec<Snapshot> = (0..30).map(|f| snapshot(f, STEPS)).collect();
            let stores = [instance(&db.url).await, instance(&db.url).await, instance(&db.url).await];
            let redrive_store = instance(&db.url).await;

            let held = match (gate, &db.probe) {
                (Gate::None, _) | (_, Probe::Lite(_)) => None,
                (Gate::History | Gate::State, Probe::Pg(pool)) => {
                    let table = if matches!(gate, Gate::History) { "flight_events" } else { "flights" };
                    let mut tx = pool.begin().await.unwrap();
                    sqlx::query(AssertSqlSafe(format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")))
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    Some((tx, pool.clone()))
                }
            };
            let writers = async {
                let (a, b, c) = tokio::join!(
                    stores[0].write_snapshots(&batches[0]),
                    stores[1].write_snapshots(&batches[1]),
                    stores[2].write_snapshots(&batches[2]),
                );
                [a, b, c]
            };
            let replay = async {
                let mut outcomes = Vec::new();
                for s in &redrive {
                    outcomes.push(redrive_store.write_snapshots(std::slice::from_ref(s)).await);
                }
                outcomes
            };
            let release = async {
                if let Some((tx, pool)) = held {
                    // All four wait: on the gate, or (at the state gate) on a writer that holds the gate's
                    // queue and inserted an event they carry too. Otherwise the test could not force the
                    // interleaving and says so.
                    let waiting = "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                                   WHERE NOT l.granted AND a.datname = current_database()";
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                    while sqlx::query_scalar::<_, i64>(waiting).fetch_one(&pool).await.unwrap() < 4 {
                        assert!(std::time::Instant::now() < deadline, "{gate:?}: the writers never reached the gate");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    tx.commit().await.unwrap();
                }
            };
            let (written, replayed, ()) = tokio::join!(writers, replay, release);
            let mut stored = 0;
            for (w, outcome) in written.into_iter().enumerate() {
                let o = outcome.unwrap_or_else(|e| panic!("{} {gate:?}: writer {w} failed: {e}", db.name()));
                assert!(o.conflicting.is_empty(), "{} {gate:?}: {o:?}", db.name());
                assert_eq!(o.stored + o.duplicates, batches[w].len() as u64, "{} {gate:?}: {o:?}", db.name());
                stored += o.stored;
            }
            for o in replayed {
                let o = o.unwrap_or_else(|e| panic!("{} {gate:?}: the redrive failed: {e}", db.name()));
                assert_eq!((o.stored, o.superseded), (1, 0), "{} {gate:?}: {o:?}", db.name());
                stored += 1;
            }
            let distinct = u64::from(FLIGHTS * STEPS) + 30;
            assert_eq!(stored, distinct, "{} {gate:?}: every event stored by exactly one writer", db.name());
            let like = format!("c{round}-%");
            let history = format!("SELECT count(*) FROM flight_events WHERE event_id LIKE '{like}'");
            assert_eq!(db.count(&history).await, distinct as i64, "{} {gate:?}", db.name());
            let flights = format!("SELECT count(*) FROM flights WHERE event_id LIKE '{like}'");
            assert_eq!(db.count(&flights).await, i64::from(FLIGHTS), "{} {gate:?}", db.name());
            for f in 0..FLIGHTS {
                let flight = format!("UA{}-2024-05-01-EWR", number(f));
                let newest = if f < 30 { STEPS } else { STEPS - 1 };
                let state = db.state(&flight).await.unwrap_or_else(|| panic!("{flight}: no state"));
                assert_eq!(state.event_id, format!("c{round}-{f:03}-{newest:02}"), "{} {gate:?}", db.name());
            }
        }
    }
}

fn letter(partition: i64, offset: i64) -> DeadLetter {
    DeadLetter {
        kind: DEAD_LETTER_KIND.to_owned(),
        topic: "flight-data".into(),
        partition,
        offset,
        timestamp: Some(1_714_557_600_000),
        key: Some("VUExNTQ1".into()),
        value: Some("bm90IGpzb24=".into()),
        value_omitted: false,
        reason: RejectReason::InvalidJson,
        field: None,
        detail: "expected value at line 1 column 1".into(),
        dead_lettered_at: Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap(),
    }
}

#[tokio::test]
async fn dead_letters_are_kept_once_listed_oldest_first_and_deleted() {
    for db in engines().await {
        let letters = [letter(0, 7), letter(1, 3), letter(0, 7)];
        assert_eq!(db.store.put_dead_letters(&letters).await.unwrap(), 2, "{}", db.name());
        assert_eq!(db.store.put_dead_letters(&letters[..2]).await.unwrap(), 0, "{}", db.name());

        let listed = db.store.list_dead_letters(10).await.unwrap();
        let coords: Vec<_> = listed.iter().map(|l| l.letter.coordinates()).collect();
        assert_eq!(coords, ["flight-data-0@7", "flight-data-1@3"], "{}", db.name());
        assert_eq!(listed[0].letter, letter(0, 7), "{}: the letter round-trips", db.name());
        assert_eq!(db.store.list_dead_letters(1).await.unwrap().len(), 1, "{}", db.name());

        assert_eq!(db.store.delete_dead_letters(&[listed[0].id, 999_999]).await.unwrap(), 1, "{}", db.name());
        let rest = db.store.list_dead_letters(10).await.unwrap();
        assert_eq!(rest.len(), 1, "{}", db.name());
        assert_eq!(rest[0].letter.coordinates(), "flight-data-1@3", "{}", db.name());
    }
}

#[tokio::test]
async fn migrating_twice_changes_nothing_and_keeps_the_data() {
    for db in engines().await {
        db.write(&[event("e1", at(1, 10, 0), FlightStatus::Scheduled)]).await;
        let applied = db.count("SELECT count(*) FROM _sqlx_migrations").await;
        assert!(applied >= 1, "{}", db.name());
        db.store.migrate().await.unwrap();
        db.store.ping().await.unwrap();
        assert_eq!(db.count("SELECT count(*) FROM flight_events").await, 1, "{}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM _sqlx_migrations").await, applied, "{}", db.name());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(db.name());
        let files = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql")))
            .count();
        assert_eq!(
            db.count("SELECT count(*) FROM _sqlx_migrations").await,
            files as i64,
            "{}: one row per migration",
            db.name()
        );
    }
}

#[tokio::test]
async fn an_unreachable_postgresql_is_unavailable_and_worth_retrying() {
    let closed = contrail_testkit::ClosedPort::new();
    let mut config = DbConfig::from_url(format!("postgres://contrail@127.0.0.1:{}/contrail", closed.port));
    config.connect_timeout = std::time::Duration::from_millis(500);
    // Connecting is lazy: building the store succeeds, the first use reports the outage.
    let store = Store::connect(&config).await.unwrap();
    for err in [
        store.ping().await.unwrap_err(),
        store.migrate().await.unwrap_err(),
        store.write_snapshots(&[event("e1", at(1, 10, 0), FlightStatus::Scheduled)]).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(err.is_retryable() && err.is_unavailable(), "{err:?}");
    }
}

/// `DB_CONNECT_ON_START`: opening a store never waits for the database. With it, the server sees a session
/// of the store's before any use (made while a cold start's runtime polls for its first event) and the first
/// use takes that session; without it, there is none until the first use.
#[tokio::test]
async fn a_store_opened_to_connect_on_start_connects_in_the_background_and_a_lazy_one_on_first_use() {
    let Some(db) = contrail_testkit::store::postgres().await else { return };
    let sessions = |application: &'static str| {
        let url = db.url.clone();
        async move {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(application)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    };
    let open = |application: &str, connect_on_start: bool| {
        let mut config = DbConfig::from_url(format!("{}?application_name={application}", db.url));
        config.connect_on_start = connect_on_start;
        async move { Store::open(&config).await.unwrap() }
    };
    let eager = open("contrail_eager", true).await;
    let lazy = open("contrail_lazy", false).await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sessions("contrail_eager").await == 0 {
        assert!(std::time::Instant::now() < deadline, "no session of the store opened with connect_on_start");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sessions("contrail_lazy").await, 0, "a lazy store connected before any use");
    eager.ping().await.unwrap();
    lazy.ping().await.unwrap();
    assert_eq!(sessions("contrail_eager").await, 1, "the first use takes the session made at start");
    assert_eq!(sessions("contrail_lazy").await, 1);
}

#[tokio::test]
async fn an_unusable_sqlite_location_is_a_configuration_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    // A path below a regular file: its directory can never be created.
    let url = format!("sqlite://{}/inside/contrail.db", file.path().display());
    let err = Store::connect(&DbConfig::from_url(url)).await.err().unwrap();
    assert!(matches!(err, StoreError::Config { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_missing_ca_bundle_is_a_configuration_error_at_start() {
    let mut config = DbConfig::from_url("postgres://contrail@127.0.0.1:5432/contrail");
    config.ca_bundle = Some(std::path::PathBuf::from("no-such-dir/rds-global-bundle.pem"));
    let err = Store::connect(&config).await.err().unwrap();
    assert!(matches!(err, StoreError::Config { .. }), "{err:?}");
}

/// A ledger entry for `records` records of `partition` from `first` on, whose snapshots are `snapshots` of
/// the batch and the rest codec rejects.
fn entry(partition: i64, first: i64, records: u64, snapshots: std::ops::Range<usize>) -> LedgerEntry {
    LedgerEntry {
        topic: "flight-data".into(),
        partition,
        first_offset: first,
        last_offset: first + records as i64 - 1,
        records,
        rejected: records - snapshots.len() as u64,
        snapshots,
        checksum: [partition as u8; 32],
        source: LedgerSource::Kafka,
    }
}

#[tokio::test]
async fn each_batch_writes_one_ledger_row_per_partition_with_how_its_records_ended() {
    for db in engines().await {
        let first = [
            event("l1", at(1, 10, 0), FlightStatus::Scheduled),
            event("l2", at(1, 11, 0), FlightStatus::Boarding),
            event_for("33", "l3", at(1, 11, 0), FlightStatus::Scheduled),
        ];
        db.write(&first).await;
        // Partition 0: l1 again (a duplicate) and l4 (new); one record the codec refused.
        // Partition 1: l2 with other content (conflicting) and l5 (new).
        let batch = [
            first[0].clone(),
            event("l4", at(1, 12, 0), FlightStatus::Departed),
            event("l2", at(1, 11, 0), FlightStatus::Cancelled),
            event_for("33", "l5", at(1, 12, 0), FlightStatus::Boarding),
        ];
        let ledger = [entry(0, 100, 3, 0..2), entry(1, 40, 2, 2..4)];
        let w = db.store.write_batch(&batch, &ledger).await.unwrap();
        assert_eq!((w.stored, w.duplicates, w.conflicting.as_slice()), (2, 1, [2].as_slice()), "{}", db.name());
        assert!(w.ledger_gaps.is_empty(), "{}: the first rows of a partition have nothing before them", db.name());

        let rows = db.store.ledger_rows(&LedgerFilter::default()).await.unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.partition, r.first_offset, r.last_offset, r.records, r.stored, r.duplicates, r.dead_lettered))
            .collect();
        assert_eq!(got, [(0, 100, 102, 3, 1, 1, 1), (1, 40, 41, 2, 1, 0, 1)], "{}", db.name());
        assert_eq!(rows[1].checksum, [1; 32], "{}", db.name());

        // Nothing new: a redelivery and a conflicting id (PostgreSQL commits such a batch on a path of its own).
        let again = [first[0].clone(), event("l2", at(1, 11, 0), FlightStatus::Diverted)];
        let w = db.store.write_batch(&again, &[entry(0, 200, 3, 0..2)]).await.unwrap();
        assert_eq!((w.stored, w.duplicates, w.conflicting.as_slice()), (0, 1, [1].as_slice()), "{}", db.name());
        let rows = db.store.ledger_rows(&LedgerFilter::default()).await.unwrap();
        let last = rows.iter().find(|r| r.first_offset == 200).expect("the row of the batch with nothing new");
        let got = (last.records, last.stored, last.duplicates, last.dead_lettered);
        assert_eq!(got, (3, 0, 1, 2), "{}", db.name());
        assert_eq!(rows[0].source, "kafka", "{}", db.name());
        let age = Utc::now() - rows[0].committed_at;
        assert!(
            age >= Duration::zero() && age < Duration::minutes(5),
            "{}: committed at {}",
            db.name(),
            rows[0].committed_at
        );
    }
}

#[tokio::test]
async fn a_batch_of_only_rejected_records_still_writes_its_ledger_row() {
    for db in engines().await {
        let w = db.store.write_batch(&[], &[entry(2, 7, 4, 0..0)]).await.unwrap();
        assert_eq!((w.stored, w.duplicates), (0, 0), "{}", db.name());
        let rows = db.store.ledger_rows(&LedgerFilter::default()).await.unwrap();
        assert_eq!(rows.len(), 1, "{}", db.name());
        assert_eq!((rows[0].records, rows[0].dead_lettered, rows[0].last_offset), (4, 4, 10), "{}", db.name());
    }
}

#[tokio::test]
async fn the_ledger_commits_with_the_batch_or_not_at_all() {
    for db in engines().await {
        // A ledger row the table refuses (its last offset before its first) fails the whole transaction.
        let mut broken = entry(0, 5, 1, 0..1);
        broken.last_offset = 3;
        let err = db.store.write_batch(&[event("tx1", at(1, 10, 0), FlightStatus::Scheduled)], &[broken]).await;
        assert!(err.is_err(), "{}: {err:?}", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flight_events").await, 0, "{}: history rolled back", db.name());
        assert_eq!(db.count("SELECT count(*) FROM flights").await, 0, "{}: state rolled back", db.name());
        assert_eq!(db.count("SELECT count(*) FROM ingest_ledger").await, 0, "{}", db.name());
    }
}

#[tokio::test]
async fn a_batch_that_starts_past_the_ledgers_last_offset_plus_one_reports_the_gap() {
    for db in engines().await {
        let write = |ledger: Vec<LedgerEntry>| {
            let store = db.store.clone();
            async move { store.write_batch(&[], &ledger).await.unwrap().ledger_gaps }
        };
        assert!(write(vec![entry(0, 0, 10, 0..0), entry(1, 0, 5, 0..0)]).await.is_empty(), "{}", db.name());
        // Contiguous on 0, a redelivery (overlap) on 1: no gap.
        assert!(write(vec![entry(0, 10, 10, 0..0), entry(1, 2, 5, 0..0)]).await.is_empty(), "{}", db.name());
        // Partition 0 resumes at 25: offsets 20..=24 were never accounted for.
        let gaps = write(vec![entry(0, 25, 5, 0..0), entry(1, 7, 1, 0..0)]).await;
        let got: Vec<_> = gaps.iter().map(|g| (g.partition, g.first_offset, g.last_offset, g.offsets())).collect();
        assert_eq!(got, [(0, 20, 24, 5)], "{}", db.name());
        // A replay from the failure bucket fills the range; it is not itself a gap.
        let mut replay = entry(0, 20, 5, 0..0);
        replay.source = LedgerSource::S3;
        assert!(write(vec![replay]).await.is_empty(), "{}", db.name());
        let audits = audit(&db.store.ledger_rows(&LedgerFilter::default()).await.unwrap(), None, None);
        assert!(audits.iter().all(|a| a.is_consistent()), "{}: {audits:?}", db.name());
        let sources: Vec<String> = db
            .store
            .ledger_rows(&LedgerFilter { partitions: vec![0], ..LedgerFilter::default() })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.source)
            .collect();
        assert_eq!(sources, ["kafka", "kafka", "s3", "kafka"], "{}: by first offset", db.name());
    }
}

#[tokio::test]
async fn ledger_rows_are_selected_by_topic_and_partition() {
    for db in engines().await {
        db.store.write_batch(&[], &[entry(0, 0, 1, 0..0), entry(1, 0, 1, 0..0), entry(2, 0, 1, 0..0)]).await.unwrap();
        let mut other = entry(0, 0, 1, 0..0);
        other.topic = "other-topic".into();
        db.store.write_batch(&[], &[other]).await.unwrap();
        let select = |filter: LedgerFilter| {
            let store = db.store.clone();
            async move {
                store
                    .ledger_rows(&filter)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.topic, r.partition))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(select(LedgerFilter::default()).await.len(), 4, "{}", db.name());
        let some = LedgerFilter { topic: Some("flight-data".into()), partitions: vec![2, 0] };
        assert_eq!(select(some).await, [("flight-data".into(), 0), ("flight-data".into(), 2)], "{}", db.name());
        let other = LedgerFilter { topic: Some("other-topic".into()), ..LedgerFilter::default() };
        assert_eq!(select(other).await, [("other-topic".into(), 0)], "{}", db.name());
    }
}

#[tokio::test]
async fn retention_drops_the_ledger_rows_committed_before_the_horizon() {
    for db in engines().await {
        db.store.write_batch(&[], &[entry(0, 0, 1, 0..0)]).await.unwrap();
        // Rows committed now stay at a horizon in the past ...
        db.store.drop_history_before(Utc::now() - Duration::days(31)).await.unwrap();
        assert_eq!(db.count("SELECT count(*) FROM ingest_ledger").await, 1, "{}", db.name());
        // ... and go at a horizon after their commit.
        db.store.drop_history_before(Utc::now() + Duration::seconds(1)).await.unwrap();
        assert_eq!(db.count("SELECT count(*) FROM ingest_ledger").await, 0, "{}", db.name());
    }
}

#[tokio::test]
async fn retention_keeps_the_ledger_rows_above_a_late_replay_so_it_opens_no_gap() {
    for db in engines().await {
        // Partition 0: 0..=99 and 200..=1499 commit, 100..=199 failed to the bucket; partition 1: one row.
        db.store.write_batch(&[], &[entry(0, 0, 100, 0..0), entry(1, 0, 10, 0..0)]).await.unwrap();
        db.store.write_batch(&[], &[entry(0, 200, 1_300, 0..0)]).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let horizon = Utc::now();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // Long after, the replay of 100..=199 from the bucket.
        let mut replay = entry(0, 100, 100, 0..0);
        replay.source = LedgerSource::S3;
        db.store.write_batch(&[], &[replay]).await.unwrap();

        db.store.drop_history_before(horizon).await.unwrap();
        let kept = db.count("SELECT count(*) FROM ingest_ledger").await;
        let kept_from = db.count("SELECT min(first_offset) FROM ingest_ledger").await;
        let above = db.count("SELECT count(*) FROM ingest_ledger WHERE first_offset = 200").await;
        // 0..=99 and partition 1 go; 200..=1499 stays with the replay below it.
        assert_eq!((kept, kept_from, above), (2, 100, 1), "{}", db.name());
    }
}

#[tokio::test]
async fn the_local_log_reserves_offsets_atomically_and_continues_where_it_ended() {
    for db in engines().await {
        let first = db.store.reserve_local_offsets("flight-data", &[(0, 10)], 1_000).await.unwrap();
        assert_eq!(first, [(0, 1_000)], "{}: a new partition starts where asked", db.name());
        let next = db.store.reserve_local_offsets("flight-data", &[(1, 1), (0, 5)], 7).await.unwrap();
        assert_eq!(next, [(1, 7), (0, 1_010)], "{}: an old one continues, whatever start is given", db.name());
        // Reservations racing on the same partitions never overlap and leave no hole.
        let racing = (0..8).map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move { store.reserve_local_offsets("flight-data", &[(2, 3), (3, 2)], 0).await.unwrap() })
        });
        let mut starts: Vec<(i64, i64)> =
            futures_util::future::join_all(racing).await.into_iter().flat_map(Result::unwrap).collect();
        starts.sort_unstable();
        let expected: Vec<(i64, i64)> = (0..8).map(|i| (2, i * 3)).chain((0..8).map(|i| (3, i * 2))).collect();
        assert_eq!(starts, expected, "{}", db.name());
    }
}
