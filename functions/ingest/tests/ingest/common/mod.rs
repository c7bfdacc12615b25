//! Helpers shared by the ingest test suites: flight events, stores on both engines, the sample batch.
pub mod sample;

use chrono::{DateTime, Utc};
use contrail_ingest::{MskEvent, MskRecord, State};
use contrail_shared::config::DbConfig;
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::storage::Store;
use serde_json::{Value, json};

pub const TOPIC: &str = "flight-data";
pub const ARN: &str =
    "arn:aws:kafka:us-east-1:123456789012:cluster/contrail-msk/6b2a1f3c-5d4e-4a8b-9c0d-1e2f3a4b5c6d-2";

/// A flight-event/v1 value; `flight` is `{carrier}{number}`, the date and origin are fixed by the caller.
#[derive(Clone, Debug)]
pub struct Ev {
    pub event_id: String,
    pub carrier: String,
    pub number: String,
    pub date: String,
    pub origin: String,
    pub destination: String,
    pub status: String,
    pub event_time: String,
    pub extra: Value,
}

impl Ev {
    pub fn new(event_id: &str, flight: &str, status: &str, event_time: &str) -> Self {
        let (carrier, number) = flight.split_at(2);
        Self {
            event_id: event_id.to_owned(),
            carrier: carrier.to_owned(),
            number: number.to_owned(),
            date: "2026-11-25".to_owned(),
            origin: "EWR".to_owned(),
            destination: "SFO".to_owned(),
            status: status.to_owned(),
            event_time: event_time.to_owned(),
            extra: json!({}),
        }
    }

    pub fn route(mut self, origin: &str, destination: &str) -> Self {
        self.origin = origin.to_owned();
        self.destination = destination.to_owned();
        self
    }

    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.extra[field] = value;
        self
    }

    pub fn flight_id(&self) -> String {
        format!("{}{}-{}-{}", self.carrier, self.number, self.date, self.origin)
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "schema_version": 1,
            "event_id": self.event_id,
            "event_time": self.event_time,
            "carrier": self.carrier,
            "number": self.number,
            "date": self.date,
            "origin": self.origin,
            "destination": self.destination,
            "status": self.status,
            "scheduled_departure": format!("{}T14:00:00Z", self.date),
            "scheduled_arrival": format!("{}T20:25:00Z", self.date),
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut v, &self.extra) {
            for (k, val) in extra {
                base.insert(k.clone(), val.clone());
            }
        }
        v
    }

    /// The Kafka record carrying this event, keyed by its flight id.
    pub fn record(&self, partition: i64, offset: i64, timestamp_ms: i64) -> MskRecord {
        let value = self.to_json().to_string();
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

/// A migrated store on a fresh PostgreSQL database; `None` after a loud skip.
pub async fn postgres_store() -> Option<Store> {
    let url = contrail_testkit::postgres::fresh_database()?;
    let store = Store::connect(&DbConfig::from_url(url)).await.expect("connect to PostgreSQL");
    store.migrate().await.expect("migrate PostgreSQL");
    Some(store)
}

/// A migrated store on a new SQLite file (kept alive by the returned directory).
pub async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("contrail.db").display());
    let store = Store::connect(&DbConfig::from_url(url)).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    (store, dir)
}

/// State with dead letters kept in the store's own table (the local configuration).
pub fn local_state(store: Store) -> State {
    State::new(store.clone(), DeadLetterSink::Store(store))
}
