//! What the store returns and takes for reads: the served flight, history entries, filters, stats.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{Airport, Carrier, FlightStatus, Position};

/// The current snapshot of a flight, exactly as the query API serves it (absent values are `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flight {
    pub flight_id: String,
    pub carrier: String,
    pub number: String,
    pub date: NaiveDate,
    pub origin: String,
    pub destination: String,
    pub status: String,
    #[serde(with = "rfc3339")]
    pub scheduled_departure: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub scheduled_arrival: DateTime<Utc>,
    #[serde(with = "rfc3339::option")]
    pub estimated_departure: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339::option")]
    pub estimated_arrival: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339::option")]
    pub actual_departure: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339::option")]
    pub actual_arrival: Option<DateTime<Utc>>,
    pub departure_delay_minutes: Option<f64>,
    pub arrival_delay_minutes: Option<f64>,
    pub tail_number: Option<String>,
    pub gate: Option<String>,
    pub terminal: Option<String>,
    pub position: Option<Position>,
    /// The `event_time` of the current snapshot.
    #[serde(with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// One history entry: the event as received (canonical form) plus when it arrived.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub event_id: String,
    pub flight_id: String,
    #[serde(with = "rfc3339")]
    pub event_time: DateTime<Utc>,
    /// True for a removal (Kafka tombstone).
    pub removed: bool,
    /// The flight-event/v1 object as stored; `None` for a removal.
    pub event: Option<serde_json::Value>,
    #[serde(with = "rfc3339")]
    pub received_at: DateTime<Utc>,
}

/// Filters of `GET /flights`; every field narrows, `None`/empty means any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlightFilter {
    pub carrier: Option<Carrier>,
    pub origin: Option<Airport>,
    pub destination: Option<Airport>,
    pub date: Option<NaiveDate>,
    pub statuses: Vec<FlightStatus>,
    /// Scheduled departure at or after this time.
    pub departing_after: Option<DateTime<Utc>>,
    /// Scheduled departure strictly before this time.
    pub departing_before: Option<DateTime<Utc>>,
}

/// Which side of an airport's day a board shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardKind {
    /// Flights whose origin is the airport, ordered by scheduled departure.
    Departures,
    /// Flights whose destination is the airport, ordered by scheduled arrival.
    Arrivals,
}

/// One airport's board for one flight date.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardFilter {
    pub airport: Airport,
    pub date: NaiveDate,
    pub kind: BoardKind,
    pub carrier: Option<Carrier>,
    pub statuses: Vec<FlightStatus>,
}

/// A keyset position: the last row of the previous page, by (time, id) in the page's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub time: DateTime<Utc>,
    pub id: String,
}

/// Filters of `GET /stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsFilter {
    pub date: NaiveDate,
    pub origin: Option<Airport>,
    pub destination: Option<Airport>,
    pub carrier: Option<Carrier>,
}

/// Aggregates for one day, as `GET /stats` serves them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub flights: u64,
    pub by_status: BTreeMap<String, u64>,
    pub cancelled: u64,
    pub avg_departure_delay_minutes: Option<f64>,
    pub avg_arrival_delay_minutes: Option<f64>,
    /// Arrived with an arrival delay under 15 minutes, as a percentage of flights with an actual arrival.
    pub on_time_arrival_pct: Option<f64>,
}

/// What a batch write did: every snapshot is either newly stored or a duplicate of a stored one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WriteOutcome {
    pub stored: u64,
    pub duplicates: u64,
}

/// A dead letter held in the local dead-letter table.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDeadLetter {
    pub id: i64,
    pub letter: crate::deadletter::DeadLetter,
}

/// RFC 3339 UTC with a `Z` and only the fractional digits needed: the API's one time format.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    /// Formats a time the way every Contrail response does.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::format(t)),
                None => s.serialize_none(),
            }
        }
    }
}

/// Folds per-status aggregate rows (the same on both engines) into [`Stats`]: averages only over flights
/// with the actual time, on-time as a share of flights with an actual arrival, rounded to 2 decimals.
#[derive(Debug, Default)]
pub(crate) struct StatsAccumulator {
    stats: Stats,
    departures: u64,
    departure_delay_sum: f64,
    arrivals: u64,
    arrival_delay_sum: f64,
    on_time: u64,
}

impl StatsAccumulator {
    /// Adds one status group: its count, then (count, delay sum) with an actual departure, the same for
    /// arrivals, and how many arrived under 15 minutes late.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_group(
        &mut self,
        status: String,
        flights: u64,
        departures: u64,
        departure_delay_sum: f64,
        arrivals: u64,
        arrival_delay_sum: f64,
        on_time: u64,
    ) {
        self.stats.flights += flights;
        if status == "cancelled" {
            self.stats.cancelled += flights;
        }
        *self.stats.by_status.entry(status).or_default() += flights;
        self.departures += departures;
        self.departure_delay_sum += departure_delay_sum;
        self.arrivals += arrivals;
        self.arrival_delay_sum += arrival_delay_sum;
        self.on_time += on_time;
    }

    pub(crate) fn finish(mut self) -> Stats {
        let ratio = |sum: f64, n: u64| (n > 0).then(|| round2(sum / n as f64));
        self.stats.avg_departure_delay_minutes = ratio(self.departure_delay_sum, self.departures);
        self.stats.avg_arrival_delay_minutes = ratio(self.arrival_delay_sum, self.arrivals);
        self.stats.on_time_arrival_pct = ratio(100.0 * self.on_time as f64, self.arrivals);
        self.stats
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
