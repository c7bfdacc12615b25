//! Case 1 for ingest: PostgreSQL stopped (immediate) in the middle of a batch write, then started.
//!
//! The handler fails with the retryable `Retryable.DatabaseUnavailable`, nothing of the batch is
//! committed and no dead letter is sent; once the database is back, the same batch stores exactly once
//! with exact counts.

use std::time::Duration;

use contrail_ingest::{MskEvent, MskRecord, State, ingest};
use contrail_shared::config::DbConfig;
use contrail_shared::domain::FlightId;
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::storage::Store;
use contrail_testkit::flight::FlightEvent;
use contrail_testkit::postgres::PgServer;
use sqlx::Connection as _;

const TOPIC: &str = "flight-data";
const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/contrail-msk/6b2a1f3c-5d4e-4a8b-9c0d-1e2f3a4b5c6d-2";

/// 2,000 snapshots of 400 flights over two partitions, and one record that is not JSON.
fn batch(first_offset: i64) -> MskEvent {
    let mut records: Vec<MskRecord> = (0..2_000i64)
        .map(|i| {
            let ev = FlightEvent::new(
                &format!("outage-{first_offset}-{i}"),
                &format!("NK{}", i % 400),
                "scheduled",
                "2026-11-25T08:00:00Z",
            )
            .route("FLL", "LGA");
            let (key, value) = (ev.flight_id(), ev.to_string());
            MskRecord::new(TOPIC, i % 2, first_offset + i / 2, 0, Some(key.as_bytes()), Some(value.as_bytes()))
        })
        .collect();
    records.push(MskRecord::new(TOPIC, 2, first_offset, 0, None, Some(b"not json")));
    MskEvent::from_records(ARN, records)
}

async fn connect(server: &PgServer) -> Store {
    let mut config = DbConfig::from_url(server.url("postgres"));
    config.max_connections = 1;
    config.connect_timeout = Duration::from_secs(2);
    let store = Store::connect(&config).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn a_database_lost_mid_batch_commits_nothing_and_the_retry_gives_exact_counts() {
    let server = match PgServer::start() {
        Ok(s) => s,
        Err(why) => return contrail_testkit::skip("PostgreSQL", &why),
    };
    let store = connect(&server).await;
    // Dead letters in the store's own table: the sink is not what this case breaks.
    let state = State::new(store.clone(), DeadLetterSink::Store(store.clone()));
    let first = ingest(&state, &batch(0)).await.unwrap();
    assert_eq!((first.stored, first.dead_lettered), (2_000, 1));

    // Hold a lock the batch's write needs, wait until the handler is blocked inside its transaction,
    // then kill the server under it.
    let mut blocker = sqlx::PgConnection::connect(&server.url("postgres")).await.unwrap();
    // The test cluster runs with synchronous_commit=off; make the first batch durable before the crash.
    sqlx::query("CHECKPOINT").execute(&mut blocker).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE flights, flight_events IN ACCESS EXCLUSIVE MODE").execute(&mut blocker).await.unwrap();
    let second = batch(10_000);
    let task = {
        let state = state.clone();
        let second = second.clone();
        tokio::spawn(async move { ingest(&state, &second).await })
    };
    let mut blocked = false;
    for _ in 0..400 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut blocker)
        .await
        .unwrap();
        if waiting > 0 {
            blocked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(blocked, "the handler never reached the database");
    server.stop().unwrap();
    drop(blocker);

    let err = tokio::time::timeout(Duration::from_secs(60), task).await.unwrap().unwrap().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.error_type(), "Retryable.DatabaseUnavailable");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "Retryable.DatabaseUnavailable");

    // While the server is down, a new attempt fails the same way.
    let down = ingest(&state, &second).await.unwrap_err();
    assert!(down.is_retryable(), "{down}");
    assert_eq!(down.error_type(), "Retryable.DatabaseUnavailable");

    server.start_again().unwrap();
    let flight = FlightId::parse("NK0-2026-11-25-FLL").unwrap();
    let history = store.flight_history(&flight, None, 100).await.unwrap();
    assert_eq!(history.len(), 5, "only the first batch's events of NK0 are in history");
    assert!(history.iter().all(|h| h.event_id.starts_with("outage-0-")));
    assert_eq!(store.list_dead_letters(100).await.unwrap().len(), 1, "no dead letter of the failed batch was sent");

    let retry = ingest(&state, &second).await.unwrap();
    assert_eq!((retry.records, retry.stored, retry.duplicates, retry.dead_lettered), (2_001, 2_000, 0, 1));
    assert!(retry.is_balanced());
    assert_eq!(store.flight_history(&flight, None, 100).await.unwrap().len(), 10);
    assert_eq!(store.list_dead_letters(100).await.unwrap().len(), 2);

    // The mapping may deliver the batch once more: every snapshot is then a duplicate and the dead
    // letter lands on the same coordinates; nothing is stored twice.
    let again = ingest(&state, &second).await.unwrap();
    assert_eq!((again.stored, again.duplicates, again.dead_lettered), (0, 2_000, 1));
    assert_eq!(store.flight_history(&flight, None, 100).await.unwrap().len(), 10);
    assert_eq!(store.list_dead_letters(100).await.unwrap().len(), 2, "the dead-letter table keeps one row per record");
}
