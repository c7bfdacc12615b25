//! The sample events in `events/apigw-*.json` (the same files `contrail invoke` and `cargo lambda invoke`
//! take) run through the handler on fixture data: REST proxy events through stage `prod`, with the
//! authorizer's context, and an HTTP API v2 event whose raw path carries the stage.

use crate::common::*;
use contrail_query::caller::Caller;

/// Every API Gateway proxy event under `events/` (authorizer events there are skipped: no requestContext).
fn proxy_events() -> Vec<(String, String)> {
    let dir = contrail_testkit::workspace_root().join("events");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("events/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("apigw-") && n.ends_with(".json"))
        .map(|n| {
            let text = contrail_testkit::event_file(&n);
            (n, text)
        })
        .filter(|(_, text)| {
            serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.get("requestContext").is_some())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn every_sample_event_is_answered_as_its_route_promises() {
    let events = proxy_events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "apigw-health.json",
        "apigw-health-ready.json",
        "apigw-list-flights.json",
        "apigw-get-flight.json",
        "apigw-flight-events.json",
        "apigw-departures.json",
        "apigw-arrivals.json",
        "apigw-stats.json",
        "apigw-positions.json",
        "apigw-preflight.json",
        "apigw-v2-get-flight.json",
    ] {
        assert!(names.contains(&expected), "missing sample {expected}");
    }
    for db in engines().await {
        let mut flights = fixture_flights();
        let mut sample = flights[0].clone();
        sample.number = "1545".into();
        flights.push(sample);
        load(&db.store, &flights).await;
        let state = state(&db.store);
        for (name, text) in &events {
            let req = lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let caller = Caller::from_request(&req);
            let is_preflight = req.method() == http::Method::OPTIONS;
            if name != "apigw-health.json" && !is_preflight {
                assert_eq!(caller.principal.as_deref(), Some("board-app"), "{name}: principal from the authorizer");
                assert_eq!(caller.scopes.as_deref(), Some("flights:read"), "{name}");
                assert!(caller.request_id.is_some(), "{name}");
            }
            let a = call(&state, req).await;
            let want = if is_preflight { 204 } else { 200 };
            assert_eq!(a.status, want, "{} {name}: {}", db.name(), a.body);
            if want == 200 {
                let v = a.json();
                let non_empty = v.get("items").and_then(|i| i.as_array()).is_none_or(|i| !i.is_empty());
                assert!(non_empty, "{} {name}: the sample finds fixture data: {}", db.name(), a.body);
            } else {
                assert_eq!(a.header("access-control-allow-origin"), Some(BOARD_ORIGIN), "{name}");
            }
        }
    }
}

#[tokio::test]
async fn the_stage_is_not_part_of_the_route_on_either_payload_version() {
    for db in engines().await {
        let state = state(&db.store);
        let v1 = lambda_http::request::from_str(&contrail_testkit::event_file("apigw-health.json")).unwrap();
        assert_eq!(v1.uri().path(), "/prod/health", "the runtime puts the stage in the URI of REST events");
        assert_eq!(call(&state, v1).await.status, 200);
        let text = contrail_testkit::event_file("apigw-v2-get-flight.json")
            .replace("/prod/flights/UA1545-2013-01-01-EWR", "/prod/health")
            .replace("GET /flights/{flight_id}", "GET /health");
        let v2 = lambda_http::request::from_str(&text).unwrap();
        assert_eq!(call(&state, v2).await.status, 200, "{}", db.name());
    }
}
