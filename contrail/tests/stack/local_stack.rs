//! End-to-end: the `contrail` binary on SQLite and on a real PostgreSQL, fed by the simulator and by
//! `replay`, read over real HTTP with real tokens.

use std::path::Path;

use crate::common::*;
use serde_json::Value;

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap_or_else(|| panic!("no items in {v}"))
}

#[test]
fn up_on_default_sqlite_serves_simulated_flights_to_a_minted_token() {
    let dir = workdir();
    let stack = Stack::start(dir.path(), &["--rate", "3000", "--seed", "42", "--batch-window", "100"]);
    let token = stack.dev_token.clone().expect("up prints a dev token");

    let page = eventually(60, "simulated flights", || {
        let (status, body) = stack.get("/flights?limit=20", Some(&token));
        (status == 200 && items(&body).len() == 20).then_some(body)
    });
    let flight = &items(&page)[0];
    let id = flight["flight_id"].as_str().unwrap();
    for field in ["carrier", "origin", "destination", "status", "scheduled_departure", "updated_at"] {
        assert!(!flight[field].is_null(), "{field} missing in {flight}");
    }
    let (status, one) = stack.get(&format!("/flights/{id}"), Some(&token));
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["flight_id"], id);
    let (status, history) = stack.get(&format!("/flights/{id}/events"), Some(&token));
    assert_eq!(status, 200, "{history}");
    assert!(!items(&history).is_empty());
    let date = flight["date"].as_str().unwrap();
    let (status, stats) = stack.get(&format!("/stats?date={date}"), Some(&token));
    assert_eq!(status, 200, "{stats}");
    assert!(stats["flights"].as_u64().unwrap() >= 1);

    // A token from `contrail token` in the same directory works too: the secret was generated once.
    let minted = token_in(dir.path());
    assert_eq!(stack.get("/flights?limit=1", Some(&minted)).0, 200);

    // The simulator's poison records were dead-lettered, not dropped.
    let log = eventually(60, "dead letters", || {
        let out = run(dir.path(), &["dlq", "list"]);
        let text = stdout(&out);
        (out.status.success() && !text.trim().is_empty()).then_some(text)
    });
    let letter: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(letter["kind"], "contrail.dead-letter/v1");

    let closing = stack.stop();
    assert!(closing.contains("fed "), "no closing summary: {closing}");
    assert_secret_files_are_private(dir.path());
}

fn token_in(dir: &Path) -> String {
    token(dir, &[])
}

