//! Case 1 for redrive: PostgreSQL stopped (immediate) in the middle of a redrive, then started.
//!
//! From the dead-letter queue (moto's SQS) and from the failure bucket (moto's S3): the item being
//! written when the server dies, and every item after it, is reported `store_unavailable` and stays
//! where it is (message in the queue, object outside `replayed/`); what was stored before the crash is
//! gone from the source. Once the server is back, the next run stores the rest, and every event is in
//! the database exactly once.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use contrail_redrive::{DeadLetterQueue, FailureBucket, RedriveReport, State, handle};
use contrail_shared::codec::{RawRecord, RejectReason, Rejection, encode_base64};
use contrail_shared::config::DbConfig;
use contrail_shared::deadletter::DeadLetter;
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::storage::Store;
use contrail_testkit::flight::FlightEvent;
use contrail_testkit::moto::MotoServer;
use contrail_testkit::postgres::PgServer;
use serde_json::json;
use sqlx::Connection as _;

const TOPIC: &str = "flight-data";
/// The flight whose current-state row the test locks, so the redrive blocks on it mid-run.
const HELD: usize = 7;
const LETTERS: usize = 30;

fn flight_event(i: usize) -> FlightEvent {
    FlightEvent::new(&format!("redrive-{i}"), &format!("NK{i}"), "scheduled", "2026-11-25T08:00:00Z")
        .route("FLL", "LGA")
}

/// A dead letter, as an older build wrote it, of a record that replays now.
fn letter(i: usize) -> DeadLetter {
    let ev = flight_event(i);
    let (key, value) = (encode_base64(ev.flight_id()), encode_base64(ev.to_string()));
    let raw = RawRecord {
        topic: TOPIC,
        partition: 0,
        offset: i as i64,
        timestamp_ms: Some(1_764_057_600_000),
        key: Some(&key),
        value: Some(&value),
    };
    let rejection = Rejection { reason: RejectReason::SchemaViolation, field: None, detail: "older build".into() };
    DeadLetter::new(&raw, rejection, chrono::Utc::now())
}

