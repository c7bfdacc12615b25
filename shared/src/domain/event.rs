//! The flight event (flight-event/v1) and the snapshots the store orders by `(event_time, event_id)`.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::codes::{Airport, Carrier, FlightId, FlightNumber, InvalidCode};

/// A flight's status as producers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlightStatus {
    Scheduled,
    Delayed,
    Boarding,
    Departed,
    Airborne,
    Landed,
    Arrived,
    Cancelled,
    Diverted,
}

impl FlightStatus {
    /// Every status, in the order of a flight's life.
    pub const ALL: [FlightStatus; 9] = [
        Self::Scheduled,
        Self::Delayed,
        Self::Boarding,
        Self::Departed,
        Self::Airborne,
        Self::Landed,
        Self::Arrived,
        Self::Cancelled,
        Self::Diverted,
    ];

    /// The wire name, as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Delayed => "delayed",
            Self::Boarding => "boarding",
            Self::Departed => "departed",
            Self::Airborne => "airborne",
            Self::Landed => "landed",
            Self::Arrived => "arrived",
            Self::Cancelled => "cancelled",
            Self::Diverted => "diverted",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::str::FromStr for FlightStatus {
    type Err = InvalidCode;
    fn from_str(s: &str) -> Result<Self, InvalidCode> {
        Self::parse(s).ok_or(InvalidCode("must be a flight-event/v1 status"))
    }
}

impl fmt::Display for FlightStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the aircraft is; lat/lon are checked, the rest are reported as given (finite numbers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    pub altitude_ft: Option<f64>,
    pub ground_speed_kt: Option<f64>,
    pub heading_deg: Option<f64>,
}

/// A validated flight-event/v1: a full snapshot of one flight as known at `event_time`.
///
/// Times are UTC truncated to microseconds, the precision both databases keep, so ordering in
/// memory and in SQL agree.
///
/// Serialize only: the one way in is the codec's validating parse (`codec`), never a derived
/// `Deserialize` that would skip its checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlightEvent {
    pub schema_version: u32,
    pub event_id: String,
    pub event_time: DateTime<Utc>,
    pub carrier: Carrier,
    pub number: FlightNumber,
    pub date: NaiveDate,
    pub origin: Airport,
    pub destination: Airport,
    pub status: FlightStatus,
    pub scheduled_departure: DateTime<Utc>,
    pub scheduled_arrival: DateTime<Utc>,
    pub estimated_departure: Option<DateTime<Utc>>,
    pub estimated_arrival: Option<DateTime<Utc>>,
    pub actual_departure: Option<DateTime<Utc>>,
    pub actual_arrival: Option<DateTime<Utc>>,
    pub tail_number: Option<String>,
    pub gate: Option<String>,
    pub terminal: Option<String>,
    pub position: Option<Position>,
}

impl FlightEvent {
    /// The flight this snapshot describes.
    pub fn flight_id(&self) -> FlightId {
        FlightId::new(&self.carrier, &self.number, self.date, &self.origin)
    }

    /// Actual minus scheduled departure, in minutes; `None` before the actual time is known.
    pub fn departure_delay_minutes(&self) -> Option<f64> {
        self.actual_departure.map(|a| minutes_between(self.scheduled_departure, a))
    }

    /// Actual minus scheduled arrival, in minutes; `None` before the actual time is known.
    pub fn arrival_delay_minutes(&self) -> Option<f64> {
        self.actual_arrival.map(|a| minutes_between(self.scheduled_arrival, a))
    }

    /// The canonical JSON kept in history: known fields only, times in RFC 3339 UTC.
    pub fn to_canonical_json(&self) -> String {
        serde_json::to_string(self)
            .expect("plain fields with string keys always serialize (non-finite floats become null)")
    }
}

fn minutes_between(scheduled: DateTime<Utc>, actual: DateTime<Utc>) -> f64 {
    (actual - scheduled).num_microseconds().unwrap_or(0) as f64 / 60_000_000.0
}

/// A Kafka tombstone: the flight is removed as of `event_time` (the record's Kafka timestamp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub flight_id: FlightId,
    /// Derived from the record's coordinates, so a redelivered tombstone is a duplicate.
    pub event_id: String,
    pub event_time: DateTime<Utc>,
}

/// What one accepted Kafka record says about a flight.
#[derive(Debug, Clone, PartialEq)]
pub enum Snapshot {
    Event(Box<FlightEvent>),
    Removal(Removal),
}

impl Snapshot {
    /// The flight it belongs to.
    pub fn flight_id(&self) -> FlightId {
        match self {
            Self::Event(e) => e.flight_id(),
            Self::Removal(r) => r.flight_id.clone(),
        }
    }

    /// Unique per event; a second delivery with the same id is a duplicate.
    pub fn event_id(&self) -> &str {
        match self {
            Self::Event(e) => &e.event_id,
            Self::Removal(r) => &r.event_id,
        }
    }

    /// When the snapshot became true.
    pub fn event_time(&self) -> DateTime<Utc> {
        match self {
            Self::Event(e) => e.event_time,
            Self::Removal(r) => r.event_time,
        }
    }

    /// The newest-wins order: greater `(event_time, event_id)` is newer.
    pub fn order_key(&self) -> (DateTime<Utc>, &str) {
        (self.event_time(), self.event_id())
    }
}

/// Truncates a time to whole microseconds.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let micros = t.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_by_name() {
        for s in FlightStatus::ALL {
            assert_eq!(FlightStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(FlightStatus::parse("Landed"), None);
    }

    #[test]
    fn truncation_drops_nanoseconds_only() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123456789Z").unwrap().to_utc();
        assert_eq!(to_micros(t).to_rfc3339(), "2024-05-01T10:00:00.123456+00:00");
    }
}
