//! Shared by the query API suites: stores on both engines loaded through the ingest decode path, API
//! Gateway events built the way API Gateway sends them, and response helpers.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use contrail_query::State;
use contrail_shared::codec::parse_event;
use contrail_shared::domain::{FlightId, Removal, Snapshot};
use contrail_shared::storage::Store;
use contrail_testkit::flight::FlightEvent;

pub const SECRET: &[u8] = b"query-tests-cursor-secret-0123456789";
pub const BOARD_ORIGIN: &str = "https://board.example.com";

/// One migrated, empty store per engine available here (SQLite always, PostgreSQL when the harness
/// can start one).
pub use contrail_testkit::store::{TestStore as Db, engines};

/// The state the handler runs with in tests: a fixed cursor key, one allowed origin, no EMF on stdout.
pub fn state(store: &Store) -> State {
    contrail_shared::telemetry::disable_metrics();
    State::new(store.clone(), SECRET, BOARD_ORIGIN)
}

/// A flight as the fixture describes it; `event_json` renders it as a flight-event/v1 producers send.
#[derive(Debug, Clone)]
pub struct FixtureFlight {
    pub carrier: &'static str,
    pub number: String,
    pub date: NaiveDate,
    pub origin: &'static str,
    pub destination: &'static str,
    pub status: &'static str,
    pub scheduled_departure: DateTime<Utc>,
    pub scheduled_arrival: DateTime<Utc>,
    pub departure_delay: Option<i64>,
    pub arrival_delay: Option<i64>,
    pub gate: Option<String>,
    pub with_position: bool,
}

impl FixtureFlight {
    pub fn id(&self) -> String {
        format!("{}{}-{}-{}", self.carrier, self.number, self.date.format("%Y-%m-%d"), self.origin)
    }

    pub fn actual_departure(&self) -> Option<DateTime<Utc>> {
        self.departure_delay.map(|m| self.scheduled_departure + Duration::minutes(m))
    }

    pub fn actual_arrival(&self) -> Option<DateTime<Utc>> {
        self.arrival_delay.map(|m| self.scheduled_arrival + Duration::minutes(m))
    }

    /// The event JSON for this flight's state at `event_time`.
    pub fn event_json(&self, event_id: &str, event_time: DateTime<Utc>) -> String {
        let t = |d: Option<DateTime<Utc>>| json!(d.map(|d| d.to_rfc3339()));
        let position = if self.with_position {
            json!({"lat": 40.6925, "lon": -74.1687, "altitude_ft": 35000.0, "ground_speed_kt": 480.5, "heading_deg": 270.0})
        } else {
            Value::Null
        };
        FlightEvent::new(event_id, &format!("{}{}", self.carrier, self.number), self.status, &event_time.to_rfc3339())
            .date(&self.date.format("%Y-%m-%d").to_string())
            .route(self.origin, self.destination)
            .with("scheduled_departure", json!(self.scheduled_departure.to_rfc3339()))
            .with("scheduled_arrival", json!(self.scheduled_arrival.to_rfc3339()))
            .with("estimated_departure", t(self.actual_departure().or(Some(self.scheduled_departure))))
            .with("estimated_arrival", t(self.actual_arrival()))
            .with("actual_departure", t(self.actual_departure()))
            .with("actual_arrival", t(self.actual_arrival()))
            .with("tail_number", json!("N12345"))
            .with("gate", json!(self.gate))
            .with("terminal", json!("C"))
            .with("position", position)
            .to_string()
    }

    /// The same snapshot with `position` replaced (`null` for none), decoded through the ingest parser.
    pub fn snapshot_with_position(&self, event_id: &str, event_time: DateTime<Utc>, position: Value) -> Snapshot {
        let mut event: Value = serde_json::from_str(&self.event_json(event_id, event_time)).expect("fixture JSON");
        event["position"] = position;
        Snapshot::Event(Box::new(parse_event(&event.to_string()).expect("fixture event is valid")))
    }

    /// Decoded through the ingest path's parser, as a stored snapshot.
    pub fn snapshot(&self, event_id: &str, event_time: DateTime<Utc>) -> Snapshot {
        let event = parse_event(&self.event_json(event_id, event_time)).expect("fixture event is valid");
        Snapshot::Event(Box::new(event))
    }
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

pub fn at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).expect("time"))
}

pub const CARRIERS: [&str; 4] = ["UA", "AA", "B6", "DL"];
pub const ORIGINS: [&str; 3] = ["EWR", "JFK", "LGA"];
pub const DESTINATIONS: [&str; 4] = ["IAH", "MIA", "ORD", "ATL"];
pub const STATUSES: [&str; 9] =
    ["scheduled", "delayed", "boarding", "departed", "airborne", "landed", "arrived", "cancelled", "diverted"];

/// The main fixture: 60 flights over two days; pairs share a departure time (so the id breaks ties),
/// arrivals run in a different order than departures.
pub fn fixture_flights() -> Vec<FixtureFlight> {
    (0..60)
        .map(|i: usize| {
            let date = if i < 40 { day(2013, 1, 1) } else { day(2013, 1, 2) };
            let status = STATUSES[i % STATUSES.len()];
            let dep = at(date, 5, 0) + Duration::minutes(20 * (i as i64 / 2));
            let block = 90 + ((i * 37) % 240) as i64;
            let departed = matches!(status, "departed" | "airborne" | "landed" | "arrived" | "diverted");
            let arrived = matches!(status, "landed" | "arrived");
            FixtureFlight {
                carrier: CARRIERS[i % 4],
                number: format!("{}", 100 + i),
                date,
                origin: ORIGINS[i % 3],
                destination: DESTINATIONS[(i / 3) % 4],
                status,
                scheduled_departure: dep,
                scheduled_arrival: dep + Duration::minutes(block),
                departure_delay: departed.then_some([-3, 0, 7, 16, 45][i % 5]),
                arrival_delay: arrived.then_some([-10, 0, 14, 15, 50][i % 5]),
                gate: i.is_multiple_of(2).then(|| format!("C{}", i % 30)),
                with_position: status == "airborne",
            }
        })
        .collect()
}

