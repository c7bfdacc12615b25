//! `GET /positions` in process, on PostgreSQL and on SQLite: the airborne set, its compact rows, the box
//! (antimeridian included), the filters, keyset pages while flights move, ETag and errors.

use std::collections::HashSet;

use chrono::Duration;
use serde_json::{Value, json};

use crate::common::*;
use contrail_shared::domain::{FlightId, Removal, Snapshot};

/// A query, the error code it must get and a phrase of its message.
type BadQuery = (Vec<(&'static str, &'static str)>, &'static str, &'static str);

/// One fixture flight and where it is.
#[derive(Debug, Clone)]
struct Spot {
    flight: FixtureFlight,
    lon: f64,
    lat: f64,
}

impl Spot {
    fn id(&self) -> String {
        self.flight.id()
    }

    fn heading(&self) -> Value {
        json!((self.lon.abs() * 2.0) % 360.0)
    }

    /// Every third flight reports no altitude (`null` in the row).
    fn altitude(&self) -> Value {
        if self.flight.number.ends_with(['0', '3', '6', '9']) { Value::Null } else { json!(35_000.0) }
    }

    fn position(&self) -> Value {
        json!({"lat": self.lat, "lon": self.lon, "heading_deg": self.heading(), "altitude_ft": self.altitude(),
               "ground_speed_kt": 451.5})
    }
}

/// Flights all over the globe, many on the antimeridian or a box's edge: `A` airborne, `D` departed,
/// `L` landed (it keeps its last position but is never served).
fn spots() -> Vec<Spot> {
    let table: [(f64, f64, &str); 18] = [
        (-180.0, 0.0, "A"),
        (-179.5, 10.0, "A"),
        (-175.0, -29.0, "D"),
        (-170.0, 30.0, "A"),
        (-169.9, 0.0, "A"),
        (-120.25, 37.6, "A"),
        (-74.1687, 40.6925, "A"),
        (-0.5, 51.47, "D"),
        (0.0, 0.0, "A"),
        (0.5, -10.0, "A"),
        (100.0, 13.7, "A"),
        (139.78, 35.55, "A"),
        (169.9, 0.0, "A"),
        (170.0, -30.0, "A"),
        (175.0, 31.0, "A"),
        (179.5, -5.0, "D"),
        (180.0, 20.0, "A"),
        (178.0, 5.0, "L"),
    ];
    let d = day(2013, 1, 1);
    table
        .iter()
        .enumerate()
        .map(|(i, &(lon, lat, state))| {
            let dep = at(d, 6, 0) + Duration::minutes(7 * i as i64);
            Spot {
                flight: FixtureFlight {
                    carrier: CARRIERS[i % 4],
                    number: format!("{}", 200 + i),
                    date: d,
                    origin: ORIGINS[i % 3],
                    destination: DESTINATIONS[i % 4],
                    status: match state {
                        "A" => "airborne",
                        "D" => "departed",
                        _ => "landed",
                    },
                    scheduled_departure: dep,
                    scheduled_arrival: dep + Duration::hours(5),
                    departure_delay: Some(4),
                    arrival_delay: (state == "L").then_some(2),
                    gate: None,
                    with_position: true,
                },
                lon,
                lat,
            }
        })
        .collect()
}

/// The event time of a spot's stored snapshot.
fn reported(s: &Spot) -> chrono::DateTime<chrono::Utc> {
    s.flight.scheduled_departure + Duration::minutes(30)
}