/// An ESM failure record of one failed batch holding events `events` on partition `partition`.
fn failure_record(partition: i64, events: &[usize]) -> String {
    let records: Vec<serde_json::Value> = events
        .iter()
        .map(|&i| {
            let ev = flight_event(i);
            json!({"topic": TOPIC, "partition": partition, "offset": i, "timestamp": 1_764_057_600_000i64,
                "timestampType": "CREATE_TIME", "key": encode_base64(ev.flight_id()),
                "value": encode_base64(ev.to_string()), "headers": []})
        })
        .collect();
    let payload = json!({"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:us-east-1:1:cluster/c/x",
        "bootstrapServers": "b-1:9098", "records": {format!("{TOPIC}-{partition}"): records}});
    json!({
        "requestContext": {"requestId": format!("r-{partition}"), "functionArn": "arn:aws:lambda:us-east-1:1:function:ingest",
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2026-11-25T10:25:00.000Z",
        "KafkaBatchInfo": {"batchSize": events.len(), "bootstrapServers": "b-1:9098", "payloadSize": 1,
            "recordsInfo": {format!("{TOPIC}-{partition}"): {"firstRecordOffset": "0", "lastRecordOffset": "9"}}},
        "payload": payload.to_string(),
    })
    .to_string()
}

/// A dedicated cluster with a database whose commits are durable (the harness turns synchronous commit
/// off; a crash would then lose commits the redrive already acknowledged by deleting the message).
struct Db {
    server: PgServer,
    url: String,
}

async fn database() -> Option<Db> {
    let server = match PgServer::start() {
        Ok(s) => s,
        Err(why) => {
            contrail_testkit::skip("PostgreSQL", &why);
            return None;
        }
    };
    let mut admin = sqlx::PgConnection::connect(&server.url("postgres")).await.unwrap();
    sqlx::query("CREATE DATABASE redrive").execute(&mut admin).await.unwrap();
    sqlx::query("ALTER DATABASE redrive SET synchronous_commit = on").execute(&mut admin).await.unwrap();
    let url = server.url("redrive");
    Some(Db { server, url })
}

async fn store(db: &Db) -> Store {
    let mut config = DbConfig::from_url(db.url.clone());
    config.max_connections = 1;
    config.connect_timeout = Duration::from_secs(2);
    let store = Store::connect(&config).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn sdk(moto: &MotoServer) -> (aws_sdk_sqs::Client, aws_sdk_s3::Client) {
    let creds = aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "tests");
    let sqs = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(creds.clone())
        .endpoint_url(moto.endpoint())
        .build();
    let s3 = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(moto.endpoint())
        .force_path_style(true)
        .build();
    (aws_sdk_sqs::Client::from_conf(sqs), aws_sdk_s3::Client::from_conf(s3))
}

/// Stores an older event of the held flight, then locks its current-state row in an open transaction:
/// the redrive's write of that flight waits on the lock.
async fn hold_flight(db: &Db, store: &Store) -> sqlx::PgConnection {
    let older = FlightEvent::new("redrive-held-older", &format!("NK{HELD}"), "scheduled", "2026-11-25T07:00:00Z")
        .route("FLL", "LGA");
    let raw_key = encode_base64(older.flight_id());
    let raw_value = encode_base64(older.to_string());
    let raw = RawRecord {
        topic: TOPIC,
        partition: 9,
        offset: 0,
        timestamp_ms: Some(0),
        key: Some(&raw_key),
        value: Some(&raw_value),
    };
    let snapshot = contrail_shared::codec::decode_record(&raw).unwrap();
    assert_eq!(store.write_snapshots(&[snapshot]).await.unwrap().stored, 1);
    let mut blocker = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("SELECT 1 FROM flights WHERE flight_id = $1 FOR UPDATE")
        .bind(older.flight_id())
        .execute(&mut blocker)
        .await
        .unwrap();
    blocker
}

/// Waits (bounded) until another backend waits on a lock, then kills the server.
async fn crash_when_blocked(db: &Db, mut blocker: sqlx::PgConnection) {
    let mut blocked = false;
    for _ in 0..800 {
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
    assert!(blocked, "the redrive never reached the held flight");
    db.server.stop().unwrap();
    drop(blocker);
}

/// Event ids in `flight_events` with how many times each is there.
async fn stored_events(db: &Db) -> Vec<(String, i64)> {
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query_as(
        "SELECT event_id, count(*) FROM flight_events WHERE event_id LIKE 'redrive-%' GROUP BY event_id ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// Every message body in the queue, leaving the messages visible again.
async fn peek(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<DeadLetter> {
    let mut bodies = Vec::new();
    let mut handles = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .send()
            .await
            .unwrap();
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            bodies.push(serde_json::from_str::<DeadLetter>(m.body().unwrap()).unwrap());
            handles.push(m.receipt_handle.unwrap());
        }
    }
    for chunk in handles.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .build()
                    .unwrap()
            })
            .collect();
        sqs.change_message_visibility_batch().queue_url(queue).set_entries(Some(entries)).send().await.unwrap();
    }
    bodies.sort_by_key(|l| l.offset);
    bodies
}

