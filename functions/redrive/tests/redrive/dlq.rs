//! The dead-letter queue: on-demand draining and the SQS event path.

use contrail_redrive::handle;
use contrail_shared::storage::Store;
use contrail_testkit::store::TestStore;
use serde_json::{Value, json};

use crate::common::{self, poison_letter, valid_letter};
use contrail_testkit::on_both_engines;

async fn draining_on_demand_stores_valid_letters_and_leaves_the_rest(db: TestStore) {
    let store = db.store.clone();
    let Some(aws) = common::aws() else { return };
    let queue = aws.queue().await;
    let poison = poison_letter(12).to_json();
    aws.send(&queue, &valid_letter(10, "e-1", "2013-01-01T09:00:00Z", "scheduled").to_json()).await;
    aws.send(&queue, &valid_letter(11, "e-2", "2013-01-01T10:20:00Z", "departed").to_json()).await;
    let poison_id = aws.send(&queue, &poison).await;
    let stray_id = aws.send(&queue, "not a dead letter").await;
    let state = aws.state(&store, Some(&queue), None);

    let report = handle(&state, json!({"source": "dlq", "max_messages": 50})).await.unwrap();

    assert_eq!(report["examined"], 4);
    assert_eq!(report["replayed"], 2);
    assert_eq!(report["stored"], 2);
    assert_eq!(report["duplicates"], 0);
    assert_eq!(report["dry_run"], false);
    let mut failing: Vec<(String, String)> = report["still_failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap().to_owned(), f["reason"].as_str().unwrap().to_owned()))
        .collect();
    failing.sort();
    let mut expected = vec![(poison_id, "invalid_json".to_owned()), (stray_id, "unrecognized".to_owned())];
    expected.sort();
    assert_eq!(failing, expected);
    assert_eq!(common::status(&store).await.as_deref(), Some("departed"));
    assert_eq!(common::history_len(&store).await, 2);
    let mut left = vec![poison, "not a dead letter".to_owned()];
    left.sort();
    assert_eq!(aws.bodies(&queue).await, left, "still-failing messages stay in the queue, visible");
}
on_both_engines!(draining_on_demand_stores_valid_letters_and_leaves_the_rest);

async fn the_sqs_event_reports_still_failing_messages_as_batch_item_failures(db: TestStore) {
    let store = db.store.clone();
    let Some(aws) = common::aws() else { return };
    let queue = aws.queue().await;
    aws.send(&queue, &valid_letter(20, "e-20", "2013-01-01T09:00:00Z", "boarding").to_json()).await;
    aws.send(&queue, &poison_letter(21).to_json()).await;
    aws.send(&queue, "{\"kind\": \"someone-else/v1\"}").await;
    // Receive as the queue's event source mapping does, and hand the batch over as its event.
    let received = aws.sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 3);
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                   "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:dlq", "awsRegion": "us-east-1"})
        })
        .collect();
    let state = aws.state(&store, None, None);

    let response = handle(&state, json!({"Records": records})).await.unwrap();

    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 2, "{response}");
    let ok = messages.iter().find(|m| !failed.contains(&m.message_id.as_deref().unwrap())).unwrap();
    assert!(ok.body.as_deref().unwrap().contains("\"offset\":20"));
    assert_eq!(common::status(&store).await.as_deref(), Some("boarding"));
    assert_eq!(common::history_len(&store).await, 1);
}
on_both_engines!(the_sqs_event_reports_still_failing_messages_as_batch_item_failures);

