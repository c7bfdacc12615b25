//! What the store returns and takes for reads: the served flight, history entries, filters, stats.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{Airport, Carrier, FlightNumber, FlightStatus, Position};
use crate::storage::StoreError;

/// The current snapshot of a flight, exactly as the query API serves it (absent values are `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flight {
    pub flight_id: String,
    pub carrier: Carrier,
    pub number: FlightNumber,
    pub date: NaiveDate,
    pub origin: Airport,
    pub destination: Airport,
    pub status: FlightStatus,
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BoardKind {
    /// Flights whose origin is the airport, ordered by scheduled departure.
    Departures,
    /// Flights whose destination is the airport, ordered by scheduled arrival.
    Arrivals,
}

/// One airport's board for one flight date.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Statuses `GET /positions` serves: `airborne` always, `departed` on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PositionStatuses {
    Airborne,
    AirborneAndDeparted,
}

/// A longitude/latitude box, edges included. `min_lon > max_lon` means the box crosses the antimeridian
/// (it holds longitudes from `min_lon` up to 180 and from -180 up to `max_lon`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BBox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl BBox {
    /// Whether the box wraps around the antimeridian.
    pub fn crosses_antimeridian(&self) -> bool {
        self.min_lon > self.max_lon
    }
}

/// Filters of `GET /positions`; every set field narrows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionFilter {
    pub statuses: PositionStatuses,
    pub bbox: Option<BBox>,
    pub carrier: Option<Carrier>,
    pub origin: Option<Airport>,
    pub destination: Option<Airport>,
}

/// One airborne flight's current position, the compact row of `GET /positions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlightPosition {
    pub flight_id: String,
    pub carrier: Carrier,
    pub number: FlightNumber,
    pub origin: Airport,
    pub destination: Airport,
    pub lat: f64,
    pub lon: f64,
    pub heading_deg: Option<f64>,
    pub altitude_ft: Option<f64>,
    pub ground_speed_kt: Option<f64>,
    /// The `event_time` of the snapshot that reported the position.
    #[serde(with = "rfc3339")]
    pub event_time: DateTime<Utc>,
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
    pub by_status: BTreeMap<FlightStatus, u64>,
    pub cancelled: u64,
    pub avg_departure_delay_minutes: Option<f64>,
    pub avg_arrival_delay_minutes: Option<f64>,
    /// Arrived with an arrival delay under 15 minutes, as a percentage of flights with an actual arrival.
    pub on_time_arrival_pct: Option<f64>,
}

/// How `GET /stats?group_by=` splits one airport's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsGrouping {
    /// By the UTC hour of the scheduled departure (departures) or scheduled arrival (arrivals).
    Hour,
    /// By carrier.
    Carrier,
}

/// Filters of `GET /stats?group_by=`: the flights of one flight date that match every set filter, counted as
/// departures (those leaving `airport`, when set) and as arrivals (those bound for `airport`, when set).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupedStatsFilter {
    pub date: NaiveDate,
    pub airport: Option<Airport>,
    pub origin: Option<Airport>,
    pub destination: Option<Airport>,
    pub carrier: Option<Carrier>,
    pub grouping: StatsGrouping,
}

/// One group's departures and arrivals: counts of every current flight, delays and on-time shares over the
/// flights with an actual time. On time means less than 15 minutes late ([`ON_TIME_MINUTES`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupStats {
    pub departures: u64,
    pub avg_departure_delay_minutes: Option<f64>,
    pub on_time_departure_pct: Option<f64>,
    pub arrivals: u64,
    pub avg_arrival_delay_minutes: Option<f64>,
    pub on_time_arrival_pct: Option<f64>,
}

/// One UTC hour of the day (`group_by=hour`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourStats {
    /// The start of the UTC hour.
    #[serde(with = "rfc3339")]
    pub hour: DateTime<Utc>,
    #[serde(flatten)]
    pub stats: GroupStats,
}

