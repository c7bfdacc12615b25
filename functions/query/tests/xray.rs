//! X-Ray as Lambda runs it: with `_X_AMZN_TRACE_ID` set for the invocation and `AWS_XRAY_DAEMON_ADDRESS`
//! naming the daemon, the query handler's database calls arrive at a UDP listener (standing in for the
//! daemon) as subsegments in the daemon's format, under the invocation's trace and parent. Its own test
//! binary, because it sets process variables; the steps run in one test so nothing else reads them.

use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contrail_query::{State, handle};
use contrail_shared::config::DbConfig;
use contrail_shared::storage::Store;
use serde_json::Value;

const ROOT: &str = "1-6553f100-0123456789abcdef01234567";
const PARENT: &str = "53995c3f42cd8ad8";
const PASSWORD: &str = "a-password-never-in-a-trace";

fn set(name: &str, value: &str) {
    // SAFETY: this binary's one test sets variables on its only thread before the runtime reads them
    // (the runtime is current-thread, so no worker reads the environment meanwhile).
    unsafe { std::env::set_var(name, value) }
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Every datagram the listener received within `wait`.
fn received(daemon: &UdpSocket, wait: Duration) -> Vec<String> {
    daemon.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = daemon.recv(&mut buf) {
        out.push(String::from_utf8(buf[..n].to_vec()).expect("UTF-8 datagrams"));
    }
    out
}

/// The document of a datagram, after checking the daemon's header line.
fn document(datagram: &str) -> Value {
    let (header, body) = datagram.split_once('\n').expect("a header line, then the document");
    assert_eq!(serde_json::from_str::<Value>(header).unwrap(), serde_json::json!({"format": "json", "version": 1}));
    serde_json::from_str(body).expect("a JSON document")
}

fn request(file: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&contrail_testkit::event_file(file)).expect("a REST proxy event")
}

#[tokio::test(flavor = "current_thread")]
async fn each_database_call_of_an_invocation_is_a_subsegment_sent_to_the_daemon() {
    let Some(url) = contrail_testkit::postgres::fresh_database() else { return };
    contrail_shared::telemetry::disable_metrics();
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    set("AWS_XRAY_DAEMON_ADDRESS", &daemon.local_addr().unwrap().to_string());

    // The password in the URL (the test server trusts local logins, so any password logs in) must never
    // reach a subsegment.
    let with_password = url.replacen("@127.0.0.1", &format!(":{PASSWORD}@127.0.0.1"), 1);
    assert_ne!(with_password, url, "the URL has a password now: {with_password}");
    let store = contrail_testkit::store::open(&with_password).await;
    let state = State::new(store.clone(), b"xray-tests-cursor-secret-0123456789".to_vec(), "*");
    let (version,): (String,) =
        sqlx::query_as("SHOW server_version").fetch_one(&sqlx::PgPool::connect(&url).await.unwrap()).await.unwrap();
    let database = url.rsplit('/').next().unwrap().to_owned();
    received(&daemon, Duration::from_millis(100)); // whatever migrating sent before a trace was set

    // A sampled invocation: one subsegment per store call, under the invocation's trace and parent.
    set("_X_AMZN_TRACE_ID", &format!("Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:0"));
    let before = now();
    let page = handle(&state, request("apigw-list-flights.json")).await.unwrap();
    assert_eq!(page.status(), 200);
    let flight = handle(&state, request("apigw-get-flight.json")).await.unwrap();
    assert_eq!(flight.status(), 404, "the fixture database is empty");
    let after = now();
    let datagrams = received(&daemon, Duration::from_millis(500));
    let docs: Vec<Value> = datagrams.iter().map(|d| document(d)).collect();
    let statements: Vec<&str> = docs.iter().map(|d| d["sql"]["sanitized_query"].as_str().unwrap_or("?")).collect();
    assert_eq!(statements, ["list_flights", "get_flight"], "one subsegment per store call, in order: {docs:#?}");
    let mut ids = std::collections::BTreeSet::new();
    for (doc, datagram) in docs.iter().zip(&datagrams) {
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["trace_id"], ROOT);
        assert_eq!(doc["parent_id"], PARENT);
        let id = doc["id"].as_str().unwrap();
        assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert!(ids.insert(id.to_owned()), "ids are unique");
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(doc["name"], format!("{database}@127.0.0.1"));
        let (start, end) = (doc["start_time"].as_f64().unwrap(), doc["end_time"].as_f64().unwrap());
        assert!(before <= start && start <= end && end <= after, "{before} <= {start} <= {end} <= {after}");
        let sql = &doc["sql"];
        assert_eq!(sql["database_type"], "PostgreSQL");
        assert_eq!(
            sql["url"],
            format!("postgresql://127.0.0.1:{}/{database}", url.split(':').nth(2).unwrap().split('/').next().unwrap())
        );
        assert_eq!(sql["user"], url.split("://").nth(1).unwrap().split('@').next().unwrap());
        assert_eq!(sql["database_version"].as_str(), version.split_whitespace().next(), "{sql}");
        assert!(doc.get("fault").is_none() && doc.get("error").is_none(), "{doc}");
        assert!(!datagram.contains(PASSWORD), "the password leaked: {datagram}");
    }

    // Not sampled: nothing is sent.
    set("_X_AMZN_TRACE_ID", &format!("Root={ROOT};Parent={PARENT};Sampled=0"));
    handle(&state, request("apigw-list-flights.json")).await.unwrap();
    assert_eq!(received(&daemon, Duration::from_millis(300)), Vec::<String>::new(), "an unsampled call is not traced");

    // A database that cannot be reached: the subsegment is a fault with the cause, and still no password.
    set("_X_AMZN_TRACE_ID", &format!("Root={ROOT};Parent={PARENT};Sampled=1"));
    let closed = contrail_testkit::ClosedPort::new();
    let mut gone = DbConfig::from_url(format!("postgres://nobody:{PASSWORD}@127.0.0.1:{}/{database}", closed.port));
    gone.connect_timeout = Duration::from_millis(500);
    let down = State::new(Store::connect(&gone).await.unwrap(), b"xray-tests-cursor-secret-0123456789".to_vec(), "*");
    let answer = handle(&down, request("apigw-list-flights.json")).await.unwrap();
    assert_eq!(answer.status(), 503);
    let datagrams = received(&daemon, Duration::from_millis(500));
    assert_eq!(datagrams.len(), 1, "{datagrams:?}");
    let doc = document(&datagrams[0]);
    assert_eq!(doc["fault"], true, "{doc}");
    let cause = doc["cause"]["exceptions"][0]["message"].as_str().expect("the cause's message");
    assert!(!cause.is_empty(), "{doc}");
    assert!(!datagrams[0].contains(PASSWORD), "the password leaked: {}", datagrams[0]);
}
