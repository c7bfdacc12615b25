//! One flight's life, planned in advance as a list of timed full snapshots; and poison records.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use contrail_shared::domain::FlightId;
use serde_json::{Value, json};

use super::SimRecord;
use super::rng::Rng;
use super::world::{AIRPORTS, Airport, CARRIERS, airport, along, bearing_deg, distance_nm};

/// A flight and its snapshots (JSON with an empty `event_id` the simulator fills in).
pub struct Plan {
    pub flight_id: String,
    pub snapshots: Vec<(DateTime<Utc>, String)>,
}

/// The state carried from one snapshot to the next.
struct State {
    carrier: &'static str,
    number: String,
    date: NaiveDate,
    origin: &'static Airport,
    destination: &'static Airport,
    status: &'static str,
    scheduled_departure: DateTime<Utc>,
    scheduled_arrival: DateTime<Utc>,
    estimated_departure: Option<DateTime<Utc>>,
    estimated_arrival: Option<DateTime<Utc>>,
    actual_departure: Option<DateTime<Utc>>,
    actual_arrival: Option<DateTime<Utc>>,
    tail_number: String,
    gate: Option<String>,
    terminal: Option<&'static str>,
    position: Option<Value>,
    last: Option<DateTime<Utc>>,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl State {
    fn flight_id(&self) -> String {
        let id = FlightId::from_codes(self.carrier, &self.number, self.date, self.origin.code);
        id.expect("the simulator draws valid carriers, numbers and airports").to_string()
    }

    /// The full snapshot at `at`, kept strictly after the previous one so the life reads in order.
    fn snapshot(&mut self, at: DateTime<Utc>) -> (DateTime<Utc>, String) {
        let at = match self.last {
            Some(last) if at <= last => last + Duration::seconds(1),
            _ => at,
        };
        self.last = Some(at);
        let body = json!({
            "schema_version": 1,
            "event_id": "",
            "event_time": time(at),
            "carrier": self.carrier,
            "number": self.number,
            "date": self.date.format("%Y-%m-%d").to_string(),
            "origin": self.origin.code,
            "destination": self.destination.code,
            "status": self.status,
            "scheduled_departure": time(self.scheduled_departure),
            "scheduled_arrival": time(self.scheduled_arrival),
            "estimated_departure": self.estimated_departure.map(time),
            "estimated_arrival": self.estimated_arrival.map(time),
            "actual_departure": self.actual_departure.map(time),
            "actual_arrival": self.actual_arrival.map(time),
            "tail_number": self.tail_number,
            "gate": self.gate,
            "terminal": self.terminal,
            "position": self.position,
        });
        (at, body.to_string())
    }

    fn position(&mut self, fraction: f64, altitude_ft: f64, speed_kt: f64) {
        let (lat, lon) = along(self.origin, self.destination, fraction);
        let heading = bearing_deg(self.origin, self.destination);
        self.position = Some(json!({
            "lat": (lat * 1e4).round() / 1e4,
            "lon": (lon * 1e4).round() / 1e4,
            "altitude_ft": altitude_ft.round(),
            "ground_speed_kt": speed_kt.round(),
            "heading_deg": heading.round(),
        }));
    }
}

/// Minutes of departure delay drawn from a long-tailed distribution close to what US carriers report
/// (about 80 % within 15 minutes).
fn departure_delay(rng: &mut Rng) -> f64 {
    let p = rng.unit();
    if p < 0.62 {
        rng.between(-6.0, 8.0)
    } else if p < 0.80 {
        rng.between(8.0, 15.0)
    } else if p < 0.93 {
        rng.between(15.0, 60.0)
    } else if p < 0.985 {
        rng.between(60.0, 180.0)
    } else {
        rng.between(180.0, 420.0)
    }
}

fn minutes(m: f64) -> Duration {
    Duration::seconds((m * 60.0).round() as i64)
}

fn pick_airport(rng: &mut Rng, not: Option<&str>) -> &'static Airport {
    loop {
        let a = &AIRPORTS[rng.weighted(AIRPORTS.iter().map(|a| a.weight))];
        if Some(a.code) != not {
            return a;
        }
    }
}

