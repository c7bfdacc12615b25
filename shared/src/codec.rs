//! The wire codec: one Kafka record (base64 key and value, as the event source mapping delivers them)
//! in, a validated [`Snapshot`] or a machine-readable [`Rejection`] out. Never panics on input.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{
    Airport, Carrier, FlightEvent, FlightId, FlightNumber, FlightStatus, Position, Removal, Snapshot, parse_date,
    to_micros,
};
use crate::time_bounds::TimeBounds;

/// Largest record value accepted, decoded: 1 MiB.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// The only major schema version this build understands.
pub const SCHEMA_VERSION: u64 = 1;
const MAX_EVENT_ID_CHARS: usize = 128;
const MAX_SHORT_TEXT_CHARS: usize = 16;

/// Why a record can never be stored; the stable codes of the dead-letter contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    InvalidBase64,
    InvalidUtf8,
    InvalidJson,
    SchemaViolation,
    UnsupportedSchemaVersion,
    KeyMismatch,
    TooLarge,
    /// `event_time` (or a tombstone's removal time) outside the accepted window (see `time_bounds`).
    EventTimeOutOfRange,
    /// An `event_id` already stored (or earlier in the batch) with other content.
    ConflictingDuplicate,
}

impl RejectReason {
    /// The stable code, as written in dead letters and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidBase64 => "invalid_base64",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson => "invalid_json",
            Self::SchemaViolation => "schema_violation",
            Self::UnsupportedSchemaVersion => "unsupported_schema_version",
            Self::KeyMismatch => "key_mismatch",
            Self::TooLarge => "too_large",
            Self::EventTimeOutOfRange => "event_time_out_of_range",
            Self::ConflictingDuplicate => "conflicting_duplicate",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record refused by the codec: the reason code, the offending field (for schema violations and
/// encoding errors of key or value) and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}{}: {detail}", field.as_ref().map(|f| format!(" ({f})")).unwrap_or_default())]
pub struct Rejection {
    pub reason: RejectReason,
    pub field: Option<String>,
    pub detail: String,
}

impl Rejection {
    /// A rejection for `reason`, naming the offending field if there is one.
    pub fn new(reason: RejectReason, field: Option<&str>, detail: impl Into<String>) -> Self {
        Self { reason, field: field.map(str::to_owned), detail: detail.into() }
    }

    fn schema(field: &str, detail: impl Into<String>) -> Self {
        Self::new(RejectReason::SchemaViolation, Some(field), detail)
    }
}

/// One Kafka record as delivered: where it came from and its still-encoded key and value.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub topic: &'a str,
    pub partition: i64,
    pub offset: i64,
    /// Kafka timestamp in milliseconds, if the record had one.
    pub timestamp_ms: Option<i64>,
    /// Base64 key; `None` for a record without a key.
    pub key: Option<&'a str>,
    /// Base64 value; `None` for a tombstone.
    pub value: Option<&'a str>,
}

/// The Kafka header that carries a tombstone's removal time (RFC 3339, UTF-8).
pub const EVENT_TIME_HEADER: &str = "event_time";

/// Decodes and validates one record, without time bounds or headers.
pub fn decode_record(raw: &RawRecord<'_>) -> Result<Snapshot, Rejection> {
    decode_kafka_record(raw, None, &TimeBounds::UNBOUNDED)
}

/// Decodes and validates one record as ingest does: a tombstone's removal time is its `event_time` header
/// when it has one (else its Kafka timestamp), and the event or removal time must fall within `bounds`.
pub fn decode_kafka_record(
    raw: &RawRecord<'_>,
    event_time_header: Option<&[u8]>,
    bounds: &TimeBounds,
) -> Result<Snapshot, Rejection> {
    let snapshot = decode_unbounded(raw, event_time_header)?;
    let field = match (&snapshot, event_time_header) {
        (Snapshot::Event(_), _) => "event_time",
        (Snapshot::Removal(_), Some(_)) => "headers.event_time",
        (Snapshot::Removal(_), None) => "timestamp",
    };
    bounds.check(field, snapshot.event_time())?;
    Ok(snapshot)
}

fn decode_unbounded(raw: &RawRecord<'_>, event_time_header: Option<&[u8]>) -> Result<Snapshot, Rejection> {
    let key = match raw.key {
        Some(k) => Some(decode_text(k, "key", usize::MAX)?),
        None => None,
    };
    match raw.value {
        None => decode_tombstone(raw, key.as_deref(), event_time_header),
        Some(value) => {
            let text = decode_text(value, "value", MAX_VALUE_BYTES)?;
            let event = parse_event(&text)?;
            if let Some(key) = key.as_deref() {
                let derived = event.flight_id();
                if key != derived.as_str() {
                    return Err(Rejection::new(
                        RejectReason::KeyMismatch,
                        Some("key"),
                        format!("key {:?} differs from the flight id {derived} derived from the value", clip(key)),
                    ));
                }
            }
            Ok(Snapshot::Event(Box::new(event)))
        }
    }
}

fn decode_tombstone(
    raw: &RawRecord<'_>,
    key: Option<&str>,
    event_time_header: Option<&[u8]>,
) -> Result<Snapshot, Rejection> {
    let key = key.ok_or_else(|| Rejection::schema("key", "a tombstone (null value) needs the flight id as its key"))?;
    let flight_id = FlightId::parse(key).map_err(|e| Rejection::schema("key", format!("tombstone key {e}")))?;
    let event_id = tombstone_event_id(raw.topic, raw.partition, raw.offset);
    // The producer's removal time, on the same clock as its snapshots' event_time. A header that is there
    // but unreadable is refused rather than silently replaced by the broker's clock.
    if let Some(bytes) = event_time_header {
        const FIELD: &str = "headers.event_time";
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Rejection::schema(FIELD, format!("the header is not UTF-8 (bad byte at {})", e.valid_up_to()))
        })?;
        let event_time = parse_time(FIELD, text)?;
        return Ok(Snapshot::Removal(Removal { flight_id, event_id, event_time }));
    }
    let ms = raw
        .timestamp_ms
        .filter(|ms| *ms >= 0)
        .ok_or_else(|| Rejection::schema("timestamp", "a tombstone needs a Kafka timestamp to be ordered"))?;
    let event_time = DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| Rejection::schema("timestamp", "Kafka timestamp out of range"))?;
    Ok(Snapshot::Removal(Removal { flight_id, event_id, event_time }))
}

