//! Query API benchmark (run it with `bench/query.sh`).
//!
//! Loads 336,000 flights (14 days x 24,000, three events each: about a million history rows) into a
//! throwaway PostgreSQL (`TEST_DATABASE_URL` or a cluster started here), exactly 5,000 of them airborne, then
//! measures in process, on one core, `GET /flights/{id}`, a filtered page of 50 (`date` + `origin`) and pages of
//! 500 of `GET /positions` (all of them, and within a box): p50/p99 latency and requests/s. The handler takes
//! turns with the bare statement (the same SQL on a plain connection, rows not decoded), so their ratio, which
//! the read targets are set against, is taken under the same conditions. In the same run it measures the
//! conventional alternative, a Python handler with psycopg running the same query per request
//! (`bench/query_baseline.py`), on the same database and core. PostgreSQL runs on the other core when the
//! machine has two.

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use sqlx::Connection as _;

use contrail_shared::config::DbConfig;
use contrail_shared::domain::{Airport, Carrier, FlightEvent, FlightNumber, FlightStatus, Position};
use contrail_shared::storage::{Store, state};

const DAYS: u32 = 14;
const FLIGHTS_PER_DAY: u32 = 24_000;
/// Flights in the air when the benchmark runs: the live map's load.
const AIRBORNE: i64 = 5_000;
const WARMUP: usize = 500;
const MEASURED: usize = 5_000;
/// Turns the handler and the bare statement take over each scenario's measured requests.
const ROUNDS: usize = 5;
const _: () = assert!(MEASURED.is_multiple_of(ROUNDS), "every round measures as many requests");
/// Where the lookup and page-of-50 scenarios sit in [`scenarios`].
const LOOKUPS: usize = 0;
const PAGES: usize = 1;

const CARRIERS: [&str; 10] = ["UA", "AA", "DL", "WN", "B6", "AS", "NK", "F9", "HA", "G4"];
const AIRPORTS: [&str; 30] = [
    "ATL", "DFW", "DEN", "ORD", "LAX", "JFK", "LAS", "MCO", "MIA", "CLT", "SEA", "PHX", "EWR", "SFO", "IAH", "BOS",
    "FLL", "MSP", "LGA", "DTW", "PHL", "SLC", "DCA", "SAN", "BWI", "TPA", "AUS", "IAD", "BNA", "MDW",
];

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let url = contrail_testkit::postgres::fresh_database().ok_or("no PostgreSQL available")?;
    let store = Store::connect(&DbConfig::from_url(url.clone())).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;

    let started = Instant::now();
    let ids = load(&url).await?;
    eprintln!("loaded {} flights and {} events in {:.1} s", ids.len(), ids.len() * 3, started.elapsed().as_secs_f64());

    let pinned = pin(&url).await;
    // A fresh pool after pinning: its backend inherits the database core.
    let store = Store::connect(&DbConfig::from_url(url.clone())).await.map_err(|e| e.to_string())?;
    contrail_shared::telemetry::disable_metrics();
    let state = contrail_query::State::new(store, b"benchmark-cursor-secret-0123456789abcdef".to_vec(), "");

    let scenarios = scenarios(&ids);
    // The handler and the bare statement take turns, round after round, so a slower spell of the machine
    // or the server weighs on both sides of their ratio alike.
    let mut bare = Bare::connect(&url).await?;
    let mut rust = Vec::new();
    let mut floor = Vec::new();
    for (name, events) in &scenarios {
        let (warm_up, measured) = events.split_at(WARMUP);
        measure(&state, warm_up).await?;
        bare.run(warm_up).await.map_err(|e| format!("{name}: {e}"))?;
        let (mut handler, mut statement) = (Timings::default(), Timings::default());
        // Who goes first alternates, so neither side always meets the rows the other just read.
        for (i, round) in measured.chunks(MEASURED / ROUNDS).enumerate() {
            let handler_first = i % 2 == 0;
            if handler_first {
                handler.add(measure(&state, round).await?);
            }
            statement.add(bare.run(round).await.map_err(|e| format!("{name}: {e}"))?);
            if !handler_first {
                handler.add(measure(&state, round).await?);
            }
        }
        rust.push((name.clone(), handler.figures()));
        floor.push(statement.figures());
    }
    let python = python(&url, &scenarios)?;
    println!();
    println!("query benchmark: {} flights, {} events, in process, one core{}", ids.len(), ids.len() * 3, pinned);
    println!("{:<34} {:>8} {:>8} {:>8} {:>10} {:>9}", "scenario", "p50 ms", "p99 ms", "req/s", "vs python", "vs bare");
    for (((name, r), (_, p)), f) in rust.iter().zip(&python).zip(&floor) {
        let line = |who: &str, x: &Figures| {
            format!("{:<34} {:>8.3} {:>8.3} {:>8.0}", format!("{who} {name}"), x.p50, x.p99, x.rps)
        };
        println!("{} {:>9.1}x {:>8.2}x", line("rust", r), r.rps / p.rps, r.rps / f.rps);
        println!("{}", line("python", p));
        println!(
            "{} {:>9.1}x            (the ceiling: the statement alone, no handler; {:.0} rows per request)",
            line("bare SQL", f),
            f.rps / p.rps,
            f.rows
        );
    }
    // The read targets, as ratios to the bare statement measured in the same rounds.
    let to_bare = |i: usize| rust[i].1.rps / floor[i].rps;
    let p99_ok = rust.iter().all(|(_, r)| r.p99 < 5.0);
    println!(
        "targets: lookups >= 0.85x bare: {} ({:.2}x); pages of 50 >= 0.75x bare: {} ({:.2}x); p99 < 5 ms: {}",
        yes(to_bare(LOOKUPS) >= 0.85),
        to_bare(LOOKUPS),
        yes(to_bare(PAGES) >= 0.75),
        to_bare(PAGES),
        yes(p99_ok)
    );
    Ok(())
}