async fn replaying_the_same_letters_twice_stores_nothing_new(db: TestStore) {
    let store = db.store.clone();
    let Some(aws) = common::aws() else { return };
    let queue = aws.queue().await;
    let letter = valid_letter(30, "e-30", "2013-01-01T09:00:00Z", "scheduled").to_json();
    aws.send(&queue, &letter).await;
    aws.send(&queue, &letter).await;
    let state = aws.state(&store, Some(&queue), None);

    let first = handle(&state, json!({"source": "dlq"})).await.unwrap();
    assert_eq!(
        (first["replayed"].as_u64(), first["stored"].as_u64(), first["duplicates"].as_u64()),
        (Some(2), Some(1), Some(1))
    );

    aws.send(&queue, &letter).await;
    let second = handle(&state, json!({"source": "dlq"})).await.unwrap();
    assert_eq!(
        (second["replayed"].as_u64(), second["stored"].as_u64(), second["duplicates"].as_u64()),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(common::history_len(&store).await, 1);
    assert!(aws.bodies(&queue).await.is_empty());
}
on_both_engines!(replaying_the_same_letters_twice_stores_nothing_new);

#[tokio::test]
async fn a_dry_run_counts_without_writing_or_deleting() {
    let Some(aws) = common::aws() else { return };
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let queue = aws.queue().await;
    let valid = valid_letter(40, "e-40", "2013-01-01T09:00:00Z", "scheduled").to_json();
    let poison = poison_letter(41).to_json();
    aws.send(&queue, &valid).await;
    aws.send(&queue, &poison).await;
    let state = aws.state(&store, Some(&queue), None);

    let report = handle(&state, json!({"source": "dlq", "dry_run": true})).await.unwrap();

    assert_eq!(report["examined"], 2);
    assert_eq!(report["replayed"], 1);
    assert_eq!(report["stored"], 0);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["still_failing"][0]["reason"], "invalid_json");
    assert_eq!(common::status(&store).await, None);
    let mut all = vec![valid, poison];
    all.sort();
    assert_eq!(aws.bodies(&queue).await, all, "a dry run leaves every message visible");
}

#[tokio::test]
async fn max_messages_bounds_how_many_are_received() {
    let Some(aws) = common::aws() else { return };
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let queue = aws.queue().await;
    for i in 0..13 {
        let id = format!("e-m{i}");
        aws.send(&queue, &valid_letter(100 + i, &id, "2013-01-01T09:00:00Z", "scheduled").to_json()).await;
    }
    let state = aws.state(&store, Some(&queue), None);

    let report = handle(&state, json!({"source": "dlq", "max_messages": 12})).await.unwrap();

    assert_eq!(report["examined"], 12);
    assert_eq!(report["stored"], 12);
    assert_eq!(aws.bodies(&queue).await.len(), 1);
}

#[tokio::test]
async fn a_database_that_is_down_leaves_every_message_in_the_queue() {
    let Some(aws) = common::aws() else { return };
    let down = contrail_testkit::ClosedPort::new();
    let mut config =
        contrail_shared::config::DbConfig::from_url(format!("postgres://contrail@127.0.0.1:{}/nothing", down.port));
    config.connect_timeout = std::time::Duration::from_millis(500);
    let store = Store::connect(&config).await.unwrap();
    let queue = aws.queue().await;
    aws.send(&queue, &valid_letter(50, "e-50", "2013-01-01T09:00:00Z", "scheduled").to_json()).await;
    aws.send(&queue, &valid_letter(51, "e-51", "2013-01-01T09:10:00Z", "delayed").to_json()).await;
    let state = aws.state(&store, Some(&queue), None);

    let report = handle(&state, json!({"source": "dlq"})).await.unwrap();

    assert_eq!(report["replayed"], 0);
    let reasons: Vec<&str> =
        report["still_failing"].as_array().unwrap().iter().map(|f| f["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["store_unavailable", "store_unavailable"]);
    assert_eq!(aws.bodies(&queue).await.len(), 2);
}

#[tokio::test]
async fn a_source_that_is_not_configured_or_an_unknown_event_fails_the_invocation() {
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let state = contrail_redrive::State::new(store.clone(), contrail_shared::sink::DeadLetterSink::Store(store));
    let err = handle(&state, json!({"source": "s3"})).await.unwrap_err();
    assert_eq!(err.error_type(), "NonRetryable.Configuration");
    let err = handle(&state, json!({"source": "dlq"})).await.unwrap_err();
    assert!(err.to_string().contains("DLQ_URL"), "{err}");
    let err = handle(&state, json!({"detail-type": "Scheduled Event"})).await.unwrap_err();
    assert_eq!(err.error_type(), "NonRetryable.BadEvent");
}
