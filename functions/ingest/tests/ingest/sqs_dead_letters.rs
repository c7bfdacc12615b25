//! The SQS dead-letter sink against a real SQS-compatible server (moto) on loopback.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{event, sample};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use chrono::Utc;
use contrail_ingest::{MskRecord, State, ingest};
use contrail_shared::codec::{RawRecord, RejectReason, Rejection};
use contrail_shared::deadletter::DeadLetter;
use contrail_shared::sink::{DeadLetterError, DeadLetterSink, SqsDeadLetters, SqsSendError};
use contrail_shared::xray;
use contrail_testkit::moto::MotoServer;

fn client(moto: &MotoServer) -> Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    Client::from_conf(config)
}

async fn queue(client: &Client) -> String {
    let name = format!("contrail-dlq-{}", contrail_testkit::unique_suffix());
    client.create_queue().queue_name(name).send().await.unwrap().queue_url().unwrap().to_owned()
}

async fn drain(client: &Client, url: &str) -> Vec<DeadLetter> {
    let mut out = Vec::new();
    loop {
        let got = client.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        let messages = got.messages();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push(serde_json::from_str(m.body().unwrap()).unwrap());
            client.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
}

fn letter(offset: i64, value: String) -> DeadLetter {
    let raw = RawRecord {
        topic: "flight-data",
        partition: 0,
        offset,
        timestamp_ms: Some(1_764_057_600_000),
        key: Some("VUExLTIwMjYtMTEtMjUtRVdS"),
        value: Some(&value),
    };
    let rejection = Rejection {
        reason: RejectReason::InvalidJson,
        field: Some("value".into()),
        detail: "value is not JSON".into(),
    };
    DeadLetter::new(&raw, rejection, Utc::now())
}

#[tokio::test]
async fn letters_arrive_in_the_queue_across_several_batches_of_ten() {
    let Some(moto) = MotoServer::start() else { return };
    let client = client(&moto);
    let url = queue(&client).await;
    let sink = SqsDeadLetters::new(client.clone(), &url);
    let letters: Vec<DeadLetter> = (0..25).map(|i| letter(i, format!("bm90IGpzb24g{i}"))).collect();
    sink.send(&letters).await.unwrap();

    let mut got = drain(&client, &url).await;
    got.sort_by_key(|l| l.offset);
    assert_eq!(got, letters, "every letter arrives once, intact");
}

/// Each `SendMessageBatch` is an X-Ray subsegment of the invocation: `aws` namespace, the operation and
/// the request id SQS answered with (gathered in memory by `xray::collect`, as the local stack does).
#[tokio::test]
async fn each_batch_sent_is_an_aws_subsegment_with_its_request_id() {
    let Some(moto) = MotoServer::start() else { return };
    let client = client(&moto);
    let url = queue(&client).await;
    let sink = SqsDeadLetters::new(client.clone(), &url);
    let letters: Vec<DeadLetter> = (0..15).map(|i| letter(i, format!("bm90IGpzb24g{i}"))).collect();
    let header = xray::TraceHeader::parse("Root=1-6553f100-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1")
        .expect("a header");
    let (sent, docs) = xray::collect(header, sink.send(&letters)).await;
    sent.unwrap();
    assert_eq!(docs.len(), 2, "15 letters go in two batches of at most ten: {docs:#?}");
    for doc in &docs {
        assert_eq!(doc["name"], "SQS");
        assert_eq!(doc["namespace"], "aws");
        assert_eq!(doc["aws"]["operation"], "SendMessageBatch");
        assert!(doc["aws"]["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{doc}");
        assert_eq!(doc["trace_id"], "1-6553f100-0123456789abcdef01234567");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert!(doc.get("fault").is_none(), "{doc}");
    }
    assert_eq!(drain(&client, &url).await.len(), 15);
}

#[tokio::test]
async fn a_letter_over_the_message_limit_is_sent_without_its_value() {
    let Some(moto) = MotoServer::start() else { return };
    let client = client(&moto);
    let url = queue(&client).await;
    let sink = SqsDeadLetters::new(client.clone(), &url);
    let big = letter(1, "A".repeat(1_100_000));
    let small = letter(2, "e30=".into());
    sink.send(&[big.clone(), small.clone()]).await.unwrap();

    let mut got = drain(&client, &url).await;
    got.sort_by_key(|l| l.offset);
    assert_eq!(got.len(), 2);
    assert!(got[0].value_omitted);
    assert_eq!(got[0].value, None);
    assert_eq!((got[0].offset, got[0].reason, &got[0].key), (1, RejectReason::InvalidJson, &big.key));
    assert_eq!(got[1], small);
}

#[tokio::test]
async fn the_message_limit_is_configurable() {
    let Some(moto) = MotoServer::start() else { return };
    let client = client(&moto);
    let url = queue(&client).await;
    let sink = SqsDeadLetters::new(client.clone(), &url).with_max_message_bytes(4_096);
    sink.send(&[letter(1, "B".repeat(5_000)), letter(2, "B".repeat(3_000))]).await.unwrap();
    let mut got = drain(&client, &url).await;
    got.sort_by_key(|l| l.offset);
    assert_eq!(got.iter().map(|l| l.value_omitted).collect::<Vec<_>>(), [true, false]);
}

#[tokio::test]
async fn letters_too_big_to_share_one_call_are_split_by_bytes() {
    let Some(moto) = MotoServer::start() else { return };
    let client = client(&moto);
    let url = queue(&client).await;
    let sink = SqsDeadLetters::new(client.clone(), &url);
    // Each fits one message; together they exceed the 1 MiB batch limit the server enforces.
    let letters: Vec<DeadLetter> = (0..3).map(|i| letter(i, "C".repeat(600_000))).collect();
    sink.send(&letters).await.unwrap();
    let got = drain(&client, &url).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|l| !l.value_omitted && l.value.as_ref().is_some_and(|v| v.len() == 600_000)));
}