fn yes(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

struct Figures {
    p50: f64,
    p99: f64,
    rps: f64,
    /// Rows served per request on average (measured on the bare SQL side only; 0 elsewhere).
    rows: f64,
}

/// Latencies gathered over several rounds, and the rows the bare statement served.
#[derive(Default)]
struct Timings {
    latencies_ns: Vec<u64>,
    wall: StdDuration,
    rows: usize,
}

impl Timings {
    fn add(&mut self, other: Timings) {
        self.latencies_ns.extend(other.latencies_ns);
        self.wall += other.wall;
        self.rows += other.rows;
    }

    fn figures(mut self) -> Figures {
        let rows = self.rows as f64 / self.latencies_ns.len().max(1) as f64;
        Figures { rows, ..figures(std::mem::take(&mut self.latencies_ns), self.wall) }
    }
}

fn figures(mut latencies_ns: Vec<u64>, wall: StdDuration) -> Figures {
    latencies_ns.sort_unstable();
    let at = |q: f64| latencies_ns[((latencies_ns.len() as f64 * q) as usize).min(latencies_ns.len() - 1)] as f64 / 1e6;
    Figures { p50: at(0.50), p99: at(0.99), rps: latencies_ns.len() as f64 / wall.as_secs_f64(), rows: 0.0 }
}

/// Every request of `events` through the handler, each timed.
async fn measure(state: &contrail_query::State, events: &[Value]) -> Result<Timings, String> {
    let requests: Vec<lambda_http::Request> = events
        .iter()
        .map(|e| lambda_http::request::from_str(&e.to_string()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut timings = Timings { latencies_ns: Vec::with_capacity(events.len()), ..Timings::default() };
    for req in requests {
        let t0 = Instant::now();
        let response = contrail_query::handle(state, req).await.unwrap_or_else(|e| match e {});
        let took = t0.elapsed();
        if response.status() != 200 {
            return Err(format!("unexpected status {}: {:?}", response.status(), response.body()));
        }
        timings.latencies_ns.push(took.as_nanos() as u64);
        timings.wall += took;
    }
    Ok(timings)
}

/// The same statements as the handler, on one plain sqlx connection, rows fetched but not decoded: what the
/// database round trip alone allows. No handler, in any language, serves these requests faster one at a time.
struct Bare {
    conn: sqlx::PgConnection,
    lookup: String,
    page: String,
    positions: String,
    boxed: String,
}

impl Bare {
    async fn connect(url: &str) -> Result<Self, String> {
        let columns = format!("SELECT {} FROM flights WHERE NOT removed", state::flight_columns());
        const IN_THE_AIR: &str = "SELECT flight_id, carrier, number, origin, destination, position, event_time \
            FROM flights WHERE status IN ('airborne', 'departed') AND NOT removed AND position IS NOT NULL \
            AND status <> 'departed'";
        Ok(Self {
            conn: sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?,
            lookup: format!("{columns} AND flight_id = $1"),
            // Limits are bound, as the store binds them (a literal could get another plan).
            page: format!("{columns} AND origin = $1 AND date = $2 ORDER BY scheduled_departure, flight_id LIMIT $3"),
            positions: format!("{IN_THE_AIR} ORDER BY flight_id LIMIT $1"),
            boxed: format!(
                "{IN_THE_AIR} AND (position->>'lat')::float8 BETWEEN $1 AND $2 \
                 AND (position->>'lon')::float8 BETWEEN $3 AND $4 ORDER BY flight_id LIMIT $5"
            ),
        })
    }

    /// Every request of `events` as its bare statement, each timed.
    async fn run(&mut self, events: &[Value]) -> Result<Timings, String> {
        let mut timings = Timings { latencies_ns: Vec::with_capacity(events.len()), ..Timings::default() };
        let conn = &mut self.conn;
        for event in events {
            let qs = &event["queryStringParameters"];
            let t0 = Instant::now();
            let path = event["path"].as_str().unwrap_or_default();
            let rows = match path.strip_prefix("/flights/") {
                Some(id) => sqlx::query(sqlx::AssertSqlSafe(self.lookup.as_str())).bind(id).fetch_all(&mut *conn).await,
                None if path == "/positions" => match qs["bbox"].as_str() {
                    None => {
                        sqlx::query(sqlx::AssertSqlSafe(self.positions.as_str()))
                            .bind(501_i64)
                            .fetch_all(&mut *conn)
                            .await
                    }
                    Some(bbox) => {
                        let b: Vec<f64> = bbox.split(',').filter_map(|x| x.parse().ok()).collect();
                        let [min_lon, min_lat, max_lon, max_lat] = b[..] else { return Err("bad bbox".into()) };
                        sqlx::query(sqlx::AssertSqlSafe(self.boxed.as_str()))
                            .bind(min_lat)
                            .bind(max_lat)
                            .bind(min_lon)
                            .bind(max_lon)
                            .bind(501_i64)
                            .fetch_all(&mut *conn)
                            .await
                    }
                },
                None => {
                    let date = qs["date"].as_str().and_then(|d| d.parse::<NaiveDate>().ok()).ok_or("no date")?;
                    sqlx::query(sqlx::AssertSqlSafe(self.page.as_str()))
                        .bind(qs["origin"].as_str().ok_or("no origin")?)
                        .bind(date)
                        .bind(51_i64)
                        .fetch_all(&mut *conn)
                        .await
                }
            }
            .map_err(|e| e.to_string())?;
            let took = t0.elapsed();
            if rows.is_empty() {
                return Err("the bare query found nothing".into());
            }
            timings.latencies_ns.push(took.as_nanos() as u64);
            timings.wall += took;
            // The handler serves one row fewer than it fetches (the extra row only says "more").
            timings.rows += rows.len().min(match path {
                "/positions" => 500,
                p if p.starts_with("/flights/") => 1,
                _ => 50,
            });
        }
        Ok(timings)
    }
}

fn python(url: &str, scenarios: &[(String, Vec<Value>)]) -> Result<Vec<(String, Figures)>, String> {
    let python = std::env::var("BENCH_PYTHON").map_err(|_| "BENCH_PYTHON (a python with psycopg) is not set")?;
    let root = contrail_testkit::workspace_root();
    let mut file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let doc: serde_json::Map<String, Value> = scenarios.iter().map(|(n, e)| (n.clone(), json!(e))).collect();
    file.write_all(Value::Object(doc).to_string().as_bytes()).map_err(|e| e.to_string())?;
    let out = Command::new(python)
        .arg(root.join("bench/query_baseline.py"))
        .args([url, &file.path().to_string_lossy(), &WARMUP.to_string()])
        .output()
        .map_err(|e| format!("running the python baseline: {e}"))?;
    if !out.status.success() {
        return Err(format!("python baseline failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let results: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    scenarios
        .iter()
        .map(|(name, _)| {
            let r = &results[name];
            let lat: Vec<u64> =
                r["latencies_ns"].as_array().ok_or("no latencies")?.iter().filter_map(Value::as_u64).collect();
            let wall = StdDuration::from_nanos(lat.iter().sum());
            Ok((name.clone(), figures(lat, wall)))
        })
        .collect()
}

/// The requests both handlers answer: REST proxy events as API Gateway sends them.
fn scenarios(ids: &[(String, NaiveDate, &'static str)]) -> Vec<(String, Vec<Value>)> {
    let n = WARMUP + MEASURED;
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut pick = move |len: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % len as u64) as usize
    };
    let get: Vec<Value> = (0..n)
        .map(|_| {
            let (id, _, _) = &ids[pick(ids.len())];
            event(&format!("/flights/{id}"), "/flights/{flight_id}", json!(null))
        })
        .collect();
    let list: Vec<Value> = (0..n)
        .map(|_| {
            let (_, date, origin) = &ids[pick(ids.len())];
            let qs = json!({"date": date.format("%Y-%m-%d").to_string(), "origin": origin, "limit": "50"});
            event("/flights", "/flights", qs)
        })
        .collect();
    let positions: Vec<Value> = (0..n).map(|_| event("/positions", "/positions", json!({"limit": "500"}))).collect();
    // Boxes of 15 x 10 degrees over the airborne flights (latitudes 25..49, longitudes -120..-75).
    let boxed: Vec<Value> = (0..n)
        .map(|_| {
            let (lon, lat) = (-125 + pick(40) as i64, 20 + pick(25) as i64);
            let bbox = format!("{lon},{lat},{},{}", lon + 15, lat + 10);
            event("/positions", "/positions", json!({"bbox": bbox, "limit": "500"}))
        })
        .collect();
    vec![
        ("GET /flights/{id}".into(), get),
        ("GET /flights?date&origin (50)".into(), list),
        ("GET /positions (500)".into(), positions),
        ("GET /positions?bbox (500)".into(), boxed),
    ]
}

fn event(path: &str, resource: &str, qs: Value) -> Value {
    let multi = qs
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), json!([v]))).collect::<serde_json::Map<String, Value>>());
    json!({
        "resource": resource, "path": path, "httpMethod": "GET",
        "headers": {"Host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", "Accept": "application/json"},
        "multiValueHeaders": {"Host": ["a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"], "Accept": ["application/json"]},
        "queryStringParameters": qs, "multiValueQueryStringParameters": multi,
        "pathParameters": null, "stageVariables": null, "body": null, "isBase64Encoded": false,
        "requestContext": {"path": format!("/prod{path}"), "stage": "prod", "httpMethod": "GET", "requestId": "bench",
            "accountId": "123456789012", "resourcePath": resource, "apiId": "a1b2c3d4e5",
            "authorizer": {"principalId": "bench", "sub": "bench", "scopes": "flights:read", "client_id": "bench"}},
    })
}

/// Generates the flights and their events and COPYs them into the schema's tables; returns (id, date,
/// origin) of every flight.
async fn load(url: &str) -> Result<Vec<(String, NaiveDate, &'static str)>, String> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?;
    let first = NaiveDate::from_ymd_opt(2026, 3, 2).ok_or("date")?;
    let now = Utc.from_utc_datetime(&(first + Duration::days(7)).and_hms_opt(12, 0, 0).ok_or("time")?);
    for month in [first, first + Duration::days(i64::from(DAYS) + 2)] {
        let ts = Utc.from_utc_datetime(&month.and_hms_opt(12, 0, 0).ok_or("time")?);
        sqlx::query("SELECT contrail_ensure_event_partition($1)")
            .bind(ts)
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut ids = Vec::with_capacity((DAYS * FLIGHTS_PER_DAY) as usize);
    let mut flights = Vec::with_capacity(64 << 20);
    let mut events = Vec::with_capacity(256 << 20);
    let received = now.format("%Y-%m-%d %H:%M:%S+00").to_string();
    for d in 0..DAYS {
        let date = first + Duration::days(i64::from(d));
        for k in 0..FLIGHTS_PER_DAY {
            let history = flight(date, k, now);
            let current = history.last().ok_or("no events")?;
            let id = current.flight_id().to_string();
            for (n, e) in history.iter().enumerate() {
                writeln!(
                    events,
                    "{id}-{n}\t{}\t{id}\tf\t{}\t{received}",
                    e.event_time.to_rfc3339(),
                    e.to_canonical_json().replace('\\', "\\\\")
                )
                .map_err(|e| e.to_string())?;
            }
            let t = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "\\N".into());
            let f = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_else(|| "\\N".into());
            let s = |x: &Option<String>| x.clone().unwrap_or_else(|| "\\N".into());
            let position =
                current.position.map(|p| serde_json::to_string(&p).unwrap_or_default()).unwrap_or_else(|| "\\N".into());
            writeln!(
                flights,
                "{id}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{id}-{}\tf",
                current.carrier,
                current.number,
                current.date,
                current.origin,
                current.destination,
                current.status,
                current.scheduled_departure.to_rfc3339(),
                current.scheduled_arrival.to_rfc3339(),
                t(current.estimated_departure),
                t(current.estimated_arrival),
                t(current.actual_departure),
                t(current.actual_arrival),
                f(current.departure_delay_minutes()),
                f(current.arrival_delay_minutes()),
                s(&current.tail_number),
                s(&current.gate),
                s(&current.terminal),
                position,
                current.event_time.to_rfc3339(),
                history.len() - 1,
            )
            .map_err(|e| e.to_string())?;
            ids.push((id, date, AIRPORTS[origin_of(k)]));
        }
    }
    let mut copy = conn
        .copy_in_raw("COPY flight_events (event_id, event_time, flight_id, removed, payload, received_at) FROM STDIN")
        .await
        .map_err(|e| e.to_string())?;
    copy.send(events).await.map_err(|e| e.to_string())?;
    copy.finish().await.map_err(|e| e.to_string())?;
    // The rows above are written in the state table's column order.
    let mut copy = conn
        .copy_in_raw(&format!("COPY flights ({}) FROM STDIN", state::column_list()))
        .await
        .map_err(|e| e.to_string())?;
    copy.send(flights).await.map_err(|e| e.to_string())?;
    copy.finish().await.map_err(|e| e.to_string())?;
    airborne_exactly(&mut conn, now.date_naive()).await?;
    sqlx::query("VACUUM ANALYZE flights").execute(&mut conn).await.map_err(|e| e.to_string())?;
    // Vacuumed and checkpointed now, so neither autovacuum nor a checkpoint lands in a measured phase (the
    // Rust handler runs first and would pay for it).
    sqlx::query("VACUUM ANALYZE flight_events").execute(&mut conn).await.map_err(|e| e.to_string())?;
    sqlx::query("CHECKPOINT").execute(&mut conn).await.map_err(|e| e.to_string())?;
    Ok(ids)
}

async fn airborne_count(conn: &mut sqlx::PgConnection) -> Result<i64, String> {
    sqlx::query_scalar("SELECT count(*) FROM flights WHERE status = 'airborne'")
        .fetch_one(conn)
        .await
        .map_err(|e| e.to_string())
}

/// Makes exactly [`AIRBORNE`] flights airborne, whatever the generator's clock left in the air: lands the
/// surplus (highest ids first) or takes off flights of `today` that had arrived, each with a position.
async fn airborne_exactly(conn: &mut sqlx::PgConnection, today: NaiveDate) -> Result<(), String> {
    let now = airborne_count(&mut *conn).await?;
    if now > AIRBORNE {
        sqlx::query(
            "UPDATE flights SET status = 'arrived', position = NULL WHERE flight_id IN \
             (SELECT flight_id FROM flights WHERE status = 'airborne' ORDER BY flight_id DESC LIMIT $1)",
        )
        .bind(now - AIRBORNE)
        .execute(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    } else if now < AIRBORNE {
        sqlx::query(
            "UPDATE flights SET status = 'airborne', actual_arrival = NULL, arrival_delay_minutes = NULL, \
             position = jsonb_build_object('lat', 25 + (hashtext(flight_id) & 2047) / 100.0, \
             'lon', -120 + ((hashtext(flight_id) >> 11) & 4095) / 100.0, 'altitude_ft', 35000, \
             'ground_speed_kt', 460, 'heading_deg', (hashtext(flight_id) >> 3) & 255) WHERE flight_id IN \
             (SELECT flight_id FROM flights WHERE status = 'arrived' AND date = $2 ORDER BY flight_id LIMIT $1)",
        )
        .bind(AIRBORNE - now)
        .bind(today)
        .execute(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    }
    let after = airborne_count(&mut *conn).await?;
    eprintln!("airborne: {now} generated, {after} after adjusting");
    if after == AIRBORNE { Ok(()) } else { Err(format!("{after} airborne flights, wanted {AIRBORNE}")) }
}

fn origin_of(k: u32) -> usize {
    (k.wrapping_mul(2_654_435_761) >> 7) as usize % AIRPORTS.len()
}

/// A flight's three snapshots: as scheduled the day before, then two later states depending on `now`.
fn flight(date: NaiveDate, k: u32, now: DateTime<Utc>) -> Vec<FlightEvent> {
    let origin = origin_of(k);
    let destination = (origin + 1 + (k as usize * 7) % (AIRPORTS.len() - 1)) % AIRPORTS.len();
    let day_start = Utc.from_utc_datetime(&date.and_hms_opt(5, 0, 0).unwrap_or_default());
    let dep = day_start + Duration::minutes(i64::from((k.wrapping_mul(7919)) % 1140));
    let block = Duration::minutes(i64::from(55 + (k * 13) % 320));
    let delay = match k % 10 {
        0..=5 => (k % 7) as i64 - 3,
        6 | 7 => 5 + (k % 20) as i64,
        8 => 25 + (k % 60) as i64,
        _ => 90 + (k % 120) as i64,
    };
    let base = FlightEvent {
        schema_version: 1,
        event_id: String::new(),
        event_time: dep - Duration::hours(24),
        carrier: Carrier::parse(CARRIERS[k as usize % CARRIERS.len()]).unwrap_or_else(|_| unreachable!()),
        number: FlightNumber::parse(&(1 + k / 10).to_string()).unwrap_or_else(|_| unreachable!()),
        date,
        origin: Airport::parse(AIRPORTS[origin]).unwrap_or_else(|_| unreachable!()),
        destination: Airport::parse(AIRPORTS[destination]).unwrap_or_else(|_| unreachable!()),
        status: FlightStatus::Scheduled,
        scheduled_departure: dep,
        scheduled_arrival: dep + block,
        estimated_departure: Some(dep),
        estimated_arrival: Some(dep + block),
        actual_departure: None,
        actual_arrival: None,
        tail_number: Some(format!("N{}{}", 100 + k % 900, ["A", "B", "UA", "DL"][k as usize % 4])),
        gate: Some(format!("{}{}", ["A", "B", "C", "D"][k as usize % 4], 1 + k % 40)),
        terminal: Some((1 + k % 5).to_string()),
        position: None,
    };
    let actual_dep = dep + Duration::minutes(delay);
    let actual_arr = actual_dep + block - Duration::minutes((k % 9) as i64);
    let mut second = base.clone();
    let mut third = base.clone();
    second.event_time = dep - Duration::minutes(40);
    second.status = if delay > 15 { FlightStatus::Delayed } else { FlightStatus::Boarding };
    second.estimated_departure = Some(actual_dep);
    second.estimated_arrival = Some(actual_arr);
    if k.is_multiple_of(50) {
        third.event_time = dep - Duration::minutes(30);
        third.status = FlightStatus::Cancelled;
    } else if actual_arr <= now {
        third.event_time = actual_arr + Duration::minutes(4);
        third.status = FlightStatus::Arrived;
        third.actual_departure = Some(actual_dep);
        third.actual_arrival = Some(actual_arr);
    } else if actual_dep <= now {
        third.event_time = now - Duration::minutes(1);
        third.status = FlightStatus::Airborne;
        third.actual_departure = Some(actual_dep);
        third.position = Some(Position {
            lat: 25.0 + f64::from(k % 2400) / 100.0,
            lon: -120.0 + f64::from(k % 4500) / 100.0,
            altitude_ft: Some(35_000.0),
            ground_speed_kt: Some(460.0),
            heading_deg: Some(f64::from(k % 360)),
        });
    } else {
        third.event_time = dep - Duration::minutes(20);
        third.gate = Some(format!("{}{}", ["A", "B", "C", "D"][(k as usize + 1) % 4], 1 + (k + 3) % 40));
        third.estimated_departure = Some(actual_dep);
    }
    let mut out = vec![base, second, third];
    for (n, e) in out.iter_mut().enumerate() {
        e.event_id = format!("{}-{n}", e.flight_id());
    }
    out
}

/// Puts PostgreSQL (postmaster and backends) on core 1 and this process on core 0, when both exist.
async fn pin(url: &str) -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if cores < 2 {
        return " (not pinned: one core available)".into();
    }
    let pid: Option<String> = async {
        let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
        let dir: String =
            sqlx::query_scalar("SELECT current_setting('data_directory')").fetch_one(&mut conn).await.ok()?;
        let text = std::fs::read_to_string(std::path::Path::new(&dir).join("postmaster.pid")).ok()?;
        text.lines().next().map(str::to_owned)
    }
    .await;
    let own = std::process::id().to_string();
    let me = Command::new("taskset").args(["-a", "-p", "-c", "0", &own]).output().is_ok_and(|o| o.status.success());
    let Some(pid) = pid else {
        return format!(" (handler on core 0: {}; database not pinned: not a local server)", yes(me));
    };
    let children =
        Command::new("pgrep").args(["-P", &pid]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let mut ok = Command::new("taskset").args(["-a", "-p", "-c", "1", &pid]).output().is_ok_and(|o| o.status.success());
    for child in children.unwrap_or_default().lines() {
        ok &= Command::new("taskset")
            .args(["-a", "-p", "-c", "1", child.trim()])
            .output()
            .is_ok_and(|o| o.status.success());
    }
    if me && ok { " (handlers on core 0, PostgreSQL on core 1)".into() } else { " (pinning failed)".into() }
}