/// Writes each flight as two events (an early `scheduled` snapshot, then its final state), in batches,
/// plus one removed flight (`removed_id`), through `Store::write_snapshots`.
pub async fn load(store: &Store, flights: &[FixtureFlight]) {
    let mut batch = Vec::new();
    for f in flights {
        let mut early = f.clone();
        early.status = "scheduled";
        early.departure_delay = None;
        early.arrival_delay = None;
        early.with_position = false;
        batch.push(early.snapshot(&format!("{}-e1", f.id()), f.scheduled_departure - Duration::hours(24)));
        batch.push(f.snapshot(&format!("{}-e2", f.id()), f.scheduled_departure + Duration::minutes(5)));
    }
    store.write_snapshots(&batch).await.expect("fixture batch");
    let removed = removed_flight();
    store
        .write_snapshots(&[
            removed.snapshot("removed-e1", removed.scheduled_departure - Duration::hours(2)),
            Snapshot::Removal(Removal {
                flight_id: FlightId::parse(&removed.id()).expect("id"),
                event_id: "tombstone:flight-data-0@42".into(),
                event_time: removed.scheduled_departure - Duration::hours(1),
            }),
        ])
        .await
        .expect("removal batch");
}

/// A flight that was stored and then removed by a tombstone: it must never be served.
pub fn removed_flight() -> FixtureFlight {
    FixtureFlight {
        carrier: "UA",
        number: "999".into(),
        date: day(2013, 1, 1),
        origin: "EWR",
        destination: "IAH",
        status: "arrived",
        scheduled_departure: at(day(2013, 1, 1), 9, 0),
        scheduled_arrival: at(day(2013, 1, 1), 12, 0),
        departure_delay: Some(100),
        arrival_delay: Some(100),
        gate: None,
        with_position: false,
    }
}

/// A REST API (v1) proxy event for `method path?query`, as API Gateway sends it through stage `prod`
/// with the authorizer's context, converted the way the runtime converts it.
pub fn rest(method: &str, path: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> Request {
    let mut multi: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in query {
        multi.entry(k).or_default().push(v);
    }
    let single: BTreeMap<&str, &str> = query.iter().map(|(k, v)| (*k, *v)).collect();
    let mut hdrs: BTreeMap<String, String> = BTreeMap::new();
    hdrs.insert("Host".into(), "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com".into());
    hdrs.insert("X-Forwarded-Proto".into(), "https".into());
    for (k, v) in headers {
        hdrs.insert((*k).into(), (*v).into());
    }
    let event = json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": hdrs.iter().map(|(k, v)| (k.clone(), vec![v.clone()])).collect::<BTreeMap<_, _>>(),
        "queryStringParameters": if query.is_empty() { Value::Null } else { json!(single) },
        "multiValueQueryStringParameters": if query.is_empty() { Value::Null } else { json!(multi) },
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": format!("/prod{path}"),
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTimeEpoch": 1_700_000_000_000_i64,
            "identity": {"sourceIp": "203.0.113.7"},
            "apiId": "a1b2c3d4e5",
            "authorizer": {"principalId": "board-app", "sub": "board-app", "scopes": "flights:read", "client_id": "board-app"},
        },
        "body": null,
        "isBase64Encoded": false,
    });
    lambda_http::request::from_str(&event.to_string()).expect("a valid REST proxy event")
}

/// `GET path?query` as a REST event.
pub fn get(path: &str, query: &[(&str, &str)]) -> Request {
    rest("GET", path, query, &[])
}

/// A handled response, with its body read as text.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error code of an error answer (and checks its shape).
    pub fn error_code(&self) -> String {
        let v = self.json();
        let err = v.get("error").unwrap_or_else(|| panic!("no error object: {}", self.body));
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "error without message: {}", self.body);
        assert_eq!(err.as_object().map(|o| o.len()), Some(2), "error object has only code and message");
        assert_eq!(self.header("cache-control"), Some("no-store"), "errors are never cached");
        assert_eq!(self.header("content-type"), Some("application/json; charset=utf-8"));
        err["code"].as_str().unwrap_or_default().to_owned()
    }

    pub fn ids(&self) -> Vec<String> {
        self.json()["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items: {}", self.body))
            .iter()
            .map(|f| f["flight_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub fn next_cursor(&self) -> Option<String> {
        self.json()["next_cursor"].as_str().map(str::to_owned)
    }
}

/// Runs a request through the handler.
pub async fn call(state: &State, req: Request) -> Answer {
    let response: Response<Body> = contrail_query::handle(state, req).await.unwrap_or_else(|e| match e {});
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.into_body() {
        Body::Empty => String::new(),
        Body::Text(t) => t,
        Body::Binary(b) => String::from_utf8(b).expect("utf-8 body"),
        _ => String::new(),
    };
    Answer { status, headers, body }
}