#[tokio::test]
async fn a_send_that_keeps_failing_fails_instead_of_losing_letters() {
    let Some(moto) = MotoServer::start() else { return };
    let client = client(&moto);
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint());
    let sink = SqsDeadLetters::new(client, missing).with_retries(3, Duration::from_millis(10));
    let err = sink.send(&[letter(1, "e30=".into())]).await.unwrap_err();
    match err {
        DeadLetterError::Sqs { attempts, source } => {
            assert_eq!(attempts, 3);
            assert!(matches!(source, SqsSendError::Call(_)), "the queue does not exist: {source}");
            assert!(!source.to_string().is_empty());
        }
        other => panic!("expected an SQS error, got {other}"),
    }
}

#[tokio::test]
async fn the_handler_sends_the_sample_batch_poison_records_to_the_queue() {
    let Some(moto) = MotoServer::start() else { return };
    let client = client(&moto);
    let url = queue(&client).await;
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let state = State::new(store.clone(), DeadLetterSink::Sqs(SqsDeadLetters::new(client.clone(), &url)));
    let ev: contrail_ingest::MskEvent = serde_json::from_str(&contrail_testkit::event_file(sample::FILE)).unwrap();
    let summary = ingest(&state, &ev).await.unwrap();
    assert_eq!(summary.dead_lettered, sample::DEAD_LETTERED);

    let got = drain(&client, &url).await;
    let reasons: BTreeSet<&str> = got.iter().map(|l| l.reason.as_str()).collect();
    assert_eq!(reasons.len(), 6);
    assert_eq!(got.len() as u64, sample::DEAD_LETTERED);
    assert!(got.iter().all(|l| l.kind == "contrail.dead-letter/v1"));
    assert!(store.list_dead_letters(10).await.unwrap().is_empty(), "the store table is not used with a queue");

    // A queue that fails makes the invocation fail (retryable), after the snapshots were committed.
    let broken = State::new(
        store,
        DeadLetterSink::Sqs(
            SqsDeadLetters::new(client, format!("{}/123456789012/gone", moto.endpoint()))
                .with_retries(2, Duration::from_millis(5)),
        ),
    );
    let poison = MskRecord::new(crate::common::TOPIC, 0, 1, 0, None, Some(b"{"));
    let err = ingest(&broken, &event([poison])).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.error_type(), "Retryable.DeadLetterQueueUnavailable");
}
