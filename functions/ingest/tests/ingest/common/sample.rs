//! The generator of `events/msk-flight-batch.json`: three partitions of `flight-data` with valid
//! snapshots, a redelivered duplicate, a late out-of-order snapshot, a tombstone, and one poison record
//! of each reason that fits in an event (`too_large` needs over 1 MiB and is covered by the handler tests).

use contrail_ingest::{MskEvent, MskRecord};
use serde_json::json;

use super::{ARN, Ev, TOPIC, ToRecord, ms, tombstone};

pub const FILE: &str = "msk-flight-batch.json";
/// The same records as a self-managed Kafka mapping delivers them.
pub const SELF_MANAGED_FILE: &str = "self-managed-kafka-batch.json";

/// What ingesting the sample into an empty store must report.
pub const RECORDS: u64 = 16;
pub const STORED: u64 = 9;
pub const DUPLICATES: u64 = 1;
/// The late, older AA100 snapshot: stored, but its flight already had a newer one.
pub const SUPERSEDED: u64 = 1;
pub const DEAD_LETTERED: u64 = 6;

pub const UA: &str = "UA1545-2026-11-25-EWR";
pub const AA: &str = "AA100-2026-11-25-JFK";
pub const B6: &str = "B6615-2026-11-25-JFK";

fn raw(partition: i64, offset: i64, ts: &str, key: Option<&[u8]>, value: &[u8]) -> MskRecord {
    MskRecord::new(TOPIC, partition, offset, ms(ts), key, Some(value))
}

pub fn build() -> MskEvent {
    let ua = |id: &str, status: &str, t: &str| Ev::new(id, "UA1545", status, t).route("EWR", "SFO");
    let aa = |id: &str, status: &str, t: &str| Ev::new(id, "AA100", status, t).route("JFK", "LAX");
    let b6 = |id: &str, status: &str, t: &str| Ev::new(id, "B6615", status, t).route("JFK", "BOS");

    let ua_boarding = ua("ua1545-20261125-0002", "boarding", "2026-11-25T13:20:00Z")
        .with("gate", json!("C71"))
        .with("terminal", json!("C"))
        .with("tail_number", json!("N37502"));
    let records = vec![
        ua("ua1545-20261125-0001", "scheduled", "2026-11-24T18:00:00Z")
            .record(0, 1041, ms("2026-11-24T18:00:00.120Z"))
            .with_header("producer", "flight-feed-zürich")
            .with_header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ua_boarding.record(0, 1042, ms("2026-11-25T13:20:00.480Z")),
        ua("ua1545-20261125-0003", "departed", "2026-11-25T14:07:00Z")
            .with("gate", json!("C71"))
            .with("actual_departure", json!("2026-11-25T14:06:00Z"))
            .with("estimated_arrival", json!("2026-11-25T20:31:00Z"))
            .record(0, 1043, ms("2026-11-25T14:07:00.310Z")),
        // The producer retried: the same event again.
        ua_boarding.record(0, 1044, ms("2026-11-25T14:07:02.050Z")),
        raw(0, 1045, "2026-11-25T14:07:03Z", Some(b"UA1545-2026-11-25-EWR"), b"")
            .with_base64_value("eyJldmVudF9pZCI6ICJ1YTE1NDUtMjAyNjExMjUtMDAwNCIs*not-base64*"),
        raw(
            0,
            1046,
            "2026-11-25T14:07:04Z",
            Some(b"UA1545-2026-11-25-EWR"),
            br#"{"event_id": "ua1545-20261125-0005", "carrier": "UA", "#,
        ),
        aa("aa100-20261125-0001", "scheduled", "2026-11-24T17:00:00Z").record(1, 877, ms("2026-11-24T17:00:00.900Z")),
        aa("aa100-20261125-0003", "airborne", "2026-11-25T14:32:00Z")
            .with("actual_departure", json!("2026-11-25T14:19:00Z"))
            .with(
                "position",
                json!({"lat": 40.52, "lon": -74.91, "altitude_ft": 21000, "ground_speed_kt": 410, "heading_deg": 262}),
            )
            .record(1, 878, ms("2026-11-25T14:32:00.200Z")),
        // Older than the airborne snapshot, delivered after it: history keeps it, state does not move back.
        aa("aa100-20261125-0002", "delayed", "2026-11-25T12:45:00Z")
            .with("estimated_departure", json!("2026-11-25T14:20:00Z"))
            .record(1, 879, ms("2026-11-25T14:32:05.000Z")),
        raw(1, 880, "2026-11-25T14:32:06Z", Some(b"AA100-2026-11-25-JFK"), b"{\"event_id\": \"aa100-\xff\xfe\"}"),
        aa("aa100-20261125-0004", "taxiing", "2026-11-25T14:33:00Z").record(1, 881, ms("2026-11-25T14:33:00Z")),
        b6("b6615-20261125-0001", "scheduled", "2026-11-24T16:00:00Z").record(2, 2210, ms("2026-11-24T16:00:00.050Z")),
        b6("b6615-20261125-0002", "cancelled", "2026-11-25T11:05:00Z").record(2, 2211, ms("2026-11-25T11:05:00.700Z")),
        // The producer withdraws the cancelled flight: a tombstone after its last snapshot.
        tombstone(super::sample::B6, 2, 2212, ms("2026-11-25T14:40:00Z")),
        b6("b6615-20261125-0003", "scheduled", "2026-11-25T14:41:00Z").with("schema_version", json!(2)).record(
            2,
            2213,
            ms("2026-11-25T14:41:00Z"),
        ),
        {
            let ev = Ev::new("dl402-20261125-0001", "DL402", "scheduled", "2026-11-25T14:42:00Z").route("ATL", "MCO");
            let value = ev.to_json().to_string();
            raw(2, 2214, "2026-11-25T14:42:00Z", Some(b"DL401-2026-11-25-ATL"), value.as_bytes())
        },
    ];
    let mut event = MskEvent::from_records(ARN, records);
    event.bootstrap_servers = "b-1.contrail-msk.q1w2e3.c2.kafka.us-east-1.amazonaws.com:9098,\
b-2.contrail-msk.q1w2e3.c2.kafka.us-east-1.amazonaws.com:9098"
        .to_owned();
    event
}

