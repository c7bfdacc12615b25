//! Case 2: the SQS-compatible server (moto) killed in the middle of the ingest handler's dead-letter
//! send, between two `SendMessageBatch` calls.
//!
//! The snapshots are committed before the send, so the invocation fails with the retryable
//! `Retryable.DeadLetterQueueUnavailable` (the mapping retries the batch) and the good records are
//! already stored. The killed server took its queue and the letters it had accepted with it; the retry
//! goes to a new server on the same endpoint with the queue created again, and must put every poison
//! record there exactly once while every good record stays stored once (now counted as duplicates).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;
use aws_sdk_sqs::types::QueueAttributeName;
use contrail_ingest::{MskEvent, MskRecord, State, ingest};
use contrail_shared::deadletter::DeadLetter;
use contrail_shared::sink::{DeadLetterSink, SqsDeadLetters};
use contrail_testkit::flight::FlightEvent;
use contrail_testkit::moto::MotoServer;
use sqlx::Connection as _;

const TOPIC: &str = "flight-data";
const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/contrail-msk/6b2a1f3c-5d4e-4a8b-9c0d-1e2f3a4b5c6d-2";
const GOOD: i64 = 40;
/// Four `SendMessageBatch` calls of at most ten letters.
const POISON: i64 = 35;
const QUEUE: &str = "contrail-dlq-outage";

/// Holds the sink's second transmission until the test has killed the server: by then the first call
/// was answered (the sink sends its calls one after another), so the kill falls between two calls.
#[derive(Debug)]
struct PauseSecondSend {
    sends: AtomicUsize,
    reached: tokio::sync::mpsc::UnboundedSender<()>,
    resume: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl Intercept for PauseSecondSend {
    fn name(&self) -> &'static str {
        "PauseSecondSend"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.sends.fetch_add(1, Ordering::SeqCst) == 1 {
            let _ = self.reached.send(());
            let resume = self.resume.lock().map_err(|_| "the pause lock is poisoned")?;
            // The wait blocks the runtime worker that runs the send: hand its queued tasks to another
            // worker first, or a task the test needs meanwhile (its own queue client's) can sit behind it
            // until the wait times out and the call goes through after all.
            tokio::task::block_in_place(|| resume.recv_timeout(Duration::from_secs(60)))
                .map_err(|e| format!("the test never resumed the send: {e}"))?;
        }
        Ok(())
    }
}

fn config(moto: &MotoServer) -> aws_sdk_sqs::config::Builder {
    aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
}

/// Good snapshots of ten flights on partition 0, then poison records of three kinds on partition 1
/// (`invalid_json`, `schema_violation`, `key_mismatch`).
fn batch() -> MskEvent {
    let good = (0..GOOD).map(|i| {
        let ev = FlightEvent::new(
            &format!("sqs-outage-{i}"),
            &format!("B6{}", i % 10),
            "scheduled",
            &format!("2026-11-25T08:{:02}:00Z", i / 10),
        )
        .route("JFK", "BOS");
        let (key, value) = (ev.flight_id(), ev.to_string());
        MskRecord::new(TOPIC, 0, i, 0, Some(key.as_bytes()), Some(value.as_bytes()))
    });
    let poison = (0..POISON).map(|i| {
        let value = match i % 3 {
            0 => format!("not json {i}"),
            1 => format!(r#"{{"event_id": "sqs-poison-{i}", "status": "boarding"}}"#),
            // A valid event of another flight than its key names.
            _ => {
                FlightEvent::new(&format!("sqs-poison-{i}"), "UA1545", "scheduled", "2026-11-25T08:00:00Z").to_string()
            }
        };
        MskRecord::new(TOPIC, 1, i, 0, Some(b"B6615-2026-11-25-EWR"), Some(value.as_bytes()))
    });
    MskEvent::from_records(ARN, good.chain(poison).collect::<Vec<_>>())
}

async fn queued(client: &aws_sdk_sqs::Client, url: &str) -> i64 {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    out.attributes().and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages)).unwrap().parse().unwrap()
}