/// Stores the spots, plus flights that must never be served: airborne without a position, scheduled with
/// one, and an airborne flight removed by a tombstone.
async fn load_spots(db: &Db) -> Vec<Spot> {
    let spots = spots();
    let mut batch: Vec<Snapshot> = spots
        .iter()
        .map(|s| s.flight.snapshot_with_position(&format!("{}-p", s.id()), reported(s), s.position()))
        .collect();
    let d = day(2013, 1, 1);
    let mut extra = spots[0].flight.clone();
    extra.number = "901".into();
    batch.push(extra.snapshot_with_position("no-position", at(d, 9, 0), Value::Null));
    let mut scheduled = spots[1].flight.clone();
    scheduled.number = "902".into();
    scheduled.status = "scheduled";
    scheduled.departure_delay = None;
    batch.push(scheduled.snapshot_with_position("scheduled", at(d, 9, 0), json!({"lat": 1.0, "lon": 1.0})));
    let mut removed = spots[2].flight.clone();
    removed.number = "903".into();
    removed.status = "airborne";
    batch.push(removed.snapshot_with_position("removed-1", at(d, 9, 0), json!({"lat": 0.0, "lon": 179.9})));
    db.store.write_snapshots(&batch).await.expect("positions fixture");
    db.store
        .write_snapshots(&[Snapshot::Removal(Removal {
            flight_id: FlightId::parse(&removed.id()).expect("id"),
            event_id: "tombstone:flight-data-0@903".into(),
            event_time: at(d, 9, 30),
        })])
        .await
        .expect("removal");
    spots
}

/// The ids of the spots `keep` selects, in the API's order (flight id).
fn ids(spots: &[Spot], keep: impl Fn(&Spot) -> bool) -> Vec<String> {
    let mut v: Vec<String> = spots.iter().filter(|s| keep(s)).map(Spot::id).collect();
    v.sort();
    v
}

fn airborne(s: &Spot) -> bool {
    s.flight.status == "airborne"
}

fn in_the_air(s: &Spot) -> bool {
    matches!(s.flight.status, "airborne" | "departed")
}

/// The lon/lat of every row of an answer.
fn places(a: &Answer) -> Vec<(f64, f64)> {
    let items = a.json()["items"].as_array().unwrap_or_else(|| panic!("no items: {}", a.body)).clone();
    let mut out: Vec<(f64, f64)> =
        items.iter().map(|r| (r["lon"].as_f64().unwrap(), r["lat"].as_f64().unwrap())).collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

#[tokio::test]
async fn positions_are_the_airborne_flights_as_compact_rows_and_departed_ones_on_request() {
    for db in engines().await {
        let spots = load_spots(&db).await;
        let state = state(&db.store);
        let a = call(&state, get("/positions", &[("limit", "500")])).await;
        assert_eq!(a.status, 200, "{}: {}", db.name(), a.body);
        assert_eq!(a.ids(), ids(&spots, airborne), "{}: airborne only, by flight id", db.name());
        assert_eq!(a.next_cursor(), None);
        assert_eq!(a.header("cache-control"), Some("private, max-age=5"));
        assert_eq!(a.header("content-type"), Some("application/json; charset=utf-8"));

        let fields = [
            "flight_id",
            "carrier",
            "number",
            "origin",
            "destination",
            "lat",
            "lon",
            "heading_deg",
            "altitude_ft",
            "ground_speed_kt",
            "event_time",
        ];
        let rows = a.json()["items"].as_array().unwrap().clone();
        for row in &rows {
            let id = row["flight_id"].as_str().unwrap();
            let s = spots.iter().find(|s| s.id() == id).unwrap();
            let keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), fields.len(), "{}: {row}", db.name());
            for field in fields {
                assert!(keys.contains(&field), "{}: {field} missing: {row}", db.name());
            }
            let want = json!({
                "flight_id": s.id(), "carrier": s.flight.carrier, "number": s.flight.number,
                "origin": s.flight.origin, "destination": s.flight.destination, "lat": s.lat, "lon": s.lon,
                "heading_deg": s.heading(), "altitude_ft": s.altitude(), "ground_speed_kt": 451.5,
                "event_time": reported(s).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            });
            assert_eq!(row, &want, "{}", db.name());
        }
        assert!(rows.iter().any(|r| r["altitude_ft"].is_null()), "the fixture has a null altitude");
        assert!(a.body.starts_with("{\"items\":[{\"flight_id\":"), "rows lead with their id: {}", a.body);

        let with_departed = call(&state, get("/positions", &[("include", "departed"), ("limit", "500")])).await;
        assert_eq!(with_departed.ids(), ids(&spots, in_the_air), "{}", db.name());
        let served: HashSet<String> = with_departed.ids().into_iter().collect();
        for never in ["UA901", "AA902", "B6903"] {
            assert!(!served.iter().any(|id| id.starts_with(never)), "{}: {never} is not served", db.name());
        }
        let default_page = call(&state, get("/positions", &[("limit", "3")])).await;
        assert_eq!(default_page.ids(), ids(&spots, airborne)[..3].to_vec());
    }
}

