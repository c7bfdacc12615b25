//! History retention on a real PostgreSQL while other sessions use the table: it must give up within its
//! lock timeout rather than wait, never hold ingest or reads behind it for longer than that, finish an
//! interrupted detach on its next run, and leave no partition past the horizon.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use contrail_shared::codec::parse_event;
use contrail_shared::config::DbConfig;
use contrail_shared::domain::Snapshot;
use contrail_shared::storage::{RETENTION_LOCK_TIMEOUT, Store};
use contrail_shared::telemetry::ErrorChain;
use contrail_testkit::flight::FlightEvent;
use serde_json::json;

/// Time allowed on top of the lock timeout for the statements themselves (a loaded CI machine).
const SLACK: Duration = Duration::from_secs(3);

fn month(year: i32, month: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, 10, 12, 0, 0).single().expect("a valid time")
}

fn snapshot(event_id: &str, event_time: DateTime<Utc>) -> Snapshot {
    let text = FlightEvent::new(event_id, "UA1545", "scheduled", &event_time.to_rfc3339())
        .date("2024-05-01")
        .route("EWR", "IAH")
        .with("scheduled_arrival", json!("2024-05-01T18:00:00Z"))
        .to_string();
    Snapshot::Event(Box::new(parse_event(&text).expect("a valid event")))
}

/// A database with history in March, April and May 2024, and two stores on it: the one that applies
/// retention and another instance that keeps ingesting and reading.
async fn database() -> Option<(String, Store, Store)> {
    let db = contrail_testkit::store::postgres().await?;
    let (url, retention) = (db.url, db.store);
    let batch = [snapshot("march", month(2024, 3)), snapshot("april", month(2024, 4)), snapshot("may", month(2024, 5))];
    assert_eq!(retention.write_snapshots(&batch).await.expect("write").stored, 3);
    let other = Store::connect(&DbConfig::from_url(&url)).await.expect("store");
    Some((url, retention, other))
}

async fn partitions(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c WHERE c.relkind IN ('r', 'p') \
         AND c.relname ~ '^flight_events_[0-9]{4}_[0-9]{2}$' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("partitions")
}

/// A session in the middle of a long read of the history: it holds `ACCESS SHARE` on `flight_events` and
/// every partition until it commits, as a slow API query or a batch in flight does.
async fn long_reader(url: &str) -> PgConnection {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM flight_events").fetch_one(&mut conn).await.expect("read");
    assert_eq!(n, 3);
    conn
}

/// Waits (bounded) until some session waits on a lock: retention is then queued behind the long reader.
async fn until_a_session_waits_for_a_lock(pool: &PgPool) {
    let deadline = Instant::now() + RETENTION_LOCK_TIMEOUT + SLACK;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(pool)
        .await
        .expect("pg_stat_activity");
        if waiting > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "retention never waited for the long reader's lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_gives_up_within_its_lock_timeout_and_never_holds_ingest_or_reads_behind_it() {
    let Some((url, retention, other)) = database().await else { return };
    let probe = PgPool::connect(&url).await.expect("probe");
    let keep_from = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
    let reader = long_reader(&url).await;

    let started = Instant::now();
    let run = tokio::spawn(async move {
        // Bounded so that a retention that waits forever fails the test instead of hanging it.
        let outcome = tokio::time::timeout(RETENTION_LOCK_TIMEOUT * 5, retention.drop_history_before(keep_from)).await;
        (outcome, started.elapsed(), retention)
    });
    until_a_session_waits_for_a_lock(&probe).await;

    // While retention waits, another instance ingests and reads history as usual.
    let blocked_for = Instant::now();
    let ingest = tokio::time::timeout(
        RETENTION_LOCK_TIMEOUT + SLACK,
        other.write_snapshots(&[snapshot("may-2", month(2024, 5)), snapshot("april-2", month(2024, 4))]),
    )
    .await;
    let read = tokio::time::timeout(
        RETENTION_LOCK_TIMEOUT + SLACK,
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM flight_events").fetch_one(&probe),
    )
    .await;
    let blocked_for = blocked_for.elapsed();
    assert_eq!(ingest.expect("ingest was held behind retention").expect("ingest").stored, 2);
    assert!(read.expect("a read was held behind retention").is_ok());
    // Not merely bounded by the timeout: the concurrent detach holds neither of them up at all.
    assert!(blocked_for < RETENTION_LOCK_TIMEOUT / 2, "ingest and a read took {blocked_for:?}");

    let (outcome, took, retention) = run.await.expect("retention task");
    let outcome = outcome.unwrap_or_else(|_| panic!("retention still waited after {took:?}"));
    let error = outcome.expect_err("retention cannot finish while the reader may still see the partitions");
    let error = ErrorChain(&error).to_string();
    assert!(error.contains("lock timeout"), "{error}");
    assert!(took < RETENTION_LOCK_TIMEOUT + SLACK, "retention gave up only after {took:?}");
    // The reader kept its view of the history through all of it.
    drop(reader);

    // Once the reader is gone, the next run finishes the interrupted detach and drops what is past the horizon.
    let dropped = retention.drop_history_before(keep_from).await.expect("retention");
    assert_eq!(dropped, 2, "March and April");
    assert_eq!(partitions(&probe).await, ["flight_events_2024_05"]);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT event_id FROM flight_events ORDER BY event_id").fetch_all(&probe).await.unwrap();
    assert_eq!(left, ["may", "may-2"]);
    // The month can be written again: retention left no half-detached table to stand in for its partition.
    assert_eq!(retention.write_snapshots(&[snapshot("april-3", month(2024, 4))]).await.unwrap().stored, 1);
    assert_eq!(retention.drop_history_before(keep_from).await.unwrap(), 1);
}

#[tokio::test]
async fn retention_drops_a_table_an_earlier_run_detached_but_did_not_drop() {
    let Some((url, retention, _)) = database().await else { return };
    let probe = PgPool::connect(&url).await.expect("probe");
    // An earlier run detached March and then timed out on the drop.
    sqlx::query("ALTER TABLE flight_events DETACH PARTITION flight_events_2024_03").execute(&probe).await.unwrap();
    let keep_from = Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap();
    assert_eq!(retention.drop_history_before(keep_from).await.expect("retention"), 1);
    assert_eq!(partitions(&probe).await, ["flight_events_2024_04", "flight_events_2024_05"]);
}

#[tokio::test]
async fn the_sql_retention_function_gives_up_after_its_lock_timeout_too() {
    let Some((url, _, _)) = database().await else { return };
    let probe = PgPool::connect(&url).await.expect("probe");
    let reader = long_reader(&url).await;
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        RETENTION_LOCK_TIMEOUT * 5,
        sqlx::query("SELECT contrail_drop_event_partitions_before('2024-05-01T00:00:00Z')").execute(&probe),
    )
    .await;
    let took = started.elapsed();
    let error = outcome.unwrap_or_else(|_| panic!("still waiting after {took:?}")).expect_err("a lock timeout");
    let error = ErrorChain(&error).to_string();
    assert!(error.contains("lock timeout"), "{error}");
    assert!(took < RETENTION_LOCK_TIMEOUT + SLACK, "gave up only after {took:?}");
    drop(reader);
    assert_eq!(partitions(&probe).await.len(), 3, "nothing dropped");
}
