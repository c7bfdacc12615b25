//! `GET /stats?group_by=hour|carrier` in process, on PostgreSQL and on SQLite: one airport's departures and
//! arrivals per UTC hour and per carrier, with average delays and on-time shares (under 15 minutes late).

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use crate::common::*;
use contrail_shared::domain::{FlightId, Removal, Snapshot};

/// A query, the error code it must get and a phrase of its message.
type BadQuery = (Vec<(&'static str, &'static str)>, &'static str, &'static str);

const DATE: &str = "2013-03-01";

fn date() -> NaiveDate {
    day(2013, 3, 1)
}

/// A flight of the fixture: route, carrier, status, scheduled departure (hour, minute), block minutes, and
/// the departure and arrival delays (`None` until the actual time is known).
#[allow(clippy::too_many_arguments)]
fn flight(
    n: u32,
    origin: &'static str,
    destination: &'static str,
    carrier: &'static str,
    status: &'static str,
    (h, m): (u32, u32),
    block: i64,
    delays: (Option<i64>, Option<i64>),
) -> FixtureFlight {
    let dep = at(date(), h, m);
    FixtureFlight {
        carrier,
        number: n.to_string(),
        date: date(),
        origin,
        destination,
        status,
        scheduled_departure: dep,
        scheduled_arrival: dep + Duration::minutes(block),
        departure_delay: delays.0,
        arrival_delay: delays.1,
        gate: None,
        with_position: false,
    }
}

/// JFK's day, plus flights that must not count: removed, another date, or (with `airport=JFK`) elsewhere.
async fn load_day(db: &Db) {
    let flights = [
        flight(1, "JFK", "LAX", "UA", "arrived", (8, 10), 180, (Some(5), Some(10))),
        flight(2, "JFK", "LAX", "UA", "arrived", (8, 50), 180, (Some(15), Some(16))),
        flight(3, "JFK", "SFO", "AA", "airborne", (8, 59), 360, (Some(30), None)),
        flight(4, "JFK", "SFO", "AA", "cancelled", (9, 0), 360, (None, None)),
        flight(5, "BOS", "JFK", "UA", "arrived", (7, 0), 90, (Some(0), Some(-5))),
        flight(6, "BOS", "JFK", "B6", "arrived", (7, 30), 89, (Some(1), Some(14))),
        // Arrives after midnight UTC: its arrival counts in the next day's 06:00 hour.
        flight(7, "LAX", "JFK", "DL", "scheduled", (22, 0), 480, (None, None)),
        flight(10, "EWR", "ORD", "UA", "scheduled", (8, 0), 150, (None, None)),
    ];
    let mut batch: Vec<Snapshot> =
        flights.iter().map(|f| f.snapshot(&format!("{}-s", f.id()), at(date(), 23, 0))).collect();
    let mut other_day = flights[0].clone();
    other_day.date = day(2013, 3, 2);
    other_day.scheduled_departure += Duration::days(1);
    other_day.scheduled_arrival += Duration::days(1);
    batch.push(other_day.snapshot("other-day", at(date(), 23, 0)));
    let removed = flight(8, "JFK", "LAX", "UA", "arrived", (8, 20), 180, (Some(100), Some(100)));
    batch.push(removed.snapshot("removed-s", at(date(), 23, 0)));
    db.store.write_snapshots(&batch).await.expect("fixture");
    db.store
        .write_snapshots(&[Snapshot::Removal(Removal {
            flight_id: FlightId::parse(&removed.id()).expect("id"),
            event_id: "tombstone:flight-data-0@8".into(),
            event_time: at(date(), 23, 30),
        })])
        .await
        .expect("removal");
}

/// A group's figures in the answer's field order.
fn group(departures: u64, dep_avg: Value, dep_pct: Value, arrivals: u64, arr_avg: Value, arr_pct: Value) -> Value {
    json!({"departures": departures, "avg_departure_delay_minutes": dep_avg, "on_time_departure_pct": dep_pct,
           "arrivals": arrivals, "avg_arrival_delay_minutes": arr_avg, "on_time_arrival_pct": arr_pct})
}

fn keyed(key: &str, value: &str, mut g: Value) -> Value {
    g[key] = json!(value);
    g
}