#[tokio::test]
async fn a_bbox_keeps_the_flights_inside_it_edges_included_and_may_cross_the_antimeridian() {
    for db in engines().await {
        let spots = load_spots(&db).await;
        let state = state(&db.store);
        let bbox = async |b: &str, departed: bool| {
            let mut q = vec![("bbox", b), ("limit", "500")];
            if departed {
                q.push(("include", "departed"));
            }
            let a = call(&state, get("/positions", &q)).await;
            assert_eq!(a.status, 200, "{} bbox={b}: {}", db.name(), a.body);
            a
        };
        // Across the antimeridian: 170..180 and -180..-170, edges included on every side.
        let a = bbox("170,-30,-170,30", false).await;
        assert_eq!(
            places(&a),
            [(-180.0, 0.0), (-179.5, 10.0), (-170.0, 30.0), (170.0, -30.0), (180.0, 20.0)],
            "{}",
            db.name()
        );
        let a = bbox("170,-30,-170,30", true).await;
        assert_eq!(
            places(&a),
            [
                (-180.0, 0.0),
                (-179.5, 10.0),
                (-175.0, -29.0),
                (-170.0, 30.0),
                (170.0, -30.0),
                (179.5, -5.0),
                (180.0, 20.0)
            ],
            "{}",
            db.name()
        );
        // The same longitudes the other way round are the rest of the world.
        let a = bbox("-170,-30,170,30", false).await;
        assert_eq!(
            places(&a),
            [(-170.0, 30.0), (-169.9, 0.0), (0.0, 0.0), (0.5, -10.0), (100.0, 13.7), (169.9, 0.0), (170.0, -30.0)],
            "{}",
            db.name()
        );
        assert_eq!(places(&bbox("-130,30,-70,45", false).await), [(-120.25, 37.6), (-74.1687, 40.6925)]);
        assert_eq!(places(&bbox("0,0,0,0", false).await), [(0.0, 0.0)], "a point is a box");
        assert_eq!(places(&bbox("-1,-11,1,52", true).await), [(-0.5, 51.47), (0.0, 0.0), (0.5, -10.0)]);
        assert_eq!(bbox("-180,-90,180,90", false).await.ids(), ids(&spots, airborne), "the whole world");
        assert_eq!(bbox("10,60,20,70", true).await.json(), json!({"items": [], "next_cursor": null}));
        // A sweep of boxes against the definition.
        for (min_lon, max_lon) in [(-180.0, -100.0), (175.0, 5.0), (179.5, -179.5), (-75.0, 140.0), (100.0, -175.0)] {
            for (min_lat, max_lat) in [(-90.0, 90.0), (-10.0, 20.0), (0.0, 0.0)] {
                let b = format!("{min_lon},{min_lat},{max_lon},{max_lat}");
                let inside = |s: &Spot| {
                    let lon_ok = if min_lon <= max_lon {
                        (min_lon..=max_lon).contains(&s.lon)
                    } else {
                        s.lon >= min_lon || s.lon <= max_lon
                    };
                    in_the_air(s) && lon_ok && (min_lat..=max_lat).contains(&s.lat)
                };
                assert_eq!(bbox(b.as_str(), true).await.ids(), ids(&spots, inside), "{} bbox={b}", db.name());
            }
        }
    }
}

