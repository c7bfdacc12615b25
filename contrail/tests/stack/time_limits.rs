//! The local stack reads `INGEST_MAX_FUTURE_SKEW_SECONDS` and `HISTORY_RETENTION_MONTHS` with the ingest
//! function's own reader and defaults: `replay` and `invoke ingest` refuse the event times the function
//! refuses, and a bad value is the function's configuration error.

use crate::common::*;
use chrono::{Duration, Utc};
use contrail_testkit::flight::FlightEvent;
use serde_json::Value;

fn line(event_id: &str, event_time: &str) -> String {
    FlightEvent::new(event_id, "UA1545", "scheduled", event_time).date("2013-01-01").to_string()
}

fn replay(dir: &std::path::Path, file: &std::path::Path, env: &[(&str, &str)]) -> (Value, Vec<Value>) {
    let db = format!("sqlite://{}", dir.join("limits.db").display());
    let mut cmd = contrail(dir);
    cmd.args(["replay", file.to_str().unwrap(), "--database-url", &db]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let letters = run(dir, &["dlq", "list", "--database-url", &db]);
    let letters = stdout(&letters).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (summary, letters)
}

#[test]
fn replay_keeps_history_without_retention_and_refuses_far_future_times() {
    let dir = workdir();
    let file = write_lines(
        dir.path(),
        "events.jsonl",
        &[line("old", "2013-01-01T10:00:00Z"), line("far", "9999-12-31T00:00:00Z")],
    );
    let (summary, letters) = replay(dir.path(), &file, &[]);
    assert_eq!((summary["stored"].as_u64(), summary["dead_lettered"].as_u64()), (Some(1), Some(1)), "{summary}");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["reason"], "event_time_out_of_range", "{}", letters[0]);
    assert!(letters[0]["detail"].as_str().unwrap().contains("INGEST_MAX_FUTURE_SKEW_SECONDS=900"), "{}", letters[0]);
}

#[test]
fn replay_honours_retention_and_the_skew_as_the_function_does() {
    let dir = workdir();
    let soon = (Utc::now() + Duration::seconds(120)).to_rfc3339();
    let file = write_lines(dir.path(), "events.jsonl", &[line("old", "2013-01-01T10:00:00Z"), line("soon", &soon)]);
    let env = [("HISTORY_RETENTION_MONTHS", "12"), ("INGEST_MAX_FUTURE_SKEW_SECONDS", "60")];
    let (summary, letters) = replay(dir.path(), &file, &env);
    assert_eq!((summary["stored"].as_u64(), summary["dead_lettered"].as_u64()), (Some(0), Some(2)), "{summary}");
    let details: Vec<&str> = letters.iter().map(|l| l["detail"].as_str().unwrap()).collect();
    assert!(details[0].contains("before the retention horizon") && details[0].contains("HISTORY_RETENTION_MONTHS=12"));
    assert!(details[1].contains("INGEST_MAX_FUTURE_SKEW_SECONDS=60"), "{details:?}");
}

#[test]
fn invoke_ingest_refuses_a_bad_limit_as_the_function_does() {
    let dir = workdir();
    let event = contrail_testkit::workspace_root().join("events/msk-flight-batch.json");
    for (var, value) in [("INGEST_MAX_FUTURE_SKEW_SECONDS", "soon"), ("HISTORY_RETENTION_MONTHS", "-1")] {
        let out = contrail(dir.path())
            .args(["invoke", "ingest", "--event", event.to_str().unwrap()])
            .env(var, value)
            .output();
        let out = out.unwrap();
        assert_eq!(out.status.code(), Some(1), "{var}={value}");
        assert!(stderr(&out).trim().starts_with("error:") && stderr(&out).contains(var), "{}", stderr(&out));
    }
}

/// The simulator's clock runs about a hundred times faster than the wall clock at its default rate, and the
/// ingest handler dead-letters events dated beyond `INGEST_MAX_FUTURE_SKEW_SECONDS`. Flat out, the feed
/// replays its three hours of backlog at full rate, then waits for the wall clock instead of dating events
/// hours ahead: nothing it produces is refused for its time.
#[test]
fn the_simulator_flat_out_never_dates_events_beyond_the_future_skew_bound() {
    let dir = workdir();
    let stack = Stack::start(dir.path(), &["--rate", "20000", "--batch-window", "100"]);
    std::thread::sleep(std::time::Duration::from_secs(8));
    let closing = stack.stop();
    let fed = closing.lines().find(|l| l.starts_with("fed ")).unwrap_or_else(|| panic!("no summary: {closing}"));
    let count = |label: &str| -> u64 {
        let at = fed.find(label).unwrap_or_else(|| panic!("no {label} in {fed}")) + label.len();
        fed[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()).unwrap()
    };
    let (stored, dead) = (count("stored"), count("dead-lettered"));
    assert!(stored >= 2_000, "the backlog is fed at full rate: {fed}");
    let out = run(dir.path(), &["dlq", "list", "--limit", "100000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let letters: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let late: Vec<&Value> = letters.iter().filter(|l| l["reason"] == "event_time_out_of_range").collect();
    assert!(late.is_empty(), "{} of {} letters dated too far ahead, e.g. {}", late.len(), dead, late[0]);
    assert_eq!(letters.len() as u64, dead, "every letter listed: {fed}");
}
