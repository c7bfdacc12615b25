//! The committed sample batch is exactly what its generator produces, and parses as the mapping's event.

use crate::common::sample;

#[test]
fn the_committed_sample_events_match_their_generator() {
    for (file, event) in [(sample::FILE, sample::build()), (sample::SELF_MANAGED_FILE, sample::build_self_managed())] {
        let rendered = sample::render(&event);
        let path = contrail_testkit::workspace_root().join("events").join(file);
        if std::env::var("UPDATE_SAMPLES").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &rendered).unwrap();
        }
        let committed = contrail_testkit::event_file(file);
        assert_eq!(committed, rendered, "events/{file} is stale: rerun with UPDATE_SAMPLES=1");
    }
}

#[test]
fn the_self_managed_sample_is_the_event_a_self_managed_kafka_mapping_sends() {
    let text = contrail_testkit::event_file(sample::SELF_MANAGED_FILE);
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(raw["eventSource"], "SelfManagedKafka");
    assert!(raw.get("eventSourceArn").is_none(), "a self-managed mapping's event has no ARN");
    assert!(raw["bootstrapServers"].as_str().is_some_and(|s| !s.is_empty()));
    let event: contrail_ingest::MskEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(event.event_source, contrail_ingest::EVENT_SOURCE_SELF_MANAGED_KAFKA);
    assert_eq!(event.record_count() as u64, sample::RECORDS);
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