#[tokio::test]
async fn carrier_origin_and_destination_narrow_the_positions_alone_and_with_a_box() {
    for db in engines().await {
        let spots = load_spots(&db).await;
        let state = state(&db.store);
        type Case = (Vec<(&'static str, &'static str)>, Box<dyn Fn(&Spot) -> bool>);
        let cases: Vec<Case> = vec![
            (vec![("carrier", "AA")], Box::new(|s| s.flight.carrier == "AA")),
            (vec![("origin", "LGA")], Box::new(|s| s.flight.origin == "LGA")),
            (vec![("destination", "ORD")], Box::new(|s| s.flight.destination == "ORD")),
            (
                vec![("carrier", "UA"), ("origin", "EWR"), ("destination", "IAH")],
                Box::new(|s| s.flight.carrier == "UA" && s.flight.origin == "EWR" && s.flight.destination == "IAH"),
            ),
            (
                vec![("carrier", "B6"), ("bbox", "100,-90,-100,90")],
                Box::new(|s| s.flight.carrier == "B6" && s.lon.abs() >= 100.0),
            ),
            (vec![("carrier", "ZZ")], Box::new(|_| false)),
        ];
        for (query, keep) in cases {
            let mut q = query.clone();
            q.extend([("include", "departed"), ("limit", "500")]);
            let a = call(&state, get("/positions", &q)).await;
            assert_eq!(a.status, 200, "{} {query:?}: {}", db.name(), a.body);
            let want = ids(&spots, |s| in_the_air(s) && keep(s));
            assert!(!want.is_empty() || query.iter().any(|(_, v)| *v == "ZZ"), "the fixture covers {query:?}");
            assert_eq!(a.ids(), want, "{} {query:?}", db.name());
        }
    }
}

#[tokio::test]
async fn pages_follow_the_flight_id_and_see_every_flight_once_while_the_flights_move() {
    for db in engines().await {
        let spots = load_spots(&db).await;
        let state = state(&db.store);
        let query = [("include", "departed"), ("bbox", "-175,-90,-175.5,90"), ("limit", "2")];
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0..50 {
            let mut q = query.to_vec();
            if let Some(c) = &cursor {
                q.push(("cursor", c));
            }
            let a = call(&state, get("/positions", &q)).await;
            assert_eq!(a.status, 200, "{}: {}", db.name(), a.body);
            assert!(a.ids().len() <= 2);
            seen.extend(a.ids());
            cursor = a.next_cursor();
            if cursor.is_none() {
                break;
            }
            // Every flight moves a little between pages (a newer snapshot each): the walk is not disturbed.
            let moved: Vec<Snapshot> = spots
                .iter()
                .filter(|s| in_the_air(s))
                .map(|s| {
                    let mut p = s.position();
                    p["lat"] = json!((s.lat + 0.01).min(90.0));
                    let time = reported(s) + Duration::minutes(1 + page);
                    s.flight.snapshot_with_position(&format!("{}-move{page}", s.id()), time, p)
                })
                .collect();
            db.store.write_snapshots(&moved).await.unwrap();
        }
        let want = ids(&spots, |s| in_the_air(s) && !(s.lon > -175.5 && s.lon < -175.0));
        assert_eq!(seen, want, "{}: every flight once, in flight-id order", db.name());
        assert!(want.len() > 10, "the walk took many pages");

        // A cursor only continues the query that issued it.
        let first = call(&state, get("/positions", &[("limit", "2")])).await;
        let cursor = first.next_cursor().expect("a second page");
        let next = call(&state, get("/positions", &[("limit", "2"), ("cursor", &cursor)])).await;
        assert_eq!(next.ids(), ids(&spots, airborne)[2..4].to_vec(), "{}", db.name());
        let flights = call(&state, get("/flights", &[("limit", "1")])).await;
        let flights_cursor = flights.next_cursor().unwrap();
        for q in [
            vec![("include", "departed"), ("cursor", cursor.as_str())],
            vec![("bbox", "-180,-90,180,90"), ("cursor", cursor.as_str())],
            vec![("carrier", "UA"), ("cursor", cursor.as_str())],
            vec![("cursor", flights_cursor.as_str())],
        ] {
            let a = call(&state, get("/positions", &q)).await;
            assert_eq!((a.status, a.error_code().as_str()), (400, "invalid_cursor"), "{} {q:?}", db.name());
        }
        let a = call(&state, get("/flights", &[("cursor", &cursor)])).await;
        assert_eq!(a.error_code(), "invalid_cursor", "a positions cursor on /flights");
    }
}