#[tokio::test]
async fn hourly_stats_count_an_airports_departures_and_arrivals_with_their_delays_per_utc_hour() {
    for db in engines().await {
        load_day(&db).await;
        let state = state(&db.store);
        let a = call(&state, get("/stats", &[("date", DATE), ("airport", "JFK"), ("group_by", "hour")])).await;
        assert_eq!(a.status, 200, "{}: {}", db.name(), a.body);
        assert_eq!(a.header("cache-control"), Some("private, max-age=5"));
        let n = Value::Null;
        assert_eq!(
            a.json(),
            json!({"hours": [
                // Departures 1, 2, 3 (delays 5, 15, 30: only the first under 15); arrivals 5 and 6 from BOS.
                keyed("hour", "2013-03-01T08:00:00Z", group(3, json!(16.67), json!(33.33), 2, json!(4.5), json!(100.0))),
                // The cancelled flight: a departure without an actual time.
                keyed("hour", "2013-03-01T09:00:00Z", group(1, n.clone(), n.clone(), 0, n.clone(), n.clone())),
                keyed("hour", "2013-03-02T06:00:00Z", group(0, n.clone(), n.clone(), 1, n.clone(), n.clone())),
            ]}),
            "{}",
            db.name()
        );
        assert!(a.body.starts_with(r#"{"hours":[{"hour":"2013-03-01T08:00:00Z","departures":3,"#), "{}", a.body);

        let ua =
            call(&state, get("/stats", &[("date", DATE), ("airport", "JFK"), ("group_by", "hour"), ("carrier", "UA")]))
                .await;
        assert_eq!(
            ua.json(),
            json!({"hours": [keyed("hour", "2013-03-01T08:00:00Z", group(2, json!(10.0), json!(50.0), 1, json!(-5.0), json!(100.0)))]}),
            "{}",
            db.name()
        );
        let none =
            call(&state, get("/stats", &[("date", "2013-03-03"), ("airport", "JFK"), ("group_by", "hour")])).await;
        assert_eq!(none.json(), json!({"hours": []}));
    }
}

#[tokio::test]
async fn carrier_stats_give_each_carriers_on_time_share_at_the_airport_and_over_the_whole_day() {
    for db in engines().await {
        load_day(&db).await;
        let state = state(&db.store);
        let n = Value::Null;
        let a = call(&state, get("/stats", &[("date", DATE), ("airport", "JFK"), ("group_by", "carrier")])).await;
        assert_eq!(a.status, 200, "{}: {}", db.name(), a.body);
        assert_eq!(
            a.json(),
            json!({"carriers": [
                keyed("carrier", "AA", group(2, json!(30.0), json!(0.0), 0, n.clone(), n.clone())),
                keyed("carrier", "B6", group(0, n.clone(), n.clone(), 1, json!(14.0), json!(100.0))),
                keyed("carrier", "DL", group(0, n.clone(), n.clone(), 1, n.clone(), n.clone())),
                keyed("carrier", "UA", group(2, json!(10.0), json!(50.0), 1, json!(-5.0), json!(100.0))),
            ]}),
            "{}",
            db.name()
        );
        // Without an airport every flight of the day counts on both sides; filters narrow as on /stats.
        let day = call(&state, get("/stats", &[("date", DATE), ("group_by", "carrier"), ("carrier", "UA")])).await;
        assert_eq!(
            day.json(),
            json!({"carriers": [keyed("carrier", "UA", group(4, json!(6.67), json!(66.67), 4, json!(7.0), json!(66.67)))]}),
            "{}",
            db.name()
        );
        let route =
            call(&state, get("/stats", &[("date", DATE), ("group_by", "carrier"), ("destination", "JFK")])).await;
        let body = route.json();
        let carriers: Vec<&str> =
            body["carriers"].as_array().unwrap().iter().map(|c| c["carrier"].as_str().unwrap()).collect();
        assert_eq!(carriers, ["B6", "DL", "UA"], "{}: flights to JFK only", db.name());
        // The answer without group_by is the day's Stats object, as before.
        let plain = call(&state, get("/stats", &[("date", DATE), ("origin", "JFK")])).await;
        assert_eq!(plain.json()["flights"], 4, "{}: {}", db.name(), plain.body);
        assert!(plain.json().get("hours").is_none() && plain.json().get("carriers").is_none());
    }
}

#[tokio::test]
async fn bad_group_by_requests_are_400s_with_their_stable_codes() {
    for db in engines().await {
        let state = state(&db.store);
        let cases: Vec<BadQuery> = vec![
            (vec![("date", DATE), ("group_by", "day")], "invalid_parameter", "group_by must be hour or carrier"),
            (vec![("date", DATE), ("group_by", "")], "invalid_parameter", "group_by must be hour or carrier"),
            (vec![("date", DATE), ("airport", "JFK")], "invalid_parameter", "airport needs group_by"),
            (vec![("date", DATE), ("airport", "jfk"), ("group_by", "hour")], "invalid_parameter", "airport"),
            (vec![("airport", "JFK"), ("group_by", "hour")], "missing_parameter", "date is required"),
            (
                vec![("date", DATE), ("group_by", "hour"), ("group_by", "carrier")],
                "invalid_parameter",
                "more than once",
            ),
            (vec![("date", DATE), ("group_by", "hour"), ("limit", "5")], "unknown_parameter", "limit"),
        ];
        for (query, code, message) in cases {
            let a = call(&state, get("/stats", &query)).await;
            assert_eq!((a.status, a.error_code().as_str()), (400, code), "{} {query:?}: {}", db.name(), a.body);
            let said = a.json()["error"]["message"].as_str().unwrap().to_owned();
            assert!(said.contains(message), "{query:?}: {said}");
        }
    }
}