/// The history id of a tombstone: its Kafka coordinates, so a redelivery is a duplicate.
pub fn tombstone_event_id(topic: &str, partition: i64, offset: i64) -> String {
    format!("tombstone:{topic}-{partition}@{offset}")
}

fn decode_text(encoded: &str, field: &str, max_bytes: usize) -> Result<String, Rejection> {
    // Refuse oversize input before allocating for it: base64 is 4 characters per 3 bytes.
    if max_bytes != usize::MAX && encoded.len() / 4 * 3 > max_bytes + 3 {
        return Err(Rejection::new(
            RejectReason::TooLarge,
            Some(field),
            format!("{field} is about {} bytes, over the {max_bytes}-byte limit", encoded.len() / 4 * 3),
        ));
    }
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|e| Rejection::new(RejectReason::InvalidBase64, Some(field), format!("{field} is not base64: {e}")))?;
    if bytes.len() > max_bytes {
        return Err(Rejection::new(
            RejectReason::TooLarge,
            Some(field),
            format!("{field} is {} bytes, over the {max_bytes}-byte limit", bytes.len()),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        Rejection::new(
            RejectReason::InvalidUtf8,
            Some(field),
            format!("{field} is not UTF-8 (bad byte at {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// Parses and validates a flight-event/v1 JSON text; unknown fields are ignored.
pub fn parse_event(text: &str) -> Result<FlightEvent, Rejection> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Rejection::new(RejectReason::InvalidJson, Some("value"), format!("value is not JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(Rejection::schema("$", "the value must be a JSON object"));
    };
    let fields = Fields(&obj);

    let schema_version = match obj.get("schema_version") {
        None | Some(Value::Null) => SCHEMA_VERSION,
        Some(v) => {
            let n = v.as_u64().ok_or_else(|| Rejection::schema("schema_version", "must be a positive integer"))?;
            if n != SCHEMA_VERSION {
                return Err(Rejection::new(
                    RejectReason::UnsupportedSchemaVersion,
                    Some("schema_version"),
                    format!("schema version {n} is not supported (this build reads version {SCHEMA_VERSION})"),
                ));
            }
            n
        }
    };

    let event_id = fields.text("event_id", MAX_EVENT_ID_CHARS)?;
    let carrier = fields.code("carrier", Carrier::parse)?;
    let number = fields.code("number", FlightNumber::parse)?;
    let date_text = fields.required_str("date")?;
    let date = parse_date(date_text).map_err(|e| Rejection::schema("date", e.to_string()))?;
    let origin = fields.code("origin", Airport::parse)?;
    let destination = fields.code("destination", Airport::parse)?;
    let status_text = fields.required_str("status")?;
    let status = FlightStatus::parse(status_text)
        .ok_or_else(|| Rejection::schema("status", format!("unknown status {:?}", clip(status_text))))?;

    Ok(FlightEvent {
        schema_version: u32::try_from(schema_version).unwrap_or(1),
        event_id,
        event_time: fields.time("event_time")?,
        carrier,
        number,
        date,
        origin,
        destination,
        status,
        scheduled_departure: fields.time("scheduled_departure")?,
        scheduled_arrival: fields.time("scheduled_arrival")?,
        estimated_departure: fields.optional_time("estimated_departure")?,
        estimated_arrival: fields.optional_time("estimated_arrival")?,
        actual_departure: fields.optional_time("actual_departure")?,
        actual_arrival: fields.optional_time("actual_arrival")?,
        tail_number: fields.optional_text("tail_number", MAX_SHORT_TEXT_CHARS)?,
        gate: fields.optional_text("gate", MAX_SHORT_TEXT_CHARS)?,
        terminal: fields.optional_text("terminal", MAX_SHORT_TEXT_CHARS)?,
        position: parse_position(obj.get("position"))?,
    })
}

/// Field accessors that name the field in every error.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn present(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn required_str(&self, name: &str) -> Result<&'a str, Rejection> {
        match self.present(name) {
            None => Err(Rejection::schema(name, "is required")),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(Rejection::schema(name, "must be a string")),
        }
    }

    fn code<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, crate::domain::InvalidCode>,
    ) -> Result<T, Rejection> {
        let s = self.required_str(name)?;
        parse(s).map_err(|e| Rejection::schema(name, format!("{:?} {e}", clip(s))))
    }

    fn text(&self, name: &str, max_chars: usize) -> Result<String, Rejection> {
        let s = self.required_str(name)?;
        check_text(name, s, 1, max_chars)
    }

    fn optional_text(&self, name: &str, max_chars: usize) -> Result<Option<String>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => check_text(name, s, 0, max_chars).map(Some),
            Some(_) => Err(Rejection::schema(name, "must be a string")),
        }
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, Rejection> {
        parse_time(name, self.required_str(name)?)
    }

    fn optional_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => parse_time(name, s).map(Some),
            Some(_) => Err(Rejection::schema(name, "must be an RFC 3339 timestamp string")),
        }
    }
}