#[tokio::test]
async fn positions_answer_304_while_nothing_moved_and_a_new_etag_once_a_flight_moved() {
    for db in engines().await {
        let spots = load_spots(&db).await;
        let state = state(&db.store);
        let query = [("bbox", "-130,30,-70,45")];
        let first = call(&state, get("/positions", &query)).await;
        let etag = first.header("etag").expect("an ETag").to_owned();
        let again = call(&state, rest("GET", "/positions", &query, &[("If-None-Match", &etag)])).await;
        assert_eq!((again.status, again.body.as_str()), (304, ""), "{}", db.name());
        assert_eq!(again.header("etag"), Some(etag.as_str()));

        let s = spots.iter().find(|s| s.lon == -74.1687).unwrap();
        let mut p = s.position();
        p["lon"] = json!(-74.0);
        let moved = s.flight.snapshot_with_position("moved", reported(s) + Duration::minutes(1), p);
        db.store.write_snapshots(&[moved]).await.unwrap();
        let after = call(&state, rest("GET", "/positions", &query, &[("If-None-Match", &etag)])).await;
        assert_eq!(after.status, 200, "{}: the flight moved", db.name());
        assert_ne!(after.header("etag"), Some(etag.as_str()));
        assert!(places(&after).contains(&(-74.0, 40.6925)));
        let head = call(&state, rest("HEAD", "/positions", &query, &[])).await;
        assert_eq!((head.status, head.body.as_str()), (200, ""));
        assert_eq!(head.header("etag"), after.header("etag"));
    }
}

#[tokio::test]
async fn every_bad_positions_parameter_is_a_400_with_its_stable_code() {
    for db in engines().await {
        let state = state(&db.store);
        let cases: Vec<BadQuery> = vec![
            (vec![("bbox", "1,2,3")], "invalid_parameter", "minLon,minLat,maxLon,maxLat"),
            (vec![("bbox", "1,2,3,4,5")], "invalid_parameter", "four decimal numbers"),
            (vec![("bbox", "a,b,c,d")], "invalid_parameter", "four decimal numbers"),
            (vec![("bbox", "1e2,0,1,1")], "invalid_parameter", "four decimal numbers"),
            (vec![("bbox", "")], "invalid_parameter", "four decimal numbers"),
            (vec![("bbox", "-190,0,10,10")], "invalid_parameter", "minLon -190 is outside -180 to 180"),
            (vec![("bbox", "0,0,181,10")], "invalid_parameter", "maxLon 181 is outside -180 to 180"),
            (vec![("bbox", "0,-95,10,10")], "invalid_parameter", "minLat -95 is outside -90 to 90"),
            (vec![("bbox", "0,40,10,30")], "invalid_parameter", "minLat 40 is above maxLat 30"),
            (vec![("include", "landed")], "invalid_parameter", "include must be departed"),
            (vec![("include", "departed"), ("include", "departed")], "invalid_parameter", "more than once"),
            (vec![("carrier", "ual")], "invalid_parameter", "carrier"),
            (vec![("origin", "ewr")], "invalid_parameter", "origin"),
            (vec![("limit", "501")], "invalid_parameter", "limit"),
            (vec![("status", "airborne")], "unknown_parameter", "allowed: include, bbox"),
            (vec![("date", "2013-01-01")], "unknown_parameter", "date"),
            (vec![("cursor", "x")], "invalid_cursor", "cursor"),
        ];
        for (query, code, message) in cases {
            let a = call(&state, get("/positions", &query)).await;
            assert_eq!((a.status, a.error_code().as_str()), (400, code), "{} {query:?}: {}", db.name(), a.body);
            let said = a.json()["error"]["message"].as_str().unwrap().to_owned();
            assert!(said.contains(message), "{query:?}: {said}");
        }
        let a = call(&state, rest("POST", "/positions", &[], &[])).await;
        assert_eq!((a.status, a.error_code().as_str()), (405, "method_not_allowed"));
    }
}