/// Receives and deletes every message: how many times each record's coordinates arrived.
async fn drain(client: &aws_sdk_sqs::Client, url: &str) -> BTreeMap<(i64, i64), (usize, DeadLetter)> {
    let mut seen: BTreeMap<(i64, i64), (usize, DeadLetter)> = BTreeMap::new();
    loop {
        let got = client.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        let messages = got.messages();
        if messages.is_empty() {
            return seen;
        }
        for m in messages {
            let letter: DeadLetter = serde_json::from_str(m.body().unwrap()).unwrap();
            seen.entry((letter.partition, letter.offset)).or_insert((0, letter)).0 += 1;
            client.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
}

/// Event ids in `flight_events` with how many times each is there.
async fn stored_events(url: &str) -> Vec<(String, i64)> {
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_as("SELECT event_id, count(*) FROM flight_events GROUP BY event_id ORDER BY event_id")
        .fetch_all(&mut db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queue_server_killed_mid_send_fails_the_batch_and_the_retry_queues_each_poison_record_once() {
    let Some(db) = contrail_testkit::store::postgres().await else { return };
    let Some(mut moto) = MotoServer::start() else { return };
    let (port, exe) = (moto.port, moto.exe().to_owned());
    let admin = aws_sdk_sqs::Client::from_conf(config(&moto).build());
    let queue = admin.create_queue().queue_name(QUEUE).send().await.unwrap().queue_url.unwrap();

    let (reached_tx, mut reached) = tokio::sync::mpsc::unbounded_channel();
    let (resume, resume_rx) = std::sync::mpsc::channel();
    let pause = PauseSecondSend { sends: AtomicUsize::new(0), reached: reached_tx, resume: Mutex::new(resume_rx) };
    let sink_client = aws_sdk_sqs::Client::from_conf(config(&moto).interceptor(pause).build());
    let store = db.store;
    let sink = SqsDeadLetters::new(sink_client, &queue).with_retries(2, Duration::from_millis(20));
    let state = State::new(store.clone(), DeadLetterSink::Sqs(sink));
    let event = batch();

    let task = {
        let (state, event) = (state.clone(), event.clone());
        tokio::spawn(async move { ingest(&state, &event).await })
    };
    tokio::time::timeout(Duration::from_secs(60), reached.recv()).await.expect("the sink never sent a second call");
    assert_eq!(queued(&admin, &queue).await, 10, "the first call was delivered before the kill");
    moto.kill();
    resume.send(()).unwrap();

    let err = tokio::time::timeout(Duration::from_secs(120), task).await.unwrap().unwrap().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.error_type(), "Retryable.DeadLetterQueueUnavailable");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "Retryable.DeadLetterQueueUnavailable");

    assert_eq!(stored_events(&db.url).await.len() as i64, GOOD, "the commit came before the send");

    // While no server answers, a retry fails the same way.
    let down = ingest(&state, &event).await.unwrap_err();
    assert_eq!(down.error_type(), "Retryable.DeadLetterQueueUnavailable");

    // A new server on the same endpoint, with the queue created again (same URL).
    let moto = MotoServer::start_on(&exe, port).unwrap_or_else(|why| panic!("{why}"));
    let again = admin.create_queue().queue_name(QUEUE).send().await.unwrap().queue_url.unwrap();
    assert_eq!(again, queue);
    assert_eq!(queued(&admin, &queue).await, 0, "the killed server's letters died with it");

    let retry = ingest(&state, &event).await.unwrap();
    assert_eq!(
        (retry.records, retry.stored, retry.duplicates, retry.dead_lettered),
        ((GOOD + POISON) as u64, 0, GOOD as u64, POISON as u64)
    );
    assert!(retry.is_balanced());

    let letters = drain(&admin, &queue).await;
    assert_eq!(letters.len() as i64, POISON, "every poison record is in the queue");
    assert!(letters.values().all(|(n, _)| *n == 1), "no poison record is in the queue twice");
    assert!(letters.keys().all(|(partition, _)| *partition == 1), "no good record was dead-lettered");
    let reasons: std::collections::BTreeSet<&str> = letters.values().map(|(_, l)| l.reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");

    let events = stored_events(&db.url).await;
    assert_eq!(events.len() as i64, GOOD);
    assert!(events.iter().all(|(_, n)| *n == 1), "no good record stored twice: {events:?}");
    drop(moto);
}