fn check_text(name: &str, s: &str, min: usize, max: usize) -> Result<String, Rejection> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(Rejection::schema(name, format!("must be {min}-{max} characters, got {n}")));
    }
    if s.chars().any(char::is_control) {
        return Err(Rejection::schema(name, "must not contain control characters"));
    }
    Ok(s.to_owned())
}

fn parse_time(name: &str, s: &str) -> Result<DateTime<Utc>, Rejection> {
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|_| Rejection::schema(name, format!("{:?} is not an RFC 3339 timestamp", clip(s))))?;
    Ok(to_micros(t.to_utc()))
}

fn parse_position(v: Option<&Value>) -> Result<Option<Position>, Rejection> {
    let obj = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(Rejection::schema("position", "must be an object")),
    };
    let num = |k: &str, range: std::ops::RangeInclusive<f64>, required: bool| -> Result<Option<f64>, Rejection> {
        let field = format!("position.{k}");
        match obj.get(k).filter(|v| !v.is_null()) {
            None if required => Err(Rejection::schema(&field, "is required")),
            None => Ok(None),
            Some(v) => {
                let n = v
                    .as_f64()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| Rejection::schema(&field, "must be a number"))?;
                if range.contains(&n) {
                    Ok(Some(n))
                } else {
                    Err(Rejection::schema(&field, format!("{n} is outside [{}, {}]", range.start(), range.end())))
                }
            }
        }
    };
    let lat = num("lat", -90.0..=90.0, true)?.unwrap_or_default();
    let lon = num("lon", -180.0..=180.0, true)?.unwrap_or_default();
    Ok(Some(Position {
        lat,
        lon,
        altitude_ft: num("altitude_ft", -2_000.0..=100_000.0, false)?,
        ground_speed_kt: num("ground_speed_kt", 0.0..=2_000.0, false)?,
        heading_deg: num("heading_deg", 0.0..=360.0, false)?,
    }))
}

