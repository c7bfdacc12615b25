//! The Kafka path against a real Kafka-protocol broker (librdkafka's mock cluster, in this process):
//! produce with `replay --kafka`, consume with `up --kafka` in a group, commit only after ingest
//! succeeded, restart and resume without loss or duplication.

#![cfg(feature = "kafka")]

use std::time::Duration;

use crate::common::*;
use serde_json::Value;

const TOPIC: &str = "flight-data";
const GROUP: &str = "contrail-e2e";

fn committed_total(brokers: &str) -> i64 {
    committed_offsets(brokers, TOPIC, GROUP, 3)
}

fn history_len(stack: &Stack, token: &str, id: &str) -> usize {
    let (status, body) = stack.get(&format!("/flights/{id}/events?limit=500"), Some(token));
    if status == 404 {
        return 0;
    }
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().map_or(0, Vec::len)
}

fn fed_records(closing: &str) -> u64 {
    let line = closing.lines().find(|l| l.starts_with("fed ")).unwrap_or_else(|| panic!("no summary: {closing}"));
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap()
}

#[test]
fn kafka_consumer_commits_after_ingest_and_resumes_without_loss_or_duplication() {
    let (_cluster, brokers) = mock_topic(TOPIC);
    let dir = workdir();
    let fx = fixture();
    let (first, second) = fx.lines.split_at(9);

    let file = write_lines(dir.path(), "first.jsonl", first);
    let out = run(dir.path(), &["replay", file.to_str().unwrap(), "--kafka", &brokers, "--topic", TOPIC]);
    assert!(out.status.success(), "{}", stderr(&out));
    let produced: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(produced["produced"], first.len());

    let kafka_args = ["--kafka", brokers.as_str(), "--topic", TOPIC, "--group", GROUP, "--batch-window", "100"];
    let stack = Stack::start(dir.path(), &kafka_args);
    let token = stack.dev_token.clone().unwrap();
    eventually(60, "the first records committed", || (committed_total(&brokers) == first.len() as i64).then_some(()));
    let stored_first: usize = fx.flights.iter().map(|id| history_len(&stack, &token, id)).sum();
    assert_eq!(stored_first, first.len());
    let closing = stack.stop();
    assert_eq!(fed_records(&closing), first.len() as u64);

    // While the stack is down, more events arrive; a restart reads only those.
    let file = write_lines(dir.path(), "second.jsonl", second);
    let out = run(dir.path(), &["replay", file.to_str().unwrap(), "--kafka", &brokers, "--topic", TOPIC]);
    assert!(out.status.success(), "{}", stderr(&out));

    let stack = Stack::start(dir.path(), &kafka_args);
    eventually(60, "all records committed", || (committed_total(&brokers) == fx.lines.len() as i64).then_some(()));
    let stored: usize = fx.flights.iter().map(|id| history_len(&stack, &token, id)).sum();
    assert_eq!(stored, fx.lines.len(), "every event stored exactly once");
    let (_, flight) = stack.get(&format!("/flights/{}", fx.flights[2]), Some(&token));
    assert_eq!(flight["status"], "arrived");
    let closing = stack.stop();
    assert_eq!(fed_records(&closing), second.len() as u64, "the restart resumed at the committed offsets");
}

#[test]
fn an_unreachable_broker_is_a_one_line_error() {
    let dir = workdir();
    let closed = contrail_testkit::ClosedPort::new();
    let file = write_lines(dir.path(), "x.jsonl", &fixture().lines[..1]);
    let out = run(dir.path(), &["replay", file.to_str().unwrap(), "--kafka", &format!("127.0.0.1:{}", closed.port)]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.trim().starts_with("error: Kafka broker unreachable at"), "{err}");
    assert_eq!(err.trim().lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
}

#[test]
fn a_failing_batch_is_retried_and_its_offsets_are_not_committed_until_it_stores() {
    let server = match contrail_testkit::postgres::PgServer::start() {
        Ok(s) => s,
        Err(why) => {
            contrail_testkit::skip("PostgreSQL", &why);
            return;
        }
    };
    let url = server.url("postgres");
    let (_cluster, brokers) = mock_topic(TOPIC);
    let dir = workdir();
    let fx = fixture();
    let kafka_args = [
        "--kafka",
        brokers.as_str(),
        "--topic",
        TOPIC,
        "--group",
        GROUP,
        "--batch-window",
        "100",
        "--database-url",
        &url,
    ];
    let stack = Stack::start(dir.path(), &kafka_args);
    let token = stack.dev_token.clone().unwrap();

    // The test cluster commits asynchronously; make the migrated schema durable before the crash.
    let psql = contrail_testkit::postgres::find_bindir().map(|b| b.join("psql")).expect("psql");
    let checkpoint = std::process::Command::new(psql).args(["-X", "-q", "-d", &url, "-c", "CHECKPOINT"]).status();
    assert!(checkpoint.is_ok_and(|s| s.success()), "CHECKPOINT failed");
    server.stop().expect("stopping PostgreSQL");
    let file = write_lines(dir.path(), "all.jsonl", &fx.lines);
    let out = run(dir.path(), &["replay", file.to_str().unwrap(), "--kafka", &brokers, "--topic", TOPIC]);
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(60, "a failed ingest attempt", || stack.stderr_text().contains("will be retried").then_some(()));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(committed_total(&brokers), 0, "nothing is committed while the database is down");

    server.start_again().expect("restarting PostgreSQL");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while committed_total(&brokers) != fx.lines.len() as i64 {
        let log = stack.stderr_text();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        assert!(std::time::Instant::now() < deadline, "the retried batches were not committed: {tail:#?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let stored: usize = fx.flights.iter().map(|id| history_len(&stack, &token, id)).sum();
    assert_eq!(stored, fx.lines.len(), "every event stored exactly once after the outage");
    let closing = stack.stop();
    assert_eq!(fed_records(&closing), fx.lines.len() as u64);
}
