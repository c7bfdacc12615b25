//! The failure bucket: ESM failure records replayed like ingest, then moved under `replayed/`.

use contrail_redrive::{DeadLetterQueue, State, handle};
use contrail_shared::codec::RejectReason;
use contrail_shared::sink::{DeadLetterSink, SqsDeadLetters};
use contrail_testkit::store::TestStore;
use serde_json::json;

use crate::common::{self, event, failure_record};
use contrail_testkit::on_both_engines;

const KEY: &str = "aws/lambda/esm-1/flight-data-0/2013/01/01/2013-01-01T10.25.00-batch-1";

async fn a_failure_record_replays_like_ingest_and_moves_to_replayed(db: TestStore) {
    let store = db.store.clone();
    let Some(aws) = common::aws() else { return };
    let bucket = aws.bucket().await;
    let record = failure_record(&[
        (1, &event("s-1", "2013-01-01T09:00:00Z", "scheduled")),
        (2, &event("s-2", "2013-01-01T10:20:00Z", "departed")),
        (3, "{\"event_id\": 7}"),
    ]);
    aws.put(&bucket, KEY, record).await;
    aws.put(&bucket, "aws/lambda/esm-1/stray.txt", "hello").await;
    let no_payload = json!({"requestContext": {"condition": "MaximumPayloadSizeExceeded"},
        "KafkaBatchInfo": {"recordsInfo": {"flight-data-0": {"firstRecordOffset": "4", "lastRecordOffset": "9"}}}});
    aws.put(&bucket, "aws/lambda/esm-1/too-big", no_payload.to_string()).await;
    aws.put(&bucket, "elsewhere/ignored", "outside the prefix").await;
    let state = aws.state(&store, None, Some(&bucket));

    let report = handle(&state, json!({"source": "s3", "prefix": "aws/lambda/"})).await.unwrap();

    assert_eq!(report["examined"], 3, "{report}");
    assert_eq!(report["replayed"], 1);
    assert_eq!(report["stored"], 2);
    assert_eq!(report["duplicates"], 0);
    assert_eq!(report["dead_lettered"], 1);
    let failing: Vec<(&str, &str)> = report["still_failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failing,
        [("aws/lambda/esm-1/stray.txt", "unrecognized"), ("aws/lambda/esm-1/too-big", "payload_missing")]
    );
    assert_eq!(common::status(&store).await.as_deref(), Some("departed"));
    assert_eq!(common::history_len(&store).await, 2);
    let letters = store.list_dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].letter.offset, letters[0].letter.reason), (3, RejectReason::SchemaViolation));
    assert_eq!(
        aws.keys(&bucket).await,
        [
            "aws/lambda/esm-1/stray.txt".to_owned(),
            "aws/lambda/esm-1/too-big".to_owned(),
            "elsewhere/ignored".to_owned(),
            format!("replayed/{KEY}"),
        ]
    );
}
on_both_engines!(a_failure_record_replays_like_ingest_and_moves_to_replayed);

async fn replaying_a_batch_twice_finds_duplicates_only(db: TestStore) {
    let store = db.store.clone();
    let Some(aws) = common::aws() else { return };
    let bucket = aws.bucket().await;
    let record = failure_record(&[
        (1, &event("t-1", "2013-01-01T09:00:00Z", "scheduled")),
        (2, &event("t-2", "2013-01-01T09:30:00Z", "boarding")),
    ]);
    aws.put(&bucket, "a/1", record.clone()).await;
    let state = aws.state(&store, None, Some(&bucket));
    let first = handle(&state, json!({"source": "s3"})).await.unwrap();
    assert_eq!((first["stored"].as_u64(), first["duplicates"].as_u64()), (Some(2), Some(0)));

    // The mapping can write the same batch twice; the replayed copy is skipped by listing.
    aws.put(&bucket, "a/2", record).await;
    let second = handle(&state, json!({"source": "s3"})).await.unwrap();

    assert_eq!(second["examined"], 1, "objects under replayed/ are never examined again");
    assert_eq!((second["stored"].as_u64(), second["duplicates"].as_u64()), (Some(0), Some(2)));
    assert_eq!(common::history_len(&store).await, 2);
    assert_eq!(aws.keys(&bucket).await, ["replayed/a/1", "replayed/a/2"]);
}
on_both_engines!(replaying_a_batch_twice_finds_duplicates_only);

#[tokio::test]
async fn a_dry_run_leaves_the_bucket_and_the_database_alone() {
    let Some(aws) = common::aws() else { return };
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let bucket = aws.bucket().await;
    aws.put(&bucket, KEY, common::event_file_text()).await;
    let state = aws.state(&store, None, Some(&bucket));

    let report = handle(&state, json!({"source": "s3", "dry_run": true})).await.unwrap();

    assert_eq!(report["examined"], 1);
    assert_eq!(report["replayed"], 1);
    assert_eq!((report["stored"].as_u64(), report["dead_lettered"].as_u64()), (Some(0), Some(0)));
    assert_eq!(report["dry_run"], true);
    assert_eq!(common::status(&store).await, None);
    assert!(store.list_dead_letters(10).await.unwrap().is_empty());
    assert_eq!(aws.keys(&bucket).await, [KEY]);
}

#[tokio::test]
async fn poison_records_of_a_replayed_batch_go_to_the_dead_letter_queue() {
    let Some(aws) = common::aws() else { return };
    let db = contrail_testkit::store::sqlite().await;
    let store = db.store.clone();
    let bucket = aws.bucket().await;
    let queue = aws.queue().await;
    aws.put(&bucket, KEY, common::event_file_text()).await;
    let state = State::new(store.clone(), DeadLetterSink::Sqs(SqsDeadLetters::new(aws.sqs.clone(), queue.clone())))
        .with_dlq(DeadLetterQueue::new(aws.sqs.clone(), queue.clone()))
        .with_failure_bucket(contrail_redrive::FailureBucket::new(aws.s3.clone(), bucket.clone()));

    let report = handle(&state, json!({"source": "s3"})).await.unwrap();

    assert_eq!((report["stored"].as_u64(), report["dead_lettered"].as_u64()), (Some(2), Some(1)));
    let bodies = aws.bodies(&queue).await;
    assert_eq!(bodies.len(), 1);
    let letter: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(letter["kind"], "contrail.dead-letter/v1");
    assert_eq!((letter["offset"].as_i64(), letter["reason"].as_str()), (Some(1202), Some("schema_violation")));
    assert_eq!(aws.keys(&bucket).await, [format!("replayed/{KEY}")]);
}