#[cfg(unix)]
fn assert_secret_files_are_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    for name in ["jwt-hs256.secret", "cursor.secret"] {
        let meta = std::fs::metadata(dir.join(".contrail").join(name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }
    assert!(dir.join(".contrail/contrail.db").is_file());
}

#[cfg(not(unix))]
fn assert_secret_files_are_private(_: &Path) {}

#[test]
fn the_front_answers_401_and_403_like_api_gateway() {
    let dir = workdir();
    let stack = Stack::start(dir.path(), &["--no-simulate"]);

    let (status, body) = stack.get("/flights", None);
    assert_eq!((status, body.clone()), (401, serde_json::json!({"message": "Unauthorized"})), "{body}");
    let (status, _) = stack.get("/flights", Some("not-a-jwt"));
    assert_eq!(status, 401);

    let other_audience = {
        let out = contrail(dir.path()).args(["token"]).env("JWT_AUDIENCE", "someone-else").output().unwrap();
        stdout(&out).trim().to_owned()
    };
    assert_eq!(stack.get("/flights", Some(&other_audience)).0, 401);

    let no_scope = token(dir.path(), &["--scope", "profile"]);
    let (status, body) = stack.get("/flights", Some(&no_scope));
    assert_eq!(status, 403, "{body}");
    assert!(body.is_object(), "403 is JSON: {body}");
    assert_eq!(stack.get("/positions", Some(&no_scope)).0, 403, "/positions needs flights:read");

    let good = token(dir.path(), &["--sub", "alice"]);
    assert_eq!(stack.get("/flights", Some(&good)).0, 200);
    // The same token again is served from the authorizer result cache, on another route.
    assert_eq!(stack.get("/stats?date=2026-11-20", Some(&good)).0, 200);
    let (status, body) = stack.get("/positions?bbox=170,-30,-170,30", Some(&good));
    assert_eq!((status, body.clone()), (200, serde_json::json!({"items": [], "next_cursor": null})), "{body}");
    let (status, body) = stack.get("/nowhere", Some(&good));
    assert_eq!(status, 404);
    assert!(body["error"]["code"].is_string(), "{body}");

    let (status, body) = stack.get("/health", None);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[test]
fn cors_preflight_and_the_web_board_need_no_token() {
    let dir = workdir();
    let stack = Stack::start(dir.path(), &["--no-simulate"]);
    let preflight = |origin: &str| {
        request(
            "OPTIONS",
            &stack.url("/flights"),
            None,
            &[("Origin", origin), ("Access-Control-Request-Method", "GET")],
        )
        .unwrap()
    };
    // By default only the board's own origin may read the API from a browser.
    let own = stack.base.clone();
    let (status, headers) = preflight(&own);
    assert!((200..300).contains(&status), "{status} {headers}");
    assert!(headers.to_ascii_lowercase().contains(&format!("access-control-allow-origin: {own}")), "{headers}");
    let (_, headers) = preflight("https://board.example");
    assert!(!headers.to_ascii_lowercase().contains("access-control-allow-origin"), "{headers}");
    let token = stack.dev_token.clone().unwrap();
    let auth = format!("Bearer {token}");
    let (status, headers, _) = exchange(
        "GET",
        &stack.url("/flights?limit=1"),
        &[("Authorization", auth.as_str()), ("Origin", "https://board.example")],
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(!headers.contains("access-control-allow-origin"), "{headers}");

    // The board loads /config.js as a same-origin script: it gets the dev token.
    let referer = format!("{own}/");
    let board = [("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Dest", "script"), ("Referer", referer.as_str())];
    let (status, headers, config) = exchange("GET", &stack.url("/config.js"), &board).unwrap();
    assert_eq!(status, 200);
    assert!(config.contains("window.CONTRAIL_CONFIG") && config.contains(&token), "{config}");
    assert!(!headers.contains("access-control-"), "{headers}");
    assert!(headers.contains("cross-origin-resource-policy: same-origin"), "{headers}");
    let (status, page) = blocking_get(&stack.url("/"), None).unwrap();
    assert_eq!(status, 200);
    assert!(page.to_ascii_lowercase().contains("<html"), "{page}");
}

#[test]
fn config_js_gives_the_dev_token_only_to_the_boards_own_pages_and_never_with_cors_headers() {
    let dir = workdir();
    let stack = Stack::start(dir.path(), &["--no-simulate"]);
    let token = stack.dev_token.clone().unwrap();
    // A port the stack cannot be on: it is held, and the stack holds its own.
    let elsewhere = contrail_testkit::ClosedPort::new();
    let other_port = format!("http://localhost:{}/", elsewhere.port);
    let not_the_board: [&[(&str, &str)]; 7] = [
        // No proof at all (curl, or a browser that sends neither header).
        &[],
        // Another site's <script src=".../config.js">.
        &[("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Dest", "script"), ("Referer", "https://evil.example/")],
        // Another local server (same site, other port).
        &[("Sec-Fetch-Site", "same-site"), ("Referer", other_port.as_str())],
        // Typed into the address bar: the board never loads it that way.
        &[("Sec-Fetch-Site", "none")],
        &[("Origin", "https://evil.example")],
        &[("Referer", "https://evil.example/board")],
        // Signals that disagree.
        &[("Sec-Fetch-Site", "same-origin"), ("Origin", "https://evil.example")],
    ];
    for headers in not_the_board {
        let (status, response_headers, config) = exchange("GET", &stack.url("/config.js"), headers).unwrap();
        assert_eq!(status, 200, "{headers:?}");
        assert!(config.contains("window.CONTRAIL_CONFIG"), "{headers:?}: {config}");
        assert!(!config.contains(&token), "{headers:?} got the dev token: {config}");
        assert!(!response_headers.contains("access-control-"), "{headers:?}: {response_headers}");
    }
}

#[test]
fn requests_that_name_another_host_are_refused_against_dns_rebinding() {
    let dir = workdir();
    let stack = Stack::start(dir.path(), &["--no-simulate"]);
    let port = stack.base.rsplit(':').next().unwrap().to_owned();
    let token = stack.dev_token.clone().unwrap();
    let auth = format!("Bearer {token}");
    for host in [format!("rebind.evil.example:{port}"), format!("localhost.evil.example:{port}"), "localhost".into()] {
        for path in ["/health", "/config.js", "/", "/flights"] {
            let (status, headers, body) =
                exchange("GET", &stack.url(path), &[("Host", host.as_str()), ("Authorization", auth.as_str())])
                    .unwrap();
            assert_eq!(status, 421, "{host} {path}: {body}");
            assert!(headers.contains("content-type: application/json"), "{headers}");
            let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            assert_eq!(body["error"]["code"], "host_not_allowed", "{body}");
            assert!(!body.to_string().contains(&token));
        }
    }
    // The listen address and localhost on its port are this server.
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let (status, _, body) = exchange("GET", &stack.url("/health"), &[("Host", host.as_str())]).unwrap();
        assert_eq!(status, 200, "{host}: {body}");
    }
}

#[test]
fn replay_into_postgres_then_up_serves_exactly_the_replayed_flights() {
    let Some(url) = contrail_testkit::postgres::fresh_database() else { return };
    let dir = workdir();
    let fx = fixture();
    let mut lines = fx.lines.clone();
    lines.push(fx.lines[2].clone());
    lines.push(r#"{"schema_version":1,"event_id":"bad","carrier":"u1"}"#.to_owned());
    lines.push("this is not json".to_owned());
    let file = write_lines(dir.path(), "events.jsonl", &lines);

    let out = run(dir.path(), &["replay", file.to_str().unwrap(), "--database-url", &url, "--batch-size", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(summary["records"], lines.len());
    assert_eq!(summary["stored"], fx.lines.len());
    assert_eq!(summary["duplicates"], 1);
    assert_eq!(summary["dead_lettered"], 2);
    assert!(stderr(&out).contains("replay"), "progress on stderr: {}", stderr(&out));

    let again = run(dir.path(), &["replay", file.to_str().unwrap(), "--database-url", &url]);
    let again: Value = serde_json::from_str(stdout(&again).trim()).unwrap();
    assert_eq!(again["stored"], 0, "a replay stores nothing new: {again}");

    let stack = Stack::start(dir.path(), &["--no-simulate", "--database-url", &url]);
    let token = stack.dev_token.clone().unwrap();
    let (status, page) = stack.get(&format!("/flights?date={}&limit=50", fx.date), Some(&token));
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = items(&page).iter().map(|f| f["flight_id"].as_str().unwrap()).collect();
    assert_eq!(ids, fx.flights.iter().map(String::as_str).collect::<Vec<_>>());
    for f in items(&page) {
        assert_eq!(f["status"], "arrived");
        assert_eq!(f["departure_delay_minutes"].as_f64(), Some(7.0));
    }
    let (_, history) = stack.get(&format!("/flights/{}/events", fx.flights[0]), Some(&token));
    assert_eq!(items(&history).len(), 6);
    drop(stack);

    let letters = run(dir.path(), &["dlq", "list", "--database-url", &url]);
    assert_eq!(stdout(&letters).lines().count(), 4, "two poison lines, replayed twice at new offsets");
    let report = run(dir.path(), &["redrive", "--dry-run", "--database-url", &url]);
    assert!(report.status.success(), "{}", stderr(&report));
    let report: Value = serde_json::from_str(&stdout(&report)).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["replayed"], 0);
    assert_eq!(report["still_failing"].as_array().unwrap().len(), 4);
}

#[test]
fn up_on_postgres_ingests_the_simulator_feed() {
    let Some(url) = contrail_testkit::postgres::fresh_database() else { return };
    let dir = workdir();
    let stack = Stack::start(dir.path(), &["--database-url", &url, "--rate", "2000", "--batch-window", "100"]);
    let token = stack.dev_token.clone().unwrap();
    let page = eventually(60, "flights in PostgreSQL", || {
        let (status, body) = stack.get("/flights?limit=5", Some(&token));
        (status == 200 && items(&body).len() == 5).then_some(body)
    });
    let id = items(&page)[0]["flight_id"].as_str().unwrap().to_owned();
    assert_eq!(stack.get(&format!("/flights/{id}"), Some(&token)).0, 200);
    let closing = stack.stop();
    assert!(closing.contains("fed "), "{closing}");
    assert!(!dir.path().join(".contrail/contrail.db").exists(), "PostgreSQL runs create no SQLite file");
}

#[test]
fn a_taken_port_is_a_one_line_error() {
    let dir = workdir();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let out = run(dir.path(), &["up", "--no-simulate", "--listen", &addr]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot listen on") && err.contains("taken"), "{err}");
}

#[test]
fn an_unreachable_database_is_a_one_line_error() {
    let dir = workdir();
    let closed = contrail_testkit::ClosedPort::new();
    let url = format!("postgres://nobody@127.0.0.1:{}/none", closed.port);
    let out = run(dir.path(), &["migrate", "--database-url", &url]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: database") && err.contains("unreachable"), "{err}");
}

/// The audit only reads: a mistyped SQLite path is an error naming it, not an empty database that audits clean.
#[test]
fn an_audit_of_a_database_that_is_not_there_fails_and_creates_nothing() {
    let dir = workdir();
    let out = run(dir.path(), &["audit", "--database-url", "sqlite://elsewhere/contrail.db"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("sqlite://elsewhere/contrail.db"), "{err}");
    assert!(!dir.path().join("elsewhere").exists(), "the audit created the database's directory");
}

#[test]
fn migrate_creates_the_local_database_and_reports_it() {
    let dir = workdir();
    let out = run(dir.path(), &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("sqlite://.contrail/contrail.db"));
    assert!(dir.path().join(".contrail/contrail.db").is_file());
}

#[test]
fn every_command_has_help() {
    let dir = workdir();
    for cmd in [
        vec!["--help"],
        vec!["up", "--help"],
        vec!["invoke", "--help"],
        vec!["token", "--help"],
        vec!["replay", "--help"],
        vec!["migrate", "--help"],
        vec!["dlq", "list", "--help"],
        vec!["redrive", "--help"],
        vec!["audit", "--help"],
    ] {
        let out = run(dir.path(), &cmd);
        assert!(out.status.success(), "{cmd:?}");
        assert!(stdout(&out).contains("Usage:"), "{cmd:?}");
    }
}

/// The local log continues from one run to the next (and `replay` shares it), so the ledger of the embedded
/// stack is one contiguous log per partition and `contrail audit` passes after several runs.
#[test]
fn runs_of_up_and_a_replay_leave_a_ledger_without_gaps() {
    let dir = workdir();
    let audited = |dir: &Path| audit_json(dir, &[]);
    let records = |partitions: &[Value]| partitions.iter().map(|p| p["records"].as_u64().unwrap()).sum::<u64>();
    let mut seen = 0;
    for _ in 0..2 {
        let stack = Stack::start(dir.path(), &["--rate", "500", "--batch-window", "100"]);
        seen = eventually(30, "more records in the ledger", || {
            let (_, partitions, _) = audited(dir.path());
            (partitions.len() == 3 && records(&partitions) > seen).then(|| records(&partitions))
        });
        stack.stop();
    }
    let file = write_lines(dir.path(), "replay.jsonl", &fixture().lines);
    let out = run(dir.path(), &["replay", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (ok, partitions, err) = audited(dir.path());
    assert!(ok, "{err}\n{partitions:#?}");
    assert_eq!(partitions.len(), 3, "{partitions:#?}");
    for p in &partitions {
        assert_eq!(p["covered"].as_array().map(Vec::len), Some(1), "one contiguous range: {p}");
        assert_eq!(p["gaps"], serde_json::json!([]), "{p}");
    }
    assert!(records(&partitions) >= seen + fixture().lines.len() as u64, "{partitions:#?}");
}