/// Shortens untrusted text quoted in an error message.
fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX { s.to_owned() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

/// Lower-case hexadecimal of bytes: ids, validators and checksums as text.
pub fn encode_hex(bytes: impl AsRef<[u8]>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Base64-encodes bytes the way the event source mapping does (standard alphabet, padded).
pub fn encode_base64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(encode_hex([0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(encode_hex([]), "");
    }

    fn valid() -> Value {
        json!({
            "event_id": "e-1",
            "event_time": "2026-11-25T14:07:00.1234567+01:00",
            "carrier": "UA",
            "number": "1545",
            "date": "2026-11-25",
            "origin": "EWR",
            "destination": "SFO",
            "status": "departed",
            "scheduled_departure": "2026-11-25T14:00:00Z",
            "scheduled_arrival": "2026-11-25T20:25:00Z",
            "actual_departure": "2026-11-25T14:06:30Z",
        })
    }

    fn record<'a>(key: Option<&'a str>, value: Option<&'a str>) -> RawRecord<'a> {
        RawRecord { topic: "flight-data", partition: 2, offset: 40, timestamp_ms: Some(1_764_079_200_000), key, value }
    }

    fn decode_json(v: &Value) -> Result<Snapshot, Rejection> {
        let value = encode_base64(v.to_string());
        decode_record(&record(Some(&encode_base64("UA1545-2026-11-25-EWR")), Some(&value)))
    }

    fn rejection(v: &Value) -> (RejectReason, Option<String>) {
        let r = decode_json(v).unwrap_err();
        (r.reason, r.field)
    }

    fn schema(field: &str) -> (RejectReason, Option<String>) {
        (RejectReason::SchemaViolation, Some(field.to_owned()))
    }

    #[test]
    fn a_valid_event_decodes_to_a_snapshot_with_derived_fields() {
        let Snapshot::Event(e) = decode_json(&valid()).unwrap() else { panic!("expected an event") };
        assert_eq!(e.flight_id().as_str(), "UA1545-2026-11-25-EWR");
        assert_eq!(e.schema_version, 1);
        assert_eq!(e.event_time.to_rfc3339(), "2026-11-25T13:07:00.123456+00:00", "UTC, truncated to microseconds");
        assert_eq!(e.departure_delay_minutes(), Some(6.5));
        assert_eq!(e.arrival_delay_minutes(), None);
        assert_eq!(e.position, None);
    }

    #[test]
    fn unknown_fields_are_ignored_and_nulls_mean_absent() {
        let mut v = valid();
        v["airline_name"] = json!("United");
        v["gate"] = Value::Null;
        v["schema_version"] = Value::Null;
        v["position"] = json!({"lat": 40.5, "lon": -74.2, "altitude_ft": null, "squawk": "7000"});
        let Snapshot::Event(e) = decode_json(&v).unwrap() else { panic!() };
        assert_eq!(e.gate, None);
        assert_eq!(e.position.map(|p| (p.lat, p.lon, p.altitude_ft)), Some((40.5, -74.2, None)));
    }

    #[test]
    fn a_record_without_a_key_is_checked_by_its_value_alone() {
        let value = encode_base64(valid().to_string());
        assert!(decode_record(&record(None, Some(&value))).is_ok());
    }

    #[test]
    fn encoding_errors_name_the_part_that_failed() {
        let good = encode_base64(valid().to_string());
        let r = decode_record(&record(Some("@@"), Some(&good))).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::InvalidBase64, Some("key")));
        let r = decode_record(&record(None, Some("e30"))).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::InvalidBase64, Some("value")));
        let r = decode_record(&record(None, Some(&encode_base64(b"{\"a\":\"\xc3\x28\"}")))).unwrap_err();
        assert_eq!(r.reason, RejectReason::InvalidUtf8);
        let r = decode_record(&record(Some(&encode_base64(b"\xff")), Some(&good))).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::InvalidUtf8, Some("key")));
        for text in ["", "{", "[1,2", "nul", "{\"a\":1}x"] {
            let r = decode_record(&record(None, Some(&encode_base64(text)))).unwrap_err();
            assert_eq!(r.reason, RejectReason::InvalidJson, "{text:?}");
        }
    }

    #[test]
    fn values_over_one_mebibyte_are_too_large_and_exactly_one_is_not() {
        let pad = |n: usize| {
            let mut v = valid();
            let base = v.to_string().len() + r#","gate":"""#.len();
            v["gate"] = json!("x".repeat(n - base));
            v.to_string()
        };
        let at_limit = pad(MAX_VALUE_BYTES);
        assert_eq!(at_limit.len(), MAX_VALUE_BYTES);
        // At the size limit the value is read (and here refused for its 16-character gate rule).
        let r = decode_record(&record(None, Some(&encode_base64(&at_limit)))).unwrap_err();
        assert_eq!(r, Rejection::schema("gate", r.detail.clone()));
        let over = pad(MAX_VALUE_BYTES + 1);
        let r = decode_record(&record(None, Some(&encode_base64(&over)))).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::TooLarge, Some("value")));
        let r = decode_record(&record(None, Some(&"A".repeat(4 * MAX_VALUE_BYTES)))).unwrap_err();
        assert_eq!(r.reason, RejectReason::TooLarge, "refused before decoding");
    }

    #[test]
    fn schema_versions_other_than_one_are_unsupported() {
        for (version, expected) in [
            (json!(1), None),
            (json!(2), Some((RejectReason::UnsupportedSchemaVersion, Some("schema_version".to_owned())))),
            (json!(0), Some((RejectReason::UnsupportedSchemaVersion, Some("schema_version".to_owned())))),
            (json!(-1), Some(schema("schema_version"))),
            (json!(1.5), Some(schema("schema_version"))),
            (json!("1"), Some(schema("schema_version"))),
        ] {
            let mut v = valid();
            v["schema_version"] = version.clone();
            assert_eq!(decode_json(&v).err().map(|r| (r.reason, r.field)), expected, "{version}");
        }
    }

    #[test]
    fn every_contract_rule_names_its_field() {
        let cases: Vec<(&str, Value)> = vec![
            ("event_id", json!("")),
            ("event_id", json!("x".repeat(129))),
            ("event_id", json!("a\nb")),
            ("event_id", json!(17)),
            ("event_time", json!("2026-11-25 14:07")),
            ("event_time", json!("yesterday")),
            ("carrier", json!("ua")),
            ("carrier", json!("UAL")),
            ("number", json!("12345")),
            ("number", json!("12ab")),
            ("date", json!("2026-11-31")),
            ("date", json!("25/11/2026")),
            ("origin", json!("EW1")),
            ("destination", json!("sfo")),
            ("status", json!("taxiing")),
            ("status", json!("Departed")),
            ("scheduled_departure", json!(1764079200)),
            ("scheduled_arrival", json!("2026-11-25T25:00:00Z")),
            ("estimated_departure", json!("soon")),
            ("actual_arrival", json!(true)),
            ("tail_number", json!("N".repeat(17))),
            ("gate", json!(12)),
            ("terminal", json!("T\u{7}")),
            ("position", json!([40.0, -74.0])),
        ];
        for (field, bad) in cases {
            let mut v = valid();
            v[field] = bad.clone();
            assert_eq!(rejection(&v), schema(field), "{field} = {bad}");
        }
        for required in ["event_id", "event_time", "carrier", "number", "date", "origin", "destination", "status"] {
            let mut v = valid();
            v.as_object_mut().unwrap().remove(required);
            assert_eq!(rejection(&v), schema(required), "missing {required}");
        }
        assert_eq!(rejection(&json!([1, 2])), schema("$"));
        assert_eq!(rejection(&json!("text")), schema("$"));
    }

    #[test]
    fn positions_are_range_checked() {
        for (pos, field) in [
            (json!({"lon": 1.0}), "position.lat"),
            (json!({"lat": 91.0, "lon": 0.0}), "position.lat"),
            (json!({"lat": 0.0, "lon": -180.5}), "position.lon"),
            (json!({"lat": 0.0, "lon": 0.0, "heading_deg": 361}), "position.heading_deg"),
            (json!({"lat": 0.0, "lon": 0.0, "ground_speed_kt": -1}), "position.ground_speed_kt"),
            (json!({"lat": "40", "lon": 0.0}), "position.lat"),
        ] {
            let mut v = valid();
            v["position"] = pos;
            assert_eq!(rejection(&v), schema(field));
        }
        let mut v = valid();
        v["position"] = json!({"lat": -90, "lon": 180, "heading_deg": 360, "altitude_ft": 37000});
        assert!(decode_json(&v).is_ok());
    }

    #[test]
    fn a_key_that_differs_from_the_derived_flight_id_is_a_mismatch() {
        let value = encode_base64(valid().to_string());
        for key in ["UA1545-2026-11-26-EWR", "ua1545-2026-11-25-EWR", "", "UA1545"] {
            let r = decode_record(&record(Some(&encode_base64(key)), Some(&value))).unwrap_err();
            assert_eq!((r.reason, r.field.as_deref()), (RejectReason::KeyMismatch, Some("key")), "{key:?}");
        }
    }

    #[test]
    fn a_tombstone_is_a_removal_at_its_kafka_timestamp_with_a_stable_id() {
        let key = encode_base64("UA1545-2026-11-25-EWR");
        let Snapshot::Removal(r) = decode_record(&record(Some(&key), None)).unwrap() else { panic!() };
        assert_eq!(r.flight_id.as_str(), "UA1545-2026-11-25-EWR");
        assert_eq!(r.event_time.timestamp_millis(), 1_764_079_200_000);
        assert_eq!(r.event_id, "tombstone:flight-data-2@40");
        assert_eq!(r.event_id, tombstone_event_id("flight-data", 2, 40));
    }

    #[test]
    fn a_tombstone_needs_a_valid_key_and_a_timestamp() {
        let r = decode_record(&record(None, None)).unwrap_err();
        assert_eq!(r, Rejection::schema("key", r.detail.clone()));
        let bad_key = encode_base64("not a flight");
        let r = decode_record(&record(Some(&bad_key), None)).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::SchemaViolation, Some("key")));
        let key = encode_base64("UA1545-2026-11-25-EWR");
        for ts in [None, Some(-1)] {
            let raw = RawRecord { timestamp_ms: ts, ..record(Some(&key), None) };
            let r = decode_record(&raw).unwrap_err();
            assert_eq!((r.reason, r.field.as_deref()), (RejectReason::SchemaViolation, Some("timestamp")));
        }
    }

    #[test]
    fn a_tombstone_with_an_event_time_header_is_removed_at_that_time() {
        let key = encode_base64("UA1545-2026-11-25-EWR");
        let raw = record(Some(&key), None);
        let header = b"2026-11-25T15:00:00.5+01:00".as_slice();
        let Snapshot::Removal(r) = decode_kafka_record(&raw, Some(header), &TimeBounds::UNBOUNDED).unwrap() else {
            panic!()
        };
        assert_eq!(r.event_time.to_rfc3339(), "2026-11-25T14:00:00.500+00:00", "the header, not the Kafka timestamp");
        assert_eq!(r.event_id, "tombstone:flight-data-2@40");
        // Without a Kafka timestamp the header alone orders the removal.
        let raw = RawRecord { timestamp_ms: None, ..raw };
        assert!(decode_kafka_record(&raw, Some(header), &TimeBounds::UNBOUNDED).is_ok());
        // An event's own event_time is what counts; the header is ignored for it.
        let value = encode_base64(valid().to_string());
        let event = record(None, Some(&value));
        let Snapshot::Event(e) = decode_kafka_record(&event, Some(b"garbage"), &TimeBounds::UNBOUNDED).unwrap() else {
            panic!()
        };
        assert_eq!(e.event_time.to_rfc3339(), "2026-11-25T13:07:00.123456+00:00");
    }

    #[test]
    fn an_unreadable_event_time_header_is_a_schema_violation_not_a_fallback() {
        let key = encode_base64("UA1545-2026-11-25-EWR");
        let raw = record(Some(&key), None);
        for bad in [b"yesterday".as_slice(), b"", b"\xff\xfe", b"2026-11-25 15:00"] {
            let r = decode_kafka_record(&raw, Some(bad), &TimeBounds::UNBOUNDED).unwrap_err();
            assert_eq!(
                (r.reason, r.field.as_deref()),
                (RejectReason::SchemaViolation, Some("headers.event_time")),
                "{bad:?}: {r}"
            );
        }
    }

    #[test]
    fn times_outside_the_bounds_are_out_of_range_naming_the_field_they_came_from() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z").unwrap().to_utc();
        let bounds = crate::time_bounds::TimeLimits { max_future_skew_seconds: 60, retention_months: 1 }.bounds_at(now);
        let mut v = valid();
        v["event_time"] = json!("9999-12-31T23:59:59Z");
        let value = encode_base64(v.to_string());
        let r = decode_kafka_record(&record(None, Some(&value)), None, &bounds).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::EventTimeOutOfRange, Some("event_time")));
        let key = encode_base64("UA1545-2026-11-25-EWR");
        // Kafka timestamp 2025-11-25T14:00Z: before the horizon 2026-10-01.
        let old = RawRecord { timestamp_ms: Some(1_764_079_200_000 - 365 * 86_400_000), ..record(Some(&key), None) };
        let r = decode_kafka_record(&old, None, &bounds).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::EventTimeOutOfRange, Some("timestamp")));
        let r = decode_kafka_record(&old, Some(b"2027-01-01T00:00:00Z"), &bounds).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::EventTimeOutOfRange, Some("headers.event_time")));
        assert!(decode_kafka_record(&old, Some(b"2026-11-25T11:00:00Z"), &bounds).is_ok(), "the header decides");
    }

    #[test]
    fn rejection_messages_clip_untrusted_text() {
        let mut v = valid();
        v["status"] = json!("s".repeat(10_000));
        let r = decode_json(&v).unwrap_err();
        assert!(r.detail.len() < 200, "{}", r.detail.len());
        assert!(r.to_string().starts_with("schema_violation (status): "));
    }

    #[test]
    fn reasons_serialize_as_their_stable_codes() {
        for reason in [
            RejectReason::InvalidBase64,
            RejectReason::InvalidUtf8,
            RejectReason::InvalidJson,
            RejectReason::SchemaViolation,
            RejectReason::UnsupportedSchemaVersion,
            RejectReason::KeyMismatch,
            RejectReason::TooLarge,
            RejectReason::EventTimeOutOfRange,
            RejectReason::ConflictingDuplicate,
        ] {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
            assert_eq!(serde_json::from_value::<RejectReason>(json!(reason.as_str())).unwrap(), reason);
        }
    }

    /// Random input through proptest: whatever arrives, the decoder answers with a snapshot or a
    /// rejection, never a panic, and a rejection of well-formed JSON names a content reason.
    mod random_input {
        use proptest::collection::{btree_map, vec};
        use proptest::prelude::*;

        use super::*;

        /// Any JSON value, nested up to three levels.
        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                ".{0,40}".prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 16, 4, |inner| {
                prop_oneof![
                    vec(inner.clone(), 0..4).prop_map(Value::from),
                    btree_map(".{0,8}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        const FIELDS: [&str; 13] = [
            "schema_version",
            "event_id",
            "event_time",
            "carrier",
            "number",
            "date",
            "origin",
            "destination",
            "status",
            "scheduled_departure",
            "scheduled_arrival",
            "gate",
            "position",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            #[test]
            fn arbitrary_bytes_never_panic_the_decoder(key in vec(any::<u8>(), 0..64), value in vec(any::<u8>(), 0..512)) {
                let (key, value) = (encode_base64(&key), encode_base64(&value));
                let _ = decode_record(&record(Some(&key), Some(&value)));
                let _ = decode_record(&record(Some(&key), None));
            }

            #[test]
            fn text_that_is_not_base64_is_refused_as_such(text in "[^A-Za-z0-9+/=]{1,64}") {
                let err = decode_record(&record(Some(&encode_base64("UA1545-2026-11-25-EWR")), Some(&text))).unwrap_err();
                prop_assert_eq!(err.reason, RejectReason::InvalidBase64);
            }

            #[test]
            fn any_value_in_any_field_is_stored_or_refused_for_its_content(
                field in proptest::sample::select(&FIELDS[..]),
                value in json_value(),
            ) {
                let mut event = valid();
                event[field] = value;
                if let Err(r) = decode_json(&event) {
                    let content = [
                        RejectReason::SchemaViolation,
                        RejectReason::UnsupportedSchemaVersion,
                        RejectReason::KeyMismatch,
                    ];
                    prop_assert!(content.contains(&r.reason), "{field}: {r:?}");
                }
            }
        }
    }
}