/// The sample's records from a self-managed Kafka: `eventSource` `SelfManagedKafka`, its brokers, no ARN.
pub fn build_self_managed() -> MskEvent {
    let records = build().iter_records().cloned().collect::<Vec<_>>();
    MskEvent::self_managed("kafka-1.flights.internal:9096,kafka-2.flights.internal:9096", records)
}

trait WithBase64Value {
    fn with_base64_value(self, value: &str) -> Self;
}

impl WithBase64Value for MskRecord {
    fn with_base64_value(mut self, value: &str) -> Self {
        self.value = Some(value.to_owned());
        self
    }
}

/// The event as committed: the envelope indented, one record per line.
pub fn render(event: &MskEvent) -> String {
    let s = |v: &str| serde_json::to_string(v).unwrap();
    let mut out = String::from("{\n");
    out += &format!("  \"eventSource\": {},\n", s(&event.event_source));
    // A self-managed Kafka's events have no ARN at all.
    if !event.event_source_arn.is_empty() {
        out += &format!("  \"eventSourceArn\": {},\n", s(&event.event_source_arn));
    }
    out += &format!("  \"bootstrapServers\": {},\n", s(&event.bootstrap_servers));
    out += "  \"records\": {\n";
    let groups: Vec<String> = event
        .records
        .iter()
        .map(|(key, recs)| {
            let lines: Vec<String> =
                recs.iter().map(|r| format!("      {}", serde_json::to_string(r).unwrap())).collect();
            format!("    {}: [\n{}\n    ]", s(key), lines.join(",\n"))
        })
        .collect();
    out += &groups.join(",\n");
    out += "\n  }\n}\n";
    out
}
