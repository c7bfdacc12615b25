//! The flight simulator: a stream of Kafka records (key = flight id, value = flight-event/v1 JSON) that
//! looks like a real feed. Flights between real airports on real carriers go through their lives
//! (scheduled → boarding → departed → airborne → landed → arrived) with realistic delays, gate changes,
//! cancellations and diversions; the feed itself misbehaves like a real one, with duplicates, late
//! out-of-order snapshots and the occasional poison record.
//!
//! The same seed and start time give the same stream; simulated time runs as fast as records are pulled.

mod flight;
mod partitioner;
mod rng;
pub mod world;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use contrail_shared::domain::{FlightId, parse_date};
use serde_json::Value;

pub use flight::Positions;
pub use partitioner::partition_for;
pub use rng::Rng;

/// One record as a producer would write it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// How often the feed misbehaves, per emitted record.
#[derive(Debug, Clone, Copy)]
pub struct FeedFaults {
    /// The same record delivered again a little later.
    pub duplicate: f64,
    /// A snapshot held back and delivered after newer ones of the same flight.
    pub late: f64,
    /// A record that can never be stored.
    pub poison: f64,
}

impl Default for FeedFaults {
    fn default() -> Self {
        Self { duplicate: 0.01, late: 0.015, poison: 0.002 }
    }
}

/// A planned snapshot, ordered by time then by planning order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Planned {
    at: DateTime<Utc>,
    seq: u64,
    flight_id: String,
    body: String,
}

/// The record generator. Pull records with [`Simulator::next_record`].
pub struct Simulator {
    rng: Rng,
    seed: u64,
    faults: FeedFaults,
    /// Time of the newest planned snapshot emitted.
    clock: DateTime<Utc>,
    /// Scheduled departures are planned up to this time.
    planned_until: DateTime<Utc>,
    flights_per_hour: u32,
    positions: Positions,
    queue: BinaryHeap<Reverse<Planned>>,
    ready: VecDeque<SimRecord>,
    late: Vec<(u32, SimRecord)>,
    /// Snapshots held back until the next snapshot of the same flight has gone out (or a while).
    held: HashMap<String, (u32, SimRecord)>,
    used_numbers: HashSet<(usize, u16, NaiveDate)>,
    seq: u64,
    events: u64,
}