fn report(value: serde_json::Value) -> RedriveReport {
    serde_json::from_value(value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_lost_mid_queue_redrive_keeps_every_unstored_message_and_the_rerun_stores_each_once() {
    let Some(db) = database().await else { return };
    let Some(moto) = MotoServer::start() else { return };
    let (sqs, _) = sdk(&moto);
    let queue = sqs.create_queue().queue_name("dlq-outage").send().await.unwrap().queue_url.unwrap();
    for i in 0..LETTERS {
        sqs.send_message().queue_url(&queue).message_body(letter(i).to_json()).send().await.unwrap();
    }
    let store = store(&db).await;
    let state = State::new(store.clone(), DeadLetterSink::Store(store.clone()))
        .with_dlq(DeadLetterQueue::new(sqs.clone(), &queue));

    let blocker = hold_flight(&db, &store).await;
    let run = {
        let state = state.clone();
        tokio::spawn(async move { handle(&state, json!({"source": "dlq"})).await })
    };
    crash_when_blocked(&db, blocker).await;
    let first = report(tokio::time::timeout(Duration::from_secs(120), run).await.unwrap().unwrap().unwrap());

    // The run itself succeeds with a report: items that failed are named, with the documented reason.
    assert_eq!(first.examined, LETTERS as u64);
    assert!(first.replayed < LETTERS as u64, "the held flight cannot have been stored");
    assert_eq!(first.replayed + first.still_failing.len() as u64, LETTERS as u64);
    assert_eq!(first.stored, first.replayed, "each replayed letter stored one new event");
    assert!(
        first.still_failing.iter().all(|f| f.reason == contrail_redrive::report::FailReason::StoreUnavailable),
        "{:?}",
        first.still_failing
    );

    db.server.start_again().unwrap();
    let stored: BTreeSet<String> = stored_events(&db).await.into_iter().map(|(id, _)| id).collect();
    let left = peek(&sqs, &queue).await;
    assert_eq!(left.len(), first.still_failing.len(), "every message not stored is still in the queue");
    assert_eq!(stored.len() as u64 - 1, first.stored, "what the report calls stored survived the crash");
    for l in &left {
        assert!(!stored.contains(&format!("redrive-{}", l.offset)), "a stored letter was left in the queue");
    }
    assert!(left.iter().any(|l| l.offset == HELD as i64));

    let second = report(handle(&state, json!({"source": "dlq"})).await.unwrap());
    assert_eq!(
        (second.examined, second.replayed, second.stored),
        (left.len() as u64, left.len() as u64, left.len() as u64)
    );
    assert_eq!(second.duplicates, 0);
    assert!(second.still_failing.is_empty(), "{:?}", second.still_failing);
    assert!(peek(&sqs, &queue).await.is_empty(), "the queue is drained");

    let events = stored_events(&db).await;
    assert_eq!(events.len(), LETTERS + 1, "every letter's event and the held flight's older one");
    assert!(events.iter().all(|(_, n)| *n == 1), "no event stored twice: {events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_lost_mid_bucket_redrive_leaves_the_failed_batches_and_the_rerun_stores_each_once() {
    let Some(db) = database().await else { return };
    let Some(moto) = MotoServer::start() else { return };
    let (_, s3) = sdk(&moto);
    let bucket = "failures-outage";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    // Three failed batches in key order; the second holds the locked flight.
    let batches: [(&str, Vec<usize>); 3] =
        [("a-first", (0..5).collect()), ("b-held", (5..10).collect()), ("c-after", (10..15).collect())];
    for (p, (key, events)) in batches.iter().enumerate() {
        let body = aws_sdk_s3::primitives::ByteStream::from(failure_record(p as i64, events).into_bytes());
        s3.put_object().bucket(bucket).key(*key).body(body).send().await.unwrap();
    }
    let store = store(&db).await;
    let state = State::new(store.clone(), DeadLetterSink::Store(store.clone()))
        .with_failure_bucket(FailureBucket::new(s3.clone(), bucket));

    let blocker = hold_flight(&db, &store).await;
    let run = {
        let state = state.clone();
        tokio::spawn(async move { handle(&state, json!({"source": "s3"})).await })
    };
    crash_when_blocked(&db, blocker).await;
    let first = report(tokio::time::timeout(Duration::from_secs(120), run).await.unwrap().unwrap().unwrap());
    assert_eq!((first.examined, first.replayed, first.stored), (3, 1, 5));
    let failing: Vec<(&str, &str)> = first.still_failing.iter().map(|f| (f.id.as_str(), f.reason.as_str())).collect();
    assert_eq!(failing, [("b-held", "store_unavailable"), ("c-after", "store_unavailable")]);

    db.server.start_again().unwrap();
    let keys = |s3: aws_sdk_s3::Client| async move {
        let out = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
        let mut keys: Vec<String> = out.contents.unwrap_or_default().into_iter().filter_map(|o| o.key).collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(s3.clone()).await, ["b-held", "c-after", "replayed/a-first"]);
    let stored = stored_events(&db).await;
    assert_eq!(stored.len(), 6, "the first batch and the held flight's older event: {stored:?}");

    let second = report(handle(&state, json!({"source": "s3"})).await.unwrap());
    assert_eq!((second.examined, second.replayed, second.stored, second.duplicates), (2, 2, 10, 0));
    assert!(second.still_failing.is_empty(), "{:?}", second.still_failing);
    assert_eq!(keys(s3.clone()).await, ["replayed/a-first", "replayed/b-held", "replayed/c-after"]);
    let events = stored_events(&db).await;
    assert_eq!(events.len(), 16);
    assert!(events.iter().all(|(_, n)| *n == 1), "no event stored twice: {events:?}");
}
