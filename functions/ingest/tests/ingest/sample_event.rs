//! The committed sample batch is exactly what its generator produces, and parses as the mapping's event.

use crate::common::sample;

#[test]
fn the_committed_sample_event_matches_its_generator() {
    let rendered = sample::render(&sample::build());
    let path = contrail_testkit::workspace_root().join("events").join(sample::FILE);
    if std::env::var("UPDATE_SAMPLES").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = contrail_testkit::event_file(sample::FILE);
    assert_eq!(committed, rendered, "events/{} is stale: rerun with UPDATE_SAMPLES=1", sample::FILE);
}

#[test]
fn the_sample_event_is_a_well_formed_msk_event() {
    let event: contrail_ingest::MskEvent = serde_json::from_str(&contrail_testkit::event_file(sample::FILE)).unwrap();
    assert_eq!(event.event_source, "aws:kafka");
    assert!(event.event_source_arn.starts_with("arn:aws:kafka:"));
    assert_eq!(event.records.len(), 3);
    assert_eq!(event.record_count() as u64, sample::RECORDS);
    // The strict community type reads it too (no timestamp -1, headers present on every record).
    let strict: Result<aws_lambda_events::kafka::KafkaEvent, _> =
        serde_json::from_str(&contrail_testkit::event_file(sample::FILE));
    assert!(strict.is_ok(), "{strict:?}");
}
