//! `api/openapi.yaml` against the running code: every route, parameter and error code the spec names
//! exists, and real responses validate against the spec's schemas, so the two cannot drift apart.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::*;
use contrail_query::error::ErrorCode;

fn spec() -> Value {
    let text = std::fs::read_to_string(contrail_testkit::workspace_root().join("api/openapi.yaml")).expect("spec");
    serde_norway::from_str(&text).expect("the spec is YAML")
}

/// Resolves a local `$ref` (one level, as the spec uses them for responses and parameters).
fn deref<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => spec.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

/// Validates `body` against the JSON schema documented for `template`'s GET answering `status`.
fn check(spec: &Value, template: &str, status: u16, answer: &Answer) {
    let op = &spec["paths"][template]["get"];
    assert!(op.is_object(), "{template} is not in the spec");
    let response = op["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{template} answered {status}, which the spec does not document: {}", answer.body));
    let response = deref(spec, response);
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        if header["required"] == true {
            assert!(answer.header(name).is_some(), "{template} {status} lacks the required header {name}");
        }
    }
    if status == 304 {
        assert!(answer.body.is_empty());
        return;
    }
    if status == 200 {
        let etag = answer.header("etag").expect("ETag on every 200");
        assert!(etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    }
    let schema = response["content"]["application/json"]["schema"].clone();
    assert!(schema.is_object(), "{template} {status} has no JSON schema");
    let mut root = schema;
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["components"] = spec["components"].clone();
    let validator = jsonschema::draft202012::new(&root).expect("the spec's schemas compile");
    let body: Value = serde_json::from_str(&answer.body).expect("JSON body");
    let errors: Vec<String> = validator.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{template} {status} violates the spec: {errors:?}\n{}", answer.body);
}

#[test]
fn the_spec_names_exactly_the_routes_and_error_codes_the_code_serves() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    let paths: BTreeSet<&str> = spec["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    let routes: BTreeSet<&str> = [
        "/health",
        "/health/ready",
        "/flights",
        "/flights/{flight_id}",
        "/flights/{flight_id}/events",
        "/airports/{code}/departures",
        "/airports/{code}/arrivals",
        "/stats",
        "/positions",
    ]
    .into_iter()
    .collect();
    assert_eq!(paths, routes);
    for route in &routes {
        let path = route.replace("{flight_id}", "UA1-2013-01-01-EWR").replace("{code}", "EWR");
        let parsed = contrail_query::route::Route::parse(&path).unwrap_or_else(|| panic!("{route} is not routed"));
        assert_eq!(parsed.template(), *route);
    }
    let documented: BTreeSet<&str> =
        spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
    let coded: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, coded);
    assert_eq!(spec["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(spec["paths"]["/health"]["get"]["security"], json!([]), "health needs no token");
    assert!(spec["paths"]["/health/ready"]["get"].get("security").is_none(), "readiness needs the API's token");
}

/// A valid value for each documented query parameter.
fn sample(name: &str) -> &'static str {
    match name {
        "carrier" => "UA",
        "origin" => "EWR",
        "destination" => "IAH",
        "date" => "2013-01-01",
        "status" => "scheduled,arrived",
        "departing_after" => "2013-01-01T00:00:00Z",
        "departing_before" => "2013-01-02T00:00:00Z",
        "limit" => "10",
        "include" => "departed",
        "bbox" => "170,-90,-170.5,90",
        "group_by" => "hour",
        "airport" => "EWR",
        other => panic!("no sample for parameter {other}"),
    }
}