impl Simulator {
    /// A simulator whose clock starts at `start`, with the default fault rates.
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        Self {
            rng: Rng::new(seed),
            seed,
            faults: FeedFaults::default(),
            clock: start,
            planned_until: start,
            flights_per_hour: 240,
            positions: Positions::Cruise,
            queue: BinaryHeap::new(),
            ready: VecDeque::new(),
            late: Vec::new(),
            held: HashMap::new(),
            used_numbers: HashSet::new(),
            seq: 0,
            events: 0,
        }
    }

    /// Replaces the fault rates (tests use zero faults to count exactly).
    pub fn with_faults(mut self, faults: FeedFaults) -> Self {
        self.faults = faults;
        self
    }

    /// Replaces the mean number of departures per simulated hour (default 240; a US-wide feed is
    /// about 1,800), at most 2,000: the busiest carrier then still has free flight numbers every day.
    pub fn with_flights_per_hour(mut self, flights: u32) -> Self {
        self.flights_per_hour = flights.clamp(1, 2_000);
        self
    }

    /// Replaces how often airborne flights report their position (default: twice in cruise).
    pub fn with_positions(mut self, positions: Positions) -> Self {
        self.positions = positions;
        self
    }

    /// The simulated time of the newest snapshot emitted so far.
    pub fn clock(&self) -> DateTime<Utc> {
        self.clock
    }

    /// The next record of the feed. Never ends.
    pub fn next_record(&mut self) -> SimRecord {
        loop {
            if let Some(i) = self.late.iter().position(|(left, _)| *left == 0) {
                return self.late.swap_remove(i).1;
            }
            if let Some(id) = self.held.iter().find(|(_, (left, _))| *left == 0).map(|(id, _)| id.clone())
                && let Some((_, r)) = self.held.remove(&id)
            {
                return r;
            }
            if let Some(r) = self.ready.pop_front() {
                for (left, _) in self.late.iter_mut().chain(self.held.values_mut()) {
                    *left = left.saturating_sub(1);
                }
                return r;
            }
            self.produce();
        }
    }

    /// Plans ahead if needed, then moves the next snapshot (and any fault it triggers) to `ready`.
    fn produce(&mut self) {
        while self.planned_until < self.clock + Duration::hours(5) || self.queue.is_empty() {
            self.plan_slot();
        }
        let Some(Reverse(next)) = self.queue.pop() else { return };
        self.clock = self.clock.max(next.at);
        self.events += 1;
        let event_id = format!("sim-{:08x}-{:08}", self.seed as u32, self.events);
        let value = next.body.replacen("\"event_id\":\"\"", &format!("\"event_id\":\"{event_id}\""), 1).into_bytes();
        let record = SimRecord { key: Some(next.flight_id.as_bytes().to_vec()), value: Some(value) };
        let roll = self.rng.unit();
        if roll < self.faults.poison {
            let poison = flight::poison(&mut self.rng, &next.flight_id, &record);
            self.ready.push_back(poison);
        }
        let released = self.held.remove(&next.flight_id);
        let roll = self.rng.unit();
        if roll < self.faults.late && released.is_none() {
            self.held.insert(next.flight_id, (2_000, record));
            return;
        }
        if let Some((_, late)) = released {
            self.ready.push_back(record.clone());
            self.ready.push_back(late);
            if roll < self.faults.late + self.faults.duplicate {
                self.late.push((self.rng.range(1, 30) as u32, record));
            }
            return;
        }
        if roll < self.faults.late + self.faults.duplicate {
            let hold = self.rng.range(1, 30) as u32;
            self.late.push((hold, record.clone()));
        }
        self.ready.push_back(record);
    }

    /// Plans the flights scheduled to depart in the next ten minutes of simulated time.
    fn plan_slot(&mut self) {
        let slot_start = self.planned_until;
        self.planned_until = slot_start + Duration::minutes(10);
        let mean = f64::from(self.flights_per_hour) / 6.0;
        let count = (mean * (0.6 + 0.8 * self.rng.unit())).round() as u32;
        for _ in 0..count {
            let offset = self.rng.range(0, 2) * 5;
            let departure = slot_start + Duration::minutes(offset as i64);
            let plan = flight::plan(&mut self.rng, departure, self.clock, &mut self.used_numbers, self.positions);
            for (at, body) in plan.snapshots {
                self.seq += 1;
                self.queue.push(Reverse(Planned { at, seq: self.seq, flight_id: plan.flight_id.clone(), body }));
            }
        }
    }
}

