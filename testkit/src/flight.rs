//! flight-event/v1 values for tests: one builder every suite can share, so a change of the event's
//! shape is made once.

use serde_json::{Value, json};

/// A flight-event/v1 value; the flight is `{carrier}{number}` on a fixed date, from `origin`.
#[derive(Clone, Debug)]
pub struct FlightEvent {
    pub event_id: String,
    pub carrier: String,
    pub number: String,
    pub date: String,
    pub origin: String,
    pub destination: String,
    pub status: String,
    pub event_time: String,
    /// Optional fields (gate, tail number, …) merged over the required ones.
    pub extra: Value,
}

impl FlightEvent {
    /// `flight` is a two-character carrier code followed by the number, e.g. `UA1545`; the date is
    /// 2026-11-25 and the route EWR to SFO until changed.
    pub fn new(event_id: &str, flight: &str, status: &str, event_time: &str) -> Self {
        let (carrier, number) = flight.split_at(2.min(flight.len()));
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

    pub fn date(mut self, date: &str) -> Self {
        self.date = date.to_owned();
        self
    }

    /// Sets an optional field.
    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.extra[field] = value;
        self
    }

    /// `{carrier}{number}-{date}-{origin}`: the Kafka key and the API's flight id. Spelled out rather
    /// than built by `FlightId`, because suites also key events whose codes are invalid on purpose.
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
}

/// The JSON text, as a producer writes it to Kafka.
impl std::fmt::Display for FlightEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_json())
    }
}