/// One carrier's flights of the day (`group_by=carrier`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarrierStats {
    pub carrier: Carrier,
    #[serde(flatten)]
    pub stats: GroupStats,
}

/// The groups of `GET /stats?group_by=`, in key order; groups without a departure or an arrival are absent.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupedStats {
    Hours(Vec<HourStats>),
    Carriers(Vec<CarrierStats>),
}

/// A flight less than this many minutes late is on time (the US DOT's definition), in every statistic.
pub const ON_TIME_MINUTES: f64 = 15.0;

/// Which side of an airport a grouped aggregate row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Departures,
    Arrivals,
}

/// One aggregate row of either engine's grouped statistics: (count, then count, delay sum and on-time count
/// over the flights with the actual time).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SideTotals {
    pub(crate) flights: u64,
    pub(crate) timed: u64,
    pub(crate) delay_sum: f64,
    pub(crate) on_time: u64,
}

/// Folds the per-side rows of both engines into groups, the same way [`StatsAccumulator`] does for the day.
#[derive(Debug)]
pub(crate) struct GroupAccumulator<K: Ord> {
    groups: BTreeMap<K, (SideTotals, SideTotals)>,
}

impl<K: Ord> Default for GroupAccumulator<K> {
    fn default() -> Self {
        Self { groups: BTreeMap::new() }
    }
}

impl<K: Ord> GroupAccumulator<K> {
    pub(crate) fn add(&mut self, key: K, side: Side, totals: SideTotals) {
        let (departures, arrivals) = self.groups.entry(key).or_default();
        let slot = match side {
            Side::Departures => departures,
            Side::Arrivals => arrivals,
        };
        slot.flights += totals.flights;
        slot.timed += totals.timed;
        slot.delay_sum += totals.delay_sum;
        slot.on_time += totals.on_time;
    }

    pub(crate) fn finish(self) -> Vec<(K, GroupStats)> {
        let ratio = |sum: f64, n: u64| (n > 0).then(|| round2(sum / n as f64));
        self.groups
            .into_iter()
            .map(|(key, (d, a))| {
                let stats = GroupStats {
                    departures: d.flights,
                    avg_departure_delay_minutes: ratio(d.delay_sum, d.timed),
                    on_time_departure_pct: ratio(100.0 * d.on_time as f64, d.timed),
                    arrivals: a.flights,
                    avg_arrival_delay_minutes: ratio(a.delay_sum, a.timed),
                    on_time_arrival_pct: ratio(100.0 * a.on_time as f64, a.timed),
                };
                (key, stats)
            })
            .collect()
    }
}

/// What a batch write did: every snapshot is newly stored, a duplicate of a stored one (the same content
/// under the same `event_id`), or refused as conflicting (`stored + duplicates + conflicting.len()` is the
/// batch's length).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteOutcome {
    pub stored: u64,
    pub duplicates: u64,
    /// Stored events that did not move current state: a newer snapshot of the flight was stored already or
    /// came in the same batch. A subset of `stored`.
    pub superseded: u64,
    /// Indices in the batch of snapshots whose `event_id` is stored (or came earlier in the batch) with other
    /// content: nothing of them is written, the stored event stays. In batch order.
    pub conflicting: Vec<usize>,
}

/// Parses a code column (carrier, number, airport, status) as its domain type: stored text that the
/// codec would have refused means the row is corrupt.
pub(crate) fn stored_code<T>(column: &str, text: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| StoreError::Corrupt(format!("stored {column} {text:?} is invalid: {e}")))
}

/// A dead letter held in the local dead-letter table.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDeadLetter {
    pub id: i64,
    pub letter: crate::deadletter::DeadLetter,
}

