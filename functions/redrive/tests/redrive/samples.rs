//! The committed samples in `events/`, run through the handler.

use contrail_redrive::handle;
use contrail_shared::sink::DeadLetterSink;
use contrail_testkit::event_file;
use serde_json::{Value, json};

use crate::common;

#[tokio::test]
async fn the_sqs_sample_replays_one_letter_and_reports_the_other_two() {
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let state = contrail_redrive::State::new(store.clone(), DeadLetterSink::Store(store.clone()));
    let event: Value = serde_json::from_str(&event_file("sqs-dlq-redrive.json")).unwrap();

    let response = handle(&state, event).await.unwrap();

    assert_eq!(
        response,
        json!({"batchItemFailures": [
            {"itemIdentifier": "5f6a1c2e-0002-4c1e-9a57-2f1f3e2b1a02"},
            {"itemIdentifier": "5f6a1c2e-0003-4c1e-9a57-2f1f3e2b1a03"},
        ]})
    );
    assert_eq!(common::status(&store).await.as_deref(), Some("boarding"));
}

#[tokio::test]
async fn the_invoke_sample_is_a_dry_run_of_the_queue() {
    let Some(aws) = common::aws() else { return };
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let queue = aws.queue().await;
    let sample: Value = serde_json::from_str(&event_file("sqs-dlq-redrive.json")).unwrap();
    for record in sample["Records"].as_array().unwrap() {
        aws.send(&queue, record["body"].as_str().unwrap()).await;
    }
    let state = aws.state(&store, Some(&queue), None);
    let request: Value = serde_json::from_str(&event_file("redrive-invoke.json")).unwrap();

    let report = handle(&state, request).await.unwrap();

    assert_eq!(report["dry_run"], true);
    assert_eq!((report["examined"].as_u64(), report["replayed"].as_u64()), (Some(3), Some(1)));
    assert_eq!(common::status(&store).await, None);
    assert_eq!(aws.bodies(&queue).await.len(), 3);
}

#[tokio::test]
async fn the_failure_record_sample_holds_a_batch_with_one_poison_record() {
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let record = contrail_redrive::failure_record::parse_failure_record(common::event_file_text().as_bytes()).unwrap();
    assert_eq!(record.condition.as_deref(), Some("RetryAttemptsExhausted"));
    assert_eq!(record.event.record_count(), 3);
    let mut replayer = contrail_redrive::replay::Replayer::new(&store, false);
    let outcome = replayer.batch(&record.event, &DeadLetterSink::Store(store.clone())).await;
    let contrail_redrive::report::Outcome::Replayed(counts) = outcome else { panic!("{outcome:?}") };
    assert_eq!((counts.records, counts.stored, counts.dead_lettered), (3, 2, 1));
    assert_eq!(common::status(&store).await.as_deref(), Some("departed"));
}

#[tokio::test]
async fn a_replayed_failure_record_enters_the_ledger_and_the_audit_sample_answers_it() {
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let record = contrail_redrive::failure_record::parse_failure_record(common::event_file_text().as_bytes()).unwrap();
    let mut replayer = contrail_redrive::replay::Replayer::new(&store, false);
    replayer.batch(&record.event, &DeadLetterSink::Store(store.clone())).await;
    let rows = store.ledger_rows(&Default::default()).await.unwrap();
    let got: Vec<_> = rows.iter().map(|r| (r.source.as_str(), r.records, r.stored, r.dead_lettered)).collect();
    assert_eq!(got, [("s3", 3, 2, 1)]);

    let state = contrail_redrive::State::new(store.clone(), DeadLetterSink::Store(store.clone()));
    let request: Value = serde_json::from_str(&event_file("redrive-audit.json")).unwrap();
    let report = handle(&state, request).await.unwrap();
    assert_eq!((report["consistent"].clone(), report["gap_offsets"].clone()), (json!(true), json!(0)), "{report}");
    let partitions = report["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 1, "{report}");
    assert_eq!((partitions[0]["records"].as_u64(), partitions[0]["batches"].as_u64()), (Some(3), Some(1)));
    assert!(partitions[0].get("kafka").is_none(), "the function cannot read the topic: {report}");
}
