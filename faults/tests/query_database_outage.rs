//! Fault case 1 for the query function: PostgreSQL stopped (immediate) under the real handler, in the
//! middle of a read and between reads, then started again.
//!
//! The contract: while the database is away every data route and readiness answer `503` with the JSON
//! code `database_unavailable` and a `Retry-After` header (never a 500, never a hang), liveness still
//! answers `200`, and once the database is back the same warm state answers from the same data without a
//! restart.

use std::time::{Duration, Instant};

use contrail_query::State;
use contrail_shared::codec::parse_event;
use contrail_shared::config::DbConfig;
use contrail_shared::domain::Snapshot;
use contrail_shared::storage::Store;
use contrail_testkit::flight::FlightEvent;
use contrail_testkit::postgres::PgServer;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use sqlx::Connection as _;

const FLIGHT: &str = "UA1545-2026-11-25-EWR";
/// The pool's connect timeout: how long a call may wait for a connection while the server is down.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
/// Bound on one call while the server is down: the connect timeout plus scheduling (and, for the read
/// cut off mid-statement, the immediate stop itself) on a busy machine.
const PROMPT: Duration = Duration::from_secs(10);

/// The data routes and readiness, each of which needs the database.
const NEEDS_THE_DATABASE: [(&str, &str); 6] = [
    ("/health/ready", ""),
    ("/flights", "date=2026-11-25"),
    ("/flights/UA1545-2026-11-25-EWR", ""),
    ("/flights/UA1545-2026-11-25-EWR/events", ""),
    ("/airports/EWR/departures", "date=2026-11-25"),
    ("/stats", "date=2026-11-25"),
];

fn event(id: &str, time: &str, status: &str) -> Snapshot {
    let text = FlightEvent::new(id, "UA1545", status, time).to_string();
    Snapshot::Event(Box::new(parse_event(&text).expect("a valid flight event")))
}

/// A REST proxy event as API Gateway sends it, authorizer context included.
fn get(path: &str, query: &str) -> Request {
    let params: serde_json::Map<String, Value> =
        query.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_owned(), json!(v))).collect();
    let multi: serde_json::Map<String, Value> = params.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let event = json!({
        "resource": path, "path": path, "httpMethod": "GET",
        "headers": {"Host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": if params.is_empty() { Value::Null } else { Value::Object(params) },
        "multiValueQueryStringParameters": if multi.is_empty() { Value::Null } else { Value::Object(multi) },
        "pathParameters": null, "stageVariables": null,
        "requestContext": {
            "resourcePath": path, "httpMethod": "GET", "path": format!("/prod{path}"), "accountId": "123456789012",
            "protocol": "HTTP/1.1", "stage": "prod", "requestId": "0f3c1d2e-outage", "apiId": "a1b2c3d4e5",
            "requestTimeEpoch": 1_700_000_000_000_i64, "identity": {"sourceIp": "203.0.113.7"},
            "authorizer": {"principalId": "board-app", "sub": "board-app", "scopes": "flights:read", "client_id": "board-app"},
        },
        "body": null, "isBase64Encoded": false,
    });
    lambda_http::request::from_str(&event.to_string()).expect("a valid REST proxy event")
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

async fn call(state: &State, path: &str, query: &str) -> Answer {
    let started = Instant::now();
    let response = contrail_query::handle(state, get(path, query)).await.unwrap_or_else(|e| match e {});
    assert!(started.elapsed() < PROMPT, "{path} took {:?}", started.elapsed());
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
    let body = match response.into_body() {
        Body::Text(text) => serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")),
        other => panic!("{path}: expected a JSON text body, got {other:?}"),
    };
    Answer { status, retry_after, body }
}

/// The documented outage answer, exactly.
fn assert_unavailable(a: &Answer, what: &str) {
    assert_eq!((a.status, a.code()), (503, "database_unavailable"), "{what}: {}", a.body);
    assert_eq!(a.retry_after.as_deref(), Some(contrail_query::error::RETRY_AFTER_SECONDS), "{what}");
}

/// What the healthy API answers for the loaded flight, route by route.
async fn answers(state: &State) -> Vec<(u16, Value)> {
    let mut out = Vec::new();
    for (path, query) in NEEDS_THE_DATABASE {
        let a = call(state, path, query).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        out.push((a.status, a.body));
    }
    out
}

#[tokio::test]
async fn the_query_function_answers_503_while_the_database_is_down_and_recovers_without_a_restart() {
    let server = match PgServer::start() {
        Ok(s) => s,
        Err(why) => return contrail_testkit::skip("PostgreSQL", &why),
    };
    // As deployed: one connection per instance (DB_MAX_CONNECTIONS=1).
    let mut config = DbConfig::from_url(server.url("postgres"));
    config.max_connections = 1;
    config.connect_timeout = CONNECT_TIMEOUT;
    let store = Store::connect(&config).await.expect("lazy pool");
    store.migrate().await.expect("migrations");
    let batch = [
        event("ua1545-0001", "2026-11-24T18:00:00Z", "scheduled"),
        event("ua1545-0002", "2026-11-25T13:20:00Z", "boarding"),
    ];
    store.write_snapshots(&batch).await.expect("fixture stored");
    contrail_shared::telemetry::disable_metrics();
    let state = State::new(store, vec![7u8; 32], "");

    // Before: every route answers from the data.
    let before = answers(&state).await;
    assert_eq!(before[2].1["flight_id"], FLIGHT);
    assert_eq!(before[2].1["status"], "boarding");

    // In the middle of a read: the handler waits on a lock inside the server when the server dies.
    let mut blocker = sqlx::PgConnection::connect(&server.url("postgres")).await.expect("blocker connects");
    // The cluster runs with synchronous_commit=off: make the fixture durable before the crash.
    sqlx::query("CHECKPOINT").execute(&mut blocker).await.expect("checkpoint");
    sqlx::query("BEGIN").execute(&mut blocker).await.expect("begin");
    sqlx::query("LOCK TABLE flights IN ACCESS EXCLUSIVE MODE").execute(&mut blocker).await.expect("lock");
    let cut_off = async {
        let deadline = Instant::now() + PROMPT;
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut blocker)
            .await
            .expect("pg_stat_activity");
            if waiting > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the read never reached the database");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.stop().expect("immediate stop");
    };
    let (answer, ()) = tokio::join!(call(&state, "/flights/UA1545-2026-11-25-EWR", ""), cut_off);
    assert_unavailable(&answer, "a read cut off mid-statement");
    drop(blocker);

    // Down: every route that needs the database says so, twice (a broken pooled connection, then
    // refused connects); liveness does not depend on the database at all.
    for round in 0..2 {
        for (path, query) in NEEDS_THE_DATABASE {
            assert_unavailable(&call(&state, path, query).await, &format!("round {round} {path}"));
        }
        let live = call(&state, "/health", "").await;
        assert_eq!((live.status, live.body.clone()), (200, json!({"status": "ok"})), "liveness while down");
    }

    // Back: the same warm state answers from the same data. Until the server accepts work, an answer
    // may still be the documented 503, never anything else.
    server.start_again().expect("restart");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = call(&state, "/health/ready", "").await;
        if a.status == 200 {
            break;
        }
        assert_unavailable(&a, "readiness while the server restarts");
        assert!(Instant::now() < deadline, "the query function did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = answers(&state).await;
    assert_eq!(after, before, "the same answers after the outage");
}
