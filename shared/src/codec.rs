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

/// Largest record value accepted, decoded: 1 MiB.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// The only major schema version this build understands.
pub const SCHEMA_VERSION: u64 = 1;
const MAX_EVENT_ID_CHARS: usize = 128;
const MAX_SHORT_TEXT_CHARS: usize = 16;

/// Why a record can never be stored; the stable codes of the dead-letter contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    InvalidBase64,
    InvalidUtf8,
    InvalidJson,
    SchemaViolation,
    UnsupportedSchemaVersion,
    KeyMismatch,
    TooLarge,
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
    fn new(reason: RejectReason, field: Option<&str>, detail: impl Into<String>) -> Self {
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

/// Decodes and validates one record.
pub fn decode_record(raw: &RawRecord<'_>) -> Result<Snapshot, Rejection> {
    let key = match raw.key {
        Some(k) => Some(decode_text(k, "key", usize::MAX)?),
        None => None,
    };
    match raw.value {
        None => decode_tombstone(raw, key.as_deref()),
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

fn decode_tombstone(raw: &RawRecord<'_>, key: Option<&str>) -> Result<Snapshot, Rejection> {
    let key = key.ok_or_else(|| Rejection::schema("key", "a tombstone (null value) needs the flight id as its key"))?;
    let flight_id = FlightId::parse(key).map_err(|e| Rejection::schema("key", format!("tombstone key {e}")))?;
    let ms = raw
        .timestamp_ms
        .filter(|ms| *ms >= 0)
        .ok_or_else(|| Rejection::schema("timestamp", "a tombstone needs a Kafka timestamp to be ordered"))?;
    let event_time = DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| Rejection::schema("timestamp", "Kafka timestamp out of range"))?;
    Ok(Snapshot::Removal(Removal {
        flight_id,
        event_id: tombstone_event_id(raw.topic, raw.partition, raw.offset),
        event_time,
    }))
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

/// Base64-encodes bytes the way the event source mapping does (standard alphabet, padded).
pub fn encode_base64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}