/// The flight id a flight-event/v1 JSON object describes, if it has valid fields to derive one.
pub fn flight_id_of(event: &Value) -> Option<FlightId> {
    let field = |k: &str| event.get(k).and_then(Value::as_str);
    let date = parse_date(field("date")?).ok()?;
    FlightId::from_codes(field("carrier")?, field("number")?, date, field("origin")?).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use contrail_shared::codec::{RawRecord, decode_record, encode_base64};
    use contrail_shared::domain::{FlightStatus, Snapshot};

    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T06:00:00Z").unwrap().to_utc()
    }

    fn decode(r: &SimRecord) -> Result<Snapshot, contrail_shared::codec::Rejection> {
        let key = r.key.as_deref().map(encode_base64);
        let value = r.value.as_deref().map(encode_base64);
        decode_record(&RawRecord {
            topic: "flight-data",
            partition: 0,
            offset: 0,
            timestamp_ms: Some(0),
            key: key.as_deref(),
            value: value.as_deref(),
        })
    }

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let mut a = Simulator::new(7, start());
        let mut b = Simulator::new(7, start());
        let mut c = Simulator::new(8, start());
        let xs: Vec<_> = (0..500).map(|_| a.next_record()).collect();
        let ys: Vec<_> = (0..500).map(|_| b.next_record()).collect();
        let zs: Vec<_> = (0..500).map(|_| c.next_record()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn without_faults_every_record_is_a_valid_flight_event() {
        let mut sim = Simulator::new(1, start()).with_faults(FeedFaults { duplicate: 0.0, late: 0.0, poison: 0.0 });
        for _ in 0..5_000 {
            let r = sim.next_record();
            let snap =
                decode(&r).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(r.value.as_ref().unwrap())));
            assert!(matches!(snap, Snapshot::Event(_)));
        }
    }

    #[test]
    fn flights_live_through_realistic_lives() {
        let mut sim = Simulator::new(3, start()).with_faults(FeedFaults { duplicate: 0.0, late: 0.0, poison: 0.0 });
        let mut last: HashMap<String, FlightStatus> = HashMap::new();
        let mut gates: HashMap<String, HashSet<String>> = HashMap::new();
        for _ in 0..60_000 {
            let Snapshot::Event(e) = decode(&sim.next_record()).unwrap() else { panic!("removal") };
            let id = e.flight_id().to_string();
            if let Some(g) = &e.gate {
                gates.entry(id.clone()).or_default().insert(g.clone());
            }
            if e.status == FlightStatus::Arrived {
                let delay = e.arrival_delay_minutes().unwrap();
                assert!(delay > -60.0 && delay < 600.0, "{delay}");
                assert!(e.actual_departure.unwrap() < e.actual_arrival.unwrap());
            }
            last.insert(id, e.status);
        }
        let count = |s: FlightStatus| last.values().filter(|v| **v == s).count() as f64;
        let finished = count(FlightStatus::Arrived) + count(FlightStatus::Cancelled) + count(FlightStatus::Diverted);
        assert!(finished > 1_000.0, "{finished}");
        let cancel_rate = count(FlightStatus::Cancelled) / finished;
        assert!((0.005..0.05).contains(&cancel_rate), "cancellations {cancel_rate}");
        assert!(count(FlightStatus::Diverted) < count(FlightStatus::Cancelled));
        let changed = gates.values().filter(|g| g.len() > 1).count() as f64 / gates.len() as f64;
        assert!((0.02..0.2).contains(&changed), "gate changes {changed}");
    }

    #[test]
    fn positions_every_minute_make_status_changes_rare() {
        let faults = FeedFaults { duplicate: 0.0, late: 0.0, poison: 0.0 };
        let mut sim = Simulator::new(5, start()).with_faults(faults).with_positions(Positions::Every(1.0));
        let mut last: HashMap<String, (FlightStatus, DateTime<Utc>)> = HashMap::new();
        let (mut events, mut changes, mut airborne_gaps) = (0, 0, Vec::new());
        for _ in 0..100_000 {
            let Snapshot::Event(e) = decode(&sim.next_record()).unwrap() else { panic!("removal") };
            let id = e.flight_id().to_string();
            if let Some((status, at)) = last.get(&id) {
                events += 1;
                changes += usize::from(*status != e.status);
                if *status == FlightStatus::Airborne && e.status == FlightStatus::Airborne {
                    airborne_gaps.push((e.event_time - *at).num_seconds());
                }
            }
            last.insert(id, (e.status, e.event_time));
        }
        let share = changes as f64 / events as f64;
        assert!((0.02..0.10).contains(&share), "status changes {share}");
        assert!(airborne_gaps.len() > events / 2, "{} of {events}", airborne_gaps.len());
        assert!(airborne_gaps.iter().all(|g| (59..=61).contains(g)), "{:?}", airborne_gaps.iter().max());
    }

    #[test]
    fn the_feed_misbehaves_at_its_configured_rates() {
        let mut sim = Simulator::new(11, start());
        let mut seen = HashSet::new();
        let (mut duplicates, mut poison, mut out_of_order) = (0, 0, 0);
        let mut newest: HashMap<String, DateTime<Utc>> = HashMap::new();
        for _ in 0..20_000 {
            let r = sim.next_record();
            if !seen.insert(r.clone()) {
                duplicates += 1;
                continue;
            }
            match decode(&r) {
                Ok(Snapshot::Event(e)) => {
                    let t = newest.entry(e.flight_id().to_string()).or_insert(e.event_time);
                    if e.event_time < *t {
                        out_of_order += 1;
                    }
                    *t = (*t).max(e.event_time);
                }
                Ok(Snapshot::Removal(_)) => {}
                Err(_) => poison += 1,
            }
        }
        assert!((100..400).contains(&duplicates), "duplicates {duplicates}");
        assert!((10..100).contains(&poison), "poison {poison}");
        assert!(out_of_order > 20, "out of order {out_of_order}");
    }
}
