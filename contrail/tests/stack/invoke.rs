//! `contrail invoke` on every sample event in `events/`, and on events made here with real tokens.

use crate::common::*;
use serde_json::Value;

/// Which function a sample event belongs to, by its file name.
fn function_for(name: &str) -> Option<&'static str> {
    if name.starts_with("msk-") || name.starts_with("self-managed-kafka-") {
        Some("ingest")
    } else if name.starts_with("apigw-") {
        Some("query")
    } else if name.starts_with("authorizer-") {
        Some("authorizer")
    } else if name.starts_with("sqs-") || name.starts_with("redrive-") || name.starts_with("esm-s3-") {
        Some("redrive")
    } else {
        None
    }
}

#[test]
fn invoke_runs_every_sample_event_and_answers_json_or_one_error_line() {
    let dir = workdir();
    let events = contrail_testkit::workspace_root().join("events");
    let mut ran = 0;
    for entry in std::fs::read_dir(&events).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(function) = function_for(&name) else { continue };
        let out = run(dir.path(), &["invoke", function, "--event", entry.path().to_str().unwrap()]);
        let (so, se) = (stdout(&out), stderr(&out));
        assert!(!se.contains("panicked"), "{name}: {se}");
        if out.status.success() {
            let v: Value =
                serde_json::from_str(&so).unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {so}"));
            match function {
                "ingest" => {
                    let sum = v["stored"].as_u64().unwrap()
                        + v["duplicates"].as_u64().unwrap()
                        + v["dead_lettered"].as_u64().unwrap();
                    assert_eq!(v["records"].as_u64().unwrap(), sum, "{name}: {v}");
                }
                "query" => assert!(v["statusCode"].as_u64().is_some_and(|s| s < 500), "{name}: {v}"),
                _ => {}
            }
        } else {
            assert!(so.trim().is_empty(), "{name}: a failure prints nothing on stdout: {so}");
            assert!(se.trim().starts_with("error:"), "{name}: {se}");
        }
        ran += 1;
    }
    assert!(ran >= 1, "no sample events found in {}", events.display());
}

#[test]
fn invoke_ingest_on_the_msk_sample_stores_then_counts_duplicates() {
    let dir = workdir();
    let sample = contrail_testkit::workspace_root().join("events/msk-flight-batch.json");
    if !sample.is_file() {
        contrail_testkit::skip("events/msk-flight-batch.json", "the ingest sample is not in the tree yet");
        return;
    }
    let first = run(dir.path(), &["invoke", "ingest", "--event", sample.to_str().unwrap()]);
    assert!(first.status.success(), "{}", stderr(&first));
    let first: Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert!(first["stored"].as_u64().unwrap() > 0, "{first}");
    let second = run(dir.path(), &["invoke", "ingest", "--event", sample.to_str().unwrap()]);
    let second: Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(second["stored"], 0, "the same batch again stores nothing: {second}");
    assert_eq!(second["records"], first["records"]);
}

#[test]
fn invoke_authorizer_allows_a_local_token_and_fails_with_unauthorized_otherwise() {
    let dir = workdir();
    let token = token(dir.path(), &["--sub", "bob"]);
    let arn = "arn:aws:execute-api:us-east-1:000000000000:contrail/local/GET/flights";
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        serde_json::json!({"type": "TOKEN", "authorizationToken": format!("Bearer {token}"), "methodArn": arn})
            .to_string(),
    )
    .unwrap();
    let out = run(dir.path(), &["invoke", "authorizer", "--event", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["principalId"], "bob");
    assert_eq!(v["policyDocument"]["Statement"][0]["Effect"], "Allow", "{v}");

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        serde_json::json!({"type": "TOKEN", "authorizationToken": "Bearer nope", "methodArn": arn}).to_string(),
    )
    .unwrap();
    let out = run(dir.path(), &["invoke", "authorizer", "--event", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "error: Unauthorized");
    assert!(stdout(&out).is_empty());
}

#[test]
fn invoke_query_answers_the_health_sample_with_200() {
    let dir = workdir();
    let sample = contrail_testkit::workspace_root().join("events/apigw-health.json");
    let out = run(dir.path(), &["invoke", "query", "--event", sample.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["statusCode"], 200, "{v}");
    let body: Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "ok");
}

#[test]
fn invoke_with_a_missing_event_file_is_a_one_line_error() {
    let dir = workdir();
    let out = run(dir.path(), &["invoke", "ingest", "--event", "does-not-exist.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: reading does-not-exist.json"), "{err}");
}