fn gate(rng: &mut Rng, terminal: &str) -> String {
    let letter = terminal.chars().next().filter(char::is_ascii_alphabetic).unwrap_or('B');
    format!("{letter}{}", rng.range(1, 48))
}

/// How often an airborne flight reports its position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Positions {
    /// Twice in cruise (at 30 % and 65 % of the airborne time): a feed of status changes, small enough to
    /// watch on the board.
    Cruise,
    /// Every so many minutes from wheels-up to wheels-down, as ADS-B-fed flight data does: most events
    /// are then position updates and a status change is rare.
    Every(f64),
}

impl Positions {
    /// The fractions of the airborne time (`minutes` long) at which a position is reported.
    fn fractions(self, minutes: f64) -> Vec<f64> {
        match self {
            Self::Cruise => vec![0.3, 0.65],
            Self::Every(every) => {
                let every = every.max(0.1);
                (1..).map(|k| f64::from(k) * every / minutes).take_while(|f| *f < 1.0).collect()
            }
        }
    }
}

/// Plans a flight departing at `departure` (UTC); its first snapshot is not before `now`.
pub fn plan(
    rng: &mut Rng,
    departure: DateTime<Utc>,
    now: DateTime<Utc>,
    used: &mut HashSet<(usize, u16, NaiveDate)>,
    positions: Positions,
) -> Plan {
    let ci = rng.weighted(CARRIERS.iter().map(|c| c.weight));
    let carrier = &CARRIERS[ci];
    let origin = if rng.unit() < 0.7 {
        airport(carrier.hubs[rng.range(0, carrier.hubs.len() as u64 - 1) as usize]).unwrap_or(&AIRPORTS[0])
    } else {
        pick_airport(rng, None)
    };
    let destination = if !carrier.hubs.contains(&origin.code) && rng.unit() < 0.7 {
        airport(carrier.hubs[0])
            .filter(|a| a.code != origin.code)
            .unwrap_or_else(|| pick_airport(rng, Some(origin.code)))
    } else {
        pick_airport(rng, Some(origin.code))
    };
    let date = (departure + Duration::hours(i64::from(origin.utc_offset))).date_naive();
    let number = loop {
        let n = rng.range(1, 9999) as u16;
        if used.insert((ci, n, date)) {
            break n.to_string();
        }
    };
    let block = distance_nm(origin, destination) / 450.0 * 60.0 + 30.0;
    let scheduled_arrival = departure + minutes((block / 5.0).round() * 5.0);
    let reg = carrier.registration;
    let tail_number = if reg == "N" {
        format!(
            "N{}{}{}",
            rng.range(100, 999),
            (b'A' + rng.range(0, 25) as u8) as char,
            (b'A' + rng.range(0, 25) as u8) as char
        )
    } else {
        let letters: String = (0..3).map(|_| (b'A' + rng.range(0, 25) as u8) as char).collect();
        format!("{reg}{letters}")
    };
    let terminal = origin.terminals[rng.range(0, origin.terminals.len() as u64 - 1) as usize];
    let mut s = State {
        carrier: carrier.code,
        number,
        date,
        origin,
        destination,
        status: "scheduled",
        scheduled_departure: departure,
        scheduled_arrival,
        estimated_departure: None,
        estimated_arrival: None,
        actual_departure: None,
        actual_arrival: None,
        tail_number,
        gate: None,
        terminal: None,
        position: None,
        last: None,
    };
    let mut out = Vec::new();
    let announced = (departure - minutes(rng.between(200.0, 290.0))).max(now);
    out.push(s.snapshot(announced));

    s.terminal = Some(terminal);
    s.gate = Some(gate(rng, terminal));
    out.push(s.snapshot((departure - minutes(rng.between(100.0, 140.0))).max(announced)));

    let outcome = rng.unit();
    let delay = departure_delay(rng);
    let off_block = departure + minutes(delay);
    if delay >= 15.0 {
        s.status = "delayed";
        s.estimated_departure = Some(off_block);
        s.estimated_arrival = Some(scheduled_arrival + minutes(delay));
        let told = departure - minutes(rng.between(20.0, 90.0));
        out.push(s.snapshot(told.max(announced)));
    }
    if rng.unit() < 0.08 {
        s.gate = Some(gate(rng, terminal));
        out.push(s.snapshot((off_block - minutes(rng.between(45.0, 70.0))).max(announced)));
    }
    if outcome < 0.018 {
        s.status = "cancelled";
        s.estimated_departure = None;
        s.estimated_arrival = None;
        let at = departure - minutes(rng.between(-30.0, 120.0));
        out.push(s.snapshot(at.max(announced)));
        return Plan { flight_id: s.flight_id(), snapshots: out };
    }
    s.status = "boarding";
    s.estimated_departure = Some(off_block);
    out.push(s.snapshot(off_block - minutes(rng.between(30.0, 45.0))));

    s.status = "departed";
    s.actual_departure = Some(off_block);
    s.estimated_departure = None;
    s.position(0.0, 0.0, 5.0);
    out.push(s.snapshot(off_block));

    let taxi_out = rng.between(8.0, 25.0);
    let wheels_up = off_block + minutes(taxi_out);
    let airborne = (block - 30.0 + rng.between(-15.0, 20.0)).max(20.0);
    let wheels_down = wheels_up + minutes(airborne);
    let taxi_in = rng.between(4.0, 15.0);
    let in_block = wheels_down + minutes(taxi_in);
    s.status = "airborne";
    s.estimated_arrival = Some(in_block);
    s.position(0.01, 3_000.0, 180.0);
    out.push(s.snapshot(wheels_up));

    let diverted = outcome > 0.997;
    let cruise = match positions {
        Positions::Cruise => None,
        Positions::Every(_) => Some((rng.between(33_000.0, 39_000.0), rng.between(430.0, 490.0))),
    };
    for fraction in positions.fractions(airborne) {
        if diverted && fraction > 0.5 {
            s.status = "diverted";
            s.estimated_arrival = None;
            s.position(0.5, 24_000.0, 380.0);
            out.push(s.snapshot(wheels_up + minutes(airborne * 0.5)));
            return Plan { flight_id: s.flight_id(), snapshots: out };
        }
        let (altitude, speed) = match cruise {
            // Climb and descent over the first and last 20 minutes of the airborne time.
            Some((altitude, speed)) => {
                let ramp = (airborne * fraction.min(1.0 - fraction) / 20.0).min(1.0);
                (altitude * ramp, 180.0 + (speed - 180.0) * ramp)
            }
            None => (rng.between(33_000.0, 39_000.0), rng.between(430.0, 490.0)),
        };
        s.position(fraction, altitude, speed);
        out.push(s.snapshot(wheels_up + minutes(airborne * fraction)));
    }

    s.status = "landed";
    s.position(1.0, 0.0, 20.0);
    out.push(s.snapshot(wheels_down));

    s.status = "arrived";
    s.actual_arrival = Some(in_block);
    s.estimated_arrival = None;
    s.position = None;
    out.push(s.snapshot(in_block));
    Plan { flight_id: s.flight_id(), snapshots: out }
}

/// A record that can never be stored, of one of the kinds real feeds produce.
pub fn poison(rng: &mut Rng, flight_id: &str, good: &SimRecord) -> SimRecord {
    let value = good.value.clone().unwrap_or_default();
    let text = String::from_utf8_lossy(&value).into_owned();
    let key = Some(flight_id.as_bytes().to_vec());
    let value = match rng.range(0, 4) {
        0 => text.as_bytes()[..text.len() / 2].to_vec(),
        1 => text.replacen("\"schema_version\":1", "\"schema_version\":2", 1).into_bytes(),
        2 => text.replacen("\"status\":\"", "\"status\":\"on-time-", 1).into_bytes(),
        3 => {
            let mut v = value.clone();
            v.splice(0..0, [0xff, 0xfe]);
            v
        }
        _ => return SimRecord { key: Some(b"ZZ1-2000-01-01-ZZZ".to_vec()), value: Some(value) },
    };
    SimRecord { key, value: Some(value) }
}