/// RFC 3339 UTC with a `Z` and only the fractional digits needed: the API's one time format.
///
/// A page of flights carries hundreds of times; they are written straight into a stack buffer rather than
/// through `chrono`'s general formatter and a `String` each. Output is byte-for-byte
/// `to_rfc3339_opts(SecondsFormat::AutoSi, true)`, which still formats what the fast path leaves out (years
/// outside 0–9999, leap seconds).
pub mod rfc3339 {
    use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
    use serde::Serializer;

    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, the longest the fast path writes.
    const MAX_LEN: usize = 30;

    /// Formats a time the way every Contrail response does.
    pub fn format(t: &DateTime<Utc>) -> String {
        let mut buf = [0; MAX_LEN];
        match write(t, &mut buf) {
            Some(text) => text.to_owned(),
            None => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0; MAX_LEN];
        match write(t, &mut buf) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }

    /// The fast path: `None` for a year outside 0–9999 or a leap second.
    fn write<'a>(t: &DateTime<Utc>, buf: &'a mut [u8; MAX_LEN]) -> Option<&'a str> {
        let n = t.naive_utc();
        let (year, nanos) = (u32::try_from(n.year()).ok().filter(|y| *y <= 9999)?, n.nanosecond());
        if nanos >= 1_000_000_000 {
            return None;
        }
        digits(&mut buf[0..4], year);
        buf[4] = b'-';
        digits(&mut buf[5..7], n.month());
        buf[7] = b'-';
        digits(&mut buf[8..10], n.day());
        buf[10] = b'T';
        digits(&mut buf[11..13], n.hour());
        buf[13] = b':';
        digits(&mut buf[14..16], n.minute());
        buf[16] = b':';
        digits(&mut buf[17..19], n.second());
        let (fraction, width) = match nanos {
            0 => (0, 0),
            n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
            n if n % 1_000 == 0 => (n / 1_000, 6),
            n => (n, 9),
        };
        let mut end = 19;
        if width > 0 {
            buf[19] = b'.';
            digits(&mut buf[20..20 + width], fraction);
            end = 20 + width;
        }
        buf[end] = b'Z';
        std::str::from_utf8(&buf[..=end]).ok()
    }

    /// Writes `value` into `out` in decimal, zero-padded to the slice's length.
    fn digits(out: &mut [u8], mut value: u32) {
        for d in out.iter_mut().rev() {
            *d = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, TimeZone, Utc};

        #[test]
        fn matches_chrono_for_every_precision_and_the_edges() {
            let mut times: Vec<DateTime<Utc>> = Vec::new();
            let base = Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 59).unwrap();
            for nanos in [0, 1, 7, 999, 1_000, 120_000, 999_999, 1_000_000, 5_000_000, 999_000_000, 999_999_999] {
                times.push(base + Duration::nanoseconds(nanos));
            }
            for (y, m, d) in [(0, 1, 1), (1, 2, 3), (999, 12, 31), (1970, 1, 1), (2000, 2, 29), (9999, 12, 31)] {
                let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
                times.push(Utc.from_utc_datetime(&date.and_hms_nano_opt(7, 8, 9, 10_000).unwrap()));
            }
            // Outside the fast path: chrono formats these.
            for (y, m, d) in [(-1, 6, 1), (10_000, 1, 1)] {
                let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
                times.push(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap()));
            }
            let leap = NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 1_500_000_000);
            times.push(Utc.from_utc_datetime(&leap.unwrap()));
            for t in times {
                let expected = t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
                assert_eq!(super::format(&t), expected);
                let mut json = Vec::new();
                super::serialize(&t, &mut serde_json::Serializer::new(&mut json)).unwrap();
                assert_eq!(String::from_utf8(json).unwrap(), format!("\"{expected}\""));
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
        status: FlightStatus,
        flights: u64,
        departures: u64,
        departure_delay_sum: f64,
        arrivals: u64,
        arrival_delay_sum: f64,
        on_time: u64,
    ) {
        self.stats.flights += flights;
        if status == FlightStatus::Cancelled {
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
