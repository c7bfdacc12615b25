//! Real parts for the redrive tests: a moto server with SDK clients, SQLite and PostgreSQL stores, and
//! flight-event data.

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use contrail_redrive::{DeadLetterQueue, FailureBucket, State};
use contrail_shared::codec::{RawRecord, RejectReason, Rejection, encode_base64};
use contrail_shared::deadletter::DeadLetter;
use contrail_shared::domain::FlightId;
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::storage::Store;
use contrail_testkit::flight::FlightEvent;
use contrail_testkit::moto::MotoServer;
use serde_json::json;

pub const FLIGHT: &str = "UA1545-2013-01-01-EWR";

/// A moto server and SDK clients pointed at it.
pub struct Aws {
    pub _moto: MotoServer,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

/// Starts moto; `None` after the testkit's loud skip.
pub fn aws() -> Option<Aws> {
    let moto = MotoServer::start()?;
    let creds = Credentials::new("testing", "testing", None, None, "tests");
    let sqs = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
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
    Some(Aws { sqs: aws_sdk_sqs::Client::from_conf(sqs), s3: aws_sdk_s3::Client::from_conf(s3), _moto: moto })
}

impl Aws {
    pub async fn queue(&self) -> String {
        let name = format!("dlq-{}", contrail_testkit::unique_suffix());
        self.sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap()
    }

    pub async fn bucket(&self) -> String {
        let name = format!("failures-{}", contrail_testkit::unique_suffix());
        self.s3.create_bucket().bucket(&name).send().await.unwrap();
        name
    }

    pub async fn send(&self, queue: &str, body: &str) -> String {
        self.sqs.send_message().queue_url(queue).message_body(body).send().await.unwrap().message_id.unwrap()
    }

    /// Every message body in the queue (hides them: call it last).
    pub async fn bodies(&self, queue: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let r = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .send()
                .await
                .unwrap();
            let msgs = r.messages.unwrap_or_default();
            if msgs.is_empty() {
                break;
            }
            out.extend(msgs.into_iter().filter_map(|m| m.body));
        }
        out.sort();
        out
    }

    pub async fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        let body = aws_sdk_s3::primitives::ByteStream::from(body.into());
        self.s3.put_object().bucket(bucket).key(key).body(body).send().await.unwrap();
    }

    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let out = self.s3.list_objects_v2().bucket(bucket).send().await.unwrap();
        let mut keys: Vec<String> = out.contents.unwrap_or_default().into_iter().filter_map(|o| o.key).collect();
        keys.sort();
        keys
    }

    /// A state with the queue and bucket; dead letters go to the store's table.
    pub fn state(&self, store: &Store, queue: Option<&str>, bucket: Option<&str>) -> State {
        let mut state = State::new(store.clone(), DeadLetterSink::Store(store.clone()));
        if let Some(q) = queue {
            state = state.with_dlq(DeadLetterQueue::new(self.sqs.clone(), q));
        }
        if let Some(b) = bucket {
            state = state.with_failure_bucket(FailureBucket::new(self.s3.clone(), b));
        }
        state
    }
}

/// A valid flight-event/v1 value for [`FLIGHT`].
pub fn event(event_id: &str, event_time: &str, status: &str) -> String {
    FlightEvent::new(event_id, "UA1545", status, event_time)
        .date("2013-01-01")
        .route("EWR", "IAH")
        .with("scheduled_departure", json!("2013-01-01T10:15:00Z"))
        .with("scheduled_arrival", json!("2013-01-01T14:19:00Z"))
        .to_string()
}

/// A dead letter as ingest writes it, for a record at `offset` with the raw `value` text.
pub fn letter(offset: i64, value: &str, reason: RejectReason) -> DeadLetter {
    let key = encode_base64(FLIGHT);
    let value = encode_base64(value);
    let raw = RawRecord {
        topic: "flight-data",
        partition: 3,
        offset,
        timestamp_ms: Some(1_357_034_400_000),
        key: Some(&key),
        value: Some(&value),
    };
    let rejection = Rejection { reason, field: None, detail: "refused by an older build".into() };
    DeadLetter::new(&raw, rejection, chrono::Utc::now())
}

/// A letter that replays now (it was refused by an older build).
pub fn valid_letter(offset: i64, event_id: &str, event_time: &str, status: &str) -> DeadLetter {
    letter(offset, &event(event_id, event_time, status), RejectReason::SchemaViolation)
}

/// A letter that still fails: the value is not JSON.
pub fn poison_letter(offset: i64) -> DeadLetter {
    letter(offset, "{\"event_id\": ", RejectReason::InvalidJson)
}

pub async fn status(store: &Store) -> Option<String> {
    store.get_flight(&FlightId::parse(FLIGHT).unwrap()).await.unwrap().map(|f| f.status.to_string())
}

pub async fn history_len(store: &Store) -> usize {
    store.flight_history(&FlightId::parse(FLIGHT).unwrap(), None, 1000).await.unwrap().len()
}

/// An ESM S3 failure record whose payload holds `records` as `(offset, value text)` on flight-data-0.
pub fn failure_record(records: &[(i64, &str)]) -> String {
    let recs: Vec<serde_json::Value> = records
        .iter()
        .map(|(offset, value)| {
            serde_json::json!({"topic": "flight-data", "partition": 0, "offset": offset,
                "timestamp": 1_357_034_400_000i64, "timestampType": "CREATE_TIME",
                "key": encode_base64(FLIGHT), "value": encode_base64(value), "headers": []})
        })
        .collect();
    let payload = serde_json::json!({"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:us-east-1:1:cluster/c/x",
        "bootstrapServers": "b-1:9098", "records": {"flight-data-0": recs}});
    serde_json::json!({
        "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:1:function:ingest",
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2013-01-01T10:25:00.000Z",
        "KafkaBatchInfo": {"batchSize": records.len(), "bootstrapServers": "b-1:9098", "payloadSize": 1,
            "recordsInfo": {"flight-data-0": {"firstRecordOffset": "0", "lastRecordOffset": "9"}}},
        "payload": payload.to_string(),
    })
    .to_string()
}

/// The committed ESM failure record sample.
pub fn event_file_text() -> String {
    contrail_testkit::event_file("esm-s3-failure-record.json")
}