#[tokio::test]
async fn every_documented_parameter_is_accepted_and_responses_match_the_spec() {
    let spec = spec();
    for db in engines().await {
        let flights = fixture_flights();
        load(&db.store, &flights).await;
        let state = state(&db.store);
        let id = flights[6].id();
        for (template, op) in spec["paths"].as_object().unwrap() {
            let path = template.replace("{flight_id}", &id).replace("{code}", "EWR");
            let params: Vec<&Value> = op["get"]["parameters"]
                .as_array()
                .map(|p| p.iter().map(|p| deref(&spec, p)).collect())
                .unwrap_or_default();
            let query: Vec<(&str, &str)> = params
                .iter()
                .filter(|p| p["in"] == "query" && p["name"] != "cursor")
                .map(|p| {
                    let name = p["name"].as_str().unwrap();
                    (name, sample(name))
                })
                .collect();
            // All documented parameters at once: accepted, and the answer validates.
            let a = call(&state, get(&path, &query)).await;
            assert_eq!(a.status, 200, "{} {template} {query:?}: {}", db.name(), a.body);
            check(&spec, template, 200, &a);
            // Only the required ones.
            let required: Vec<(&str, &str)> = params
                .iter()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| (p["name"].as_str().unwrap(), sample(p["name"].as_str().unwrap())))
                .collect();
            let a = call(&state, get(&path, &required)).await;
            check(&spec, template, a.status, &a);
            // A parameter the spec does not name.
            let a = call(&state, get(&path, &[("undocumented", "1")])).await;
            assert_eq!(a.error_code(), "unknown_parameter");
            check(&spec, template, a.status, &a);
            // Conditional.
            let first = call(&state, get(&path, &required)).await;
            if first.status == 200 {
                let etag = first.header("etag").unwrap().to_owned();
                let a = call(&state, rest("GET", &path, &required, &[("If-None-Match", &etag)])).await;
                check(&spec, template, a.status, &a);
            }
            let a = call(&state, rest("POST", &path, &[], &[])).await;
            check(&spec, template, a.status, &a);
        }

        let removed_events = format!("/flights/{}/events", removed_flight().id());
        let pages = [
            ("/flights", "/flights", vec![("limit", "3")]),
            ("/airports/{code}/arrivals", "/airports/IAH/arrivals", vec![("date", "2013-01-01"), ("limit", "1")]),
            ("/flights/{flight_id}/events", removed_events.as_str(), vec![("limit", "1")]),
            ("/positions", "/positions", vec![("limit", "1")]),
        ];
        for (template, path, query) in pages {
            let a = call(&state, get(path, &query)).await;
            assert!(a.next_cursor().is_some());
            check(&spec, template, 200, &a);
        }
        let errors = [
            ("/flights", "/flights", vec![("limit", "0")]),
            ("/flights", "/flights", vec![("cursor", "xyz")]),
            ("/stats", "/stats", vec![]),
            ("/positions", "/positions", vec![("bbox", "0,10,1,5")]),
            ("/stats", "/stats", vec![("date", "2013-01-01"), ("airport", "EWR")]),
            ("/stats", "/stats", vec![("date", "2013-01-01"), ("group_by", "day")]),
            ("/flights/{flight_id}", "/flights/ZZ1-2013-01-01-EWR", vec![]),
            ("/flights/{flight_id}/events", "/flights/ZZ1-2013-01-01-EWR/events", vec![]),
        ];
        for grouping in ["hour", "carrier"] {
            for query in [vec![("date", "2013-01-01"), ("airport", "EWR")], vec![("date", "2013-01-01")]] {
                let mut q = query.clone();
                q.push(("group_by", grouping));
                let a = call(&state, get("/stats", &q)).await;
                assert_eq!(a.status, 200, "{} {q:?}: {}", db.name(), a.body);
                let groups = a.json()[if grouping == "hour" { "hours" } else { "carriers" }].clone();
                assert!(groups.as_array().is_some_and(|g| !g.is_empty()), "{q:?}: {}", a.body);
                check(&spec, "/stats", 200, &a);
            }
        }
        for (template, path, query) in errors {
            let a = call(&state, get(path, &query)).await;
            assert!(a.status >= 400);
            check(&spec, template, a.status, &a);
        }
    }
}

#[tokio::test]
async fn an_unavailable_database_answer_matches_the_spec() {
    let spec = spec();
    let closed = contrail_testkit::ClosedPort::new();
    let mut config =
        contrail_shared::config::DbConfig::from_url(format!("postgres://contrail@127.0.0.1:{}/nowhere", closed.port));
    config.connect_timeout = std::time::Duration::from_millis(300);
    let store = contrail_shared::storage::Store::connect(&config).await.unwrap();
    let state = state(&store);
    for (template, path) in [("/health/ready", "/health/ready"), ("/flights", "/flights")] {
        let a = call(&state, get(path, &[])).await;
        assert_eq!(a.status, 503);
        check(&spec, template, 503, &a);
    }
}
