//! Helpers shared by the ingest test suites: flight events, stores on both engines, the sample batch.
pub mod sample;

use chrono::{DateTime, Utc};
use contrail_ingest::{MskEvent, MskRecord, State};
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::storage::Store;

pub const TOPIC: &str = "flight-data";
pub const ARN: &str =
    "arn:aws:kafka:us-east-1:123456789012:cluster/contrail-msk/6b2a1f3c-5d4e-4a8b-9c0d-1e2f3a4b5c6d-2";

/// flight-event/v1 values, from the testkit's one builder.
pub use contrail_testkit::flight::FlightEvent as Ev;

/// The Kafka record carrying an event, keyed by its flight id.
pub trait ToRecord {
    fn record(&self, partition: i64, offset: i64, timestamp_ms: i64) -> MskRecord;
}

impl ToRecord for Ev {
    fn record(&self, partition: i64, offset: i64, timestamp_ms: i64) -> MskRecord {
        let value = self.to_string();
        MskRecord::new(
            TOPIC,
            partition,
            offset,
            timestamp_ms,
            Some(self.flight_id().as_bytes()),
            Some(value.as_bytes()),
        )
    }
}

/// A tombstone for `flight_id` at `timestamp_ms`.
pub fn tombstone(flight_id: &str, partition: i64, offset: i64, timestamp_ms: i64) -> MskRecord {
    MskRecord::new(TOPIC, partition, offset, timestamp_ms, Some(flight_id.as_bytes()), None)
}

pub fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis()
}

pub fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

pub fn event(records: impl IntoIterator<Item = MskRecord>) -> MskEvent {
    MskEvent::from_records(ARN, records)
}

/// State with dead letters kept in the store's own table (the local configuration).
pub fn local_state(store: Store) -> State {
    State::new(store.clone(), DeadLetterSink::Store(store))
}
