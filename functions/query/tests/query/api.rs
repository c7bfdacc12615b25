//! The query API in process, on PostgreSQL and on SQLite, with fixture data stored through the ingest
//! decode path: every route, filter, ordering, error code and HTTP behaviour.

use std::collections::HashSet;

use chrono::Duration;
use serde_json::json;

use crate::common::*;

/// A query and the fixture flights it should select.
type FilterCase = (Vec<(&'static str, &'static str)>, Box<dyn Fn(&FixtureFlight) -> bool>);
/// A path, its query and the error code it must get.
type BadInput = (&'static str, Vec<(&'static str, &'static str)>, &'static str);

/// The fixture flights a filter should return, in the API's order.
fn expected(flights: &[FixtureFlight], keep: impl Fn(&FixtureFlight) -> bool) -> Vec<String> {
    let mut v: Vec<&FixtureFlight> = flights.iter().filter(|f| keep(f)).collect();
    v.sort_by_key(|f| (f.scheduled_departure, f.id()));
    v.into_iter().map(|f| f.id()).collect()
}

async fn loaded() -> Vec<(Db, Vec<FixtureFlight>)> {
    let mut out = Vec::new();
    for db in engines().await {
        let flights = fixture_flights();
        load(&db.store, &flights).await;
        out.push((db, flights));
    }
    out
}

#[tokio::test]
async fn flights_are_listed_in_departure_order_with_ties_broken_by_id_and_removed_flights_absent() {
    for (db, flights) in loaded().await {
        let state = state(&db.store);
        let a = call(&state, get("/flights", &[("limit", "500")])).await;
        assert_eq!(a.status, 200, "{}: {}", db.name(), a.body);
        assert_eq!(a.ids(), expected(&flights, |_| true), "{}", db.name());
        assert!(!a.ids().contains(&removed_flight().id()), "{}", db.name());
        assert_eq!(a.next_cursor(), None);
        assert_eq!(a.header("content-type"), Some("application/json; charset=utf-8"));
        assert_eq!(a.header("cache-control"), Some("private, max-age=5"));
        let default_page = call(&state, get("/flights", &[])).await;
        assert_eq!(default_page.ids().len(), 50, "{}: default limit", db.name());
    }
}

#[tokio::test]
async fn every_flights_filter_narrows_the_list_alone_and_combined() {
    for (db, flights) in loaded().await {
        let state = state(&db.store);
        let d1 = day(2013, 1, 1);
        let after = at(d1, 8, 0);
        let before = at(d1, 12, 0);
        let cases: Vec<FilterCase> = vec![
            (vec![("carrier", "B6")], Box::new(|f| f.carrier == "B6")),
            (vec![("origin", "JFK")], Box::new(|f| f.origin == "JFK")),
            (vec![("destination", "MIA")], Box::new(|f| f.destination == "MIA")),
            (vec![("date", "2013-01-02")], Box::new(|f| f.date == day(2013, 1, 2))),
            (vec![("status", "landed,arrived")], Box::new(|f| matches!(f.status, "landed" | "arrived"))),
            (vec![("departing_after", "2013-01-01T08:00:00Z")], Box::new(move |f| f.scheduled_departure >= after)),
            (vec![("departing_before", "2013-01-01T12:00:00Z")], Box::new(move |f| f.scheduled_departure < before)),
            (
                vec![("departing_after", "2013-01-01T10:00:00+02:00"), ("departing_before", "2013-01-01T12:00:00Z")],
                Box::new(move |f| f.scheduled_departure >= after && f.scheduled_departure < before),
            ),
            (
                vec![("date", "2013-01-01"), ("origin", "EWR"), ("carrier", "UA")],
                Box::new(move |f| f.date == d1 && f.origin == "EWR" && f.carrier == "UA"),
            ),
            (
                vec![("origin", "EWR"), ("destination", "IAH"), ("status", "cancelled")],
                Box::new(|f| f.origin == "EWR" && f.destination == "IAH" && f.status == "cancelled"),
            ),
        ];
        for (query, keep) in cases {
            let mut q = query.clone();
            q.push(("limit", "500"));
            let a = call(&state, get("/flights", &q)).await;
            assert_eq!(a.status, 200, "{} {query:?}: {}", db.name(), a.body);
            let want = expected(&flights, keep);
            assert!(!want.is_empty() || query.iter().any(|(k, _)| *k == "status"), "fixture covers {query:?}");
            assert_eq!(a.ids(), want, "{} {query:?}", db.name());
        }
    }
}

#[tokio::test]
async fn a_flight_is_served_with_every_contract_field_and_removed_or_unknown_ones_are_not_found() {
    for (db, flights) in loaded().await {
        let state = state(&db.store);
        let f = flights.iter().find(|f| f.status == "airborne").expect("an airborne flight");
        let a = call(&state, get(&format!("/flights/{}", f.id()), &[])).await;
        assert_eq!(a.status, 200, "{}: {}", db.name(), a.body);
        let v = a.json();
        let fields = [
            "flight_id",
            "carrier",
            "number",
            "date",
            "origin",
            "destination",
            "status",
            "scheduled_departure",
            "scheduled_arrival",
            "estimated_departure",
            "estimated_arrival",
            "actual_departure",
            "actual_arrival",
            "departure_delay_minutes",
            "arrival_delay_minutes",
            "tail_number",
            "gate",
            "terminal",
            "position",
            "updated_at",
        ];
        assert_eq!(v.as_object().unwrap().len(), fields.len(), "{}: {v}", db.name());
        for field in fields {
            assert!(v.get(field).is_some(), "{}: missing {field}", db.name());
        }
        assert_eq!(v["flight_id"], f.id());
        assert_eq!(v["status"], "airborne");
        assert_eq!(v["scheduled_departure"], f.scheduled_departure.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        assert_eq!(v["actual_arrival"], json!(null), "absent values are null");
        assert_eq!(v["departure_delay_minutes"].as_f64(), f.departure_delay.map(|d| d as f64));
        assert_eq!(v["position"]["altitude_ft"], 35000.0);
        let updated = (f.scheduled_departure + Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        assert_eq!(v["updated_at"], updated, "updated_at is the current snapshot's event time");

        let removed = call(&state, get(&format!("/flights/{}", removed_flight().id()), &[])).await;
        assert_eq!((removed.status, removed.error_code().as_str()), (404, "not_found"), "{}", db.name());
        let unknown = call(&state, get("/flights/ZZ1-2013-01-01-EWR", &[])).await;
        assert_eq!((unknown.status, unknown.error_code().as_str()), (404, "not_found"));
        let malformed = call(&state, get("/flights/not-a-flight", &[])).await;
        assert_eq!((malformed.status, malformed.error_code().as_str()), (400, "invalid_parameter"));
    }
}

#[tokio::test]
async fn history_lists_every_event_in_time_order_with_received_at_and_pages_through_it() {
    for (db, flights) in loaded().await {
        let state = state(&db.store);
        let f = &flights[7];
        let a = call(&state, get(&format!("/flights/{}/events", f.id()), &[])).await;
        assert_eq!(a.status, 200, "{}: {}", db.name(), a.body);
        let items = a.json()["items"].as_array().unwrap().clone();
        let ids: Vec<&str> = items.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
        assert_eq!(ids, [format!("{}-e1", f.id()), format!("{}-e2", f.id())], "{}", db.name());
        assert_eq!(items[1]["event"]["status"], f.status, "the event as received");
        assert_eq!(items[0]["event"]["status"], "scheduled");
        assert_eq!(items[1]["removed"], false);
        assert!(items[0]["received_at"].as_str().is_some_and(|t| t.ends_with('Z')));

        let first = call(&state, get(&format!("/flights/{}/events", f.id()), &[("limit", "1")])).await;
        let cursor = first.next_cursor().expect("a second page");
        let second =
            call(&state, get(&format!("/flights/{}/events", f.id()), &[("limit", "1"), ("cursor", &cursor)])).await;
        assert_eq!(second.json()["items"][0]["event_id"], format!("{}-e2", f.id()));
        assert_eq!(second.next_cursor(), None, "{}", db.name());

        let removed = call(&state, get(&format!("/flights/{}/events", removed_flight().id()), &[])).await;
        let items = removed.json()["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 2, "a removed flight keeps its history");
        assert_eq!(items[1]["removed"], true);
        assert_eq!(items[1]["event"], json!(null));

        let unknown = call(&state, get("/flights/ZZ1-2013-01-01-EWR/events", &[])).await;
        assert_eq!((unknown.status, unknown.error_code().as_str()), (404, "not_found"));
    }
}

#[tokio::test]
async fn boards_show_one_airport_and_day_in_scheduled_order_with_carrier_and_status_filters() {
    for (db, flights) in loaded().await {
        let state = state(&db.store);
        let d1 = day(2013, 1, 1);
        let dep = call(&state, get("/airports/EWR/departures", &[("date", "2013-01-01"), ("limit", "500")])).await;
        assert_eq!(dep.status, 200, "{}: {}", db.name(), dep.body);
        assert_eq!(dep.ids(), expected(&flights, |f| f.origin == "EWR" && f.date == d1), "{}", db.name());
        assert_eq!(dep.header("cache-control"), Some("private, max-age=5"));

        let arr = call(&state, get("/airports/MIA/arrivals", &[("date", "2013-01-01"), ("limit", "500")])).await;
        let mut want: Vec<&FixtureFlight> = flights.iter().filter(|f| f.destination == "MIA" && f.date == d1).collect();
        want.sort_by_key(|f| (f.scheduled_arrival, f.id()));
        let want: Vec<String> = want.iter().map(|f| f.id()).collect();
        assert!(want.len() > 3);
        assert_eq!(arr.ids(), want, "{}: arrivals in scheduled-arrival order", db.name());
        let by_departure = expected(&flights, |f| f.destination == "MIA" && f.date == d1);
        assert_ne!(want, by_departure, "the fixture orders arrivals differently from departures");

        let filtered = call(
            &state,
            get(
                "/airports/EWR/departures",
                &[("date", "2013-01-01"), ("carrier", "UA"), ("status", "scheduled,arrived")],
            ),
        )
        .await;
        let want = expected(&flights, |f| {
            f.origin == "EWR" && f.date == d1 && f.carrier == "UA" && matches!(f.status, "scheduled" | "arrived")
        });
        assert!(!want.is_empty());
        assert_eq!(filtered.ids(), want, "{}", db.name());

        let other_day = call(&state, get("/airports/EWR/departures", &[("date", "2013-01-03")])).await;
        assert_eq!(other_day.json(), json!({"items": [], "next_cursor": null}));
    }
}

#[tokio::test]
async fn stats_average_only_flights_with_actual_times_and_count_on_time_under_fifteen_minutes() {
    for db in engines().await {
        let d = day(2013, 2, 1);
        let base = |n: u32, status: &'static str, dep: Option<i64>, arr: Option<i64>| FixtureFlight {
            carrier: if n == 6 { "AA" } else { "UA" },
            number: n.to_string(),
            date: d,
            origin: "SFO",
            destination: if n == 6 { "SEA" } else { "LAX" },
            status,
            scheduled_departure: at(d, 8, n),
            scheduled_arrival: at(d, 10, n),
            departure_delay: dep,
            arrival_delay: arr,
            gate: None,
            with_position: false,
        };
        let flights = [
            base(1, "arrived", Some(10), Some(5)),
            base(2, "arrived", Some(20), Some(15)),
            base(3, "landed", Some(0), Some(-4)),
            base(4, "airborne", Some(30), None),
            base(5, "cancelled", None, None),
            base(6, "scheduled", None, None),
        ];
        let batch: Vec<_> = flights.iter().map(|f| f.snapshot(&format!("{}-s", f.id()), at(d, 7, 0))).collect();
        db.store.write_snapshots(&batch).await.unwrap();
        let gone = base(7, "arrived", Some(100), Some(100));
        db.store.write_snapshots(&[gone.snapshot("gone-1", at(d, 7, 0))]).await.unwrap();
        db.store
            .write_snapshots(&[contrail_shared::domain::Snapshot::Removal(contrail_shared::domain::Removal {
                flight_id: contrail_shared::domain::FlightId::parse(&gone.id()).unwrap(),
                event_id: "tombstone:flight-data-0@7".into(),
                event_time: at(d, 7, 30),
            })])
            .await
            .unwrap();
        let state = state(&db.store);

        let a = call(&state, get("/stats", &[("date", "2013-02-01")])).await;
        assert_eq!(a.status, 200, "{}: {}", db.name(), a.body);
        assert_eq!(
            a.json(),
            json!({
                "flights": 6,
                "by_status": {"airborne": 1, "arrived": 2, "cancelled": 1, "landed": 1, "scheduled": 1},
                "cancelled": 1,
                "avg_departure_delay_minutes": 15.0,
                "avg_arrival_delay_minutes": 5.33,
                "on_time_arrival_pct": 66.67,
            }),
            "{}",
            db.name()
        );
        assert_eq!(a.header("cache-control"), Some("private, max-age=5"));

        let narrowed = call(&state, get("/stats", &[("date", "2013-02-01"), ("carrier", "AA")])).await;
        assert_eq!(
            narrowed.json(),
            json!({"flights": 1, "by_status": {"scheduled": 1}, "cancelled": 0,
                   "avg_departure_delay_minutes": null, "avg_arrival_delay_minutes": null, "on_time_arrival_pct": null}),
            "{}: no actual times means null averages",
            db.name()
        );
        let by_route =
            call(&state, get("/stats", &[("date", "2013-02-01"), ("origin", "SFO"), ("destination", "LAX")])).await;
        assert_eq!(by_route.json()["flights"], 5);
        let empty = call(&state, get("/stats", &[("date", "2013-02-02")])).await;
        assert_eq!(empty.json()["flights"], 0);
        assert_eq!(empty.json()["by_status"], json!({}));
    }
}

/// Walks every page of `path` with `limit`, calling `between` after each page.
async fn walk(
    state: &contrail_query::State,
    path: &str,
    query: &[(&str, &str)],
    mut between: impl AsyncFnMut(usize),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let mut q = query.to_vec();
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let a = call(state, get(path, &q)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        seen.extend(a.ids());
        cursor = a.next_cursor();
        if cursor.is_none() {
            break;
        }
        between(page).await;
    }
    seen
}

#[tokio::test]
async fn a_pagination_walk_sees_every_row_exactly_once_while_flights_are_inserted_between_pages() {
    for (db, flights) in loaded().await {
        let state = state(&db.store);
        let before: HashSet<String> = flights.iter().map(|f| f.id()).collect();
        let store = db.store.clone();
        let mut inserted = Vec::new();
        let seen = walk(&state, "/flights", &[("limit", "7")], async |page| {
            // One flight before the walk's position (never seen) and one after it (seen once), per page.
            let mut early = fixture_flights()[0].clone();
            early.number = format!("{}", 7000 + page);
            early.scheduled_departure -= Duration::hours(3);
            let mut late = fixture_flights()[59].clone();
            late.number = format!("{}", 8000 + page);
            late.scheduled_departure += Duration::hours(3);
            store
                .write_snapshots(&[
                    early.snapshot(&format!("ins-e-{page}"), at(day(2013, 1, 1), 0, 0)),
                    late.snapshot(&format!("ins-l-{page}"), at(day(2013, 1, 1), 0, 0)),
                ])
                .await
                .unwrap();
            inserted.push(late.id());
        })
        .await;
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{}: a row appeared twice", db.name());
        for id in &before {
            assert!(seen.contains(id), "{}: {id} was skipped", db.name());
        }
        for id in &inserted {
            assert!(seen.contains(id), "{}: {id}, inserted ahead of the cursor, was not reached", db.name());
        }
        assert!(seen.iter().all(|id| !id.starts_with("UA70")), "{}: rows behind the cursor stay behind", db.name());
        assert!(inserted.len() >= 8, "the walk took several pages");
    }
}

#[tokio::test]
async fn board_and_history_walks_collect_every_row_exactly_once() {
    for (db, flights) in loaded().await {
        let state = state(&db.store);
        let seen =
            walk(&state, "/airports/MIA/arrivals", &[("date", "2013-01-01"), ("limit", "2")], async |_| {}).await;
        let want: HashSet<String> =
            flights.iter().filter(|f| f.destination == "MIA" && f.date == day(2013, 1, 1)).map(|f| f.id()).collect();
        assert_eq!(seen.len(), want.len(), "{}", db.name());
        assert_eq!(seen.into_iter().collect::<HashSet<_>>(), want);

        let ewr = walk(&state, "/flights", &[("origin", "EWR"), ("limit", "3")], async |_| {}).await;
        assert_eq!(ewr, expected(&flights, |f| f.origin == "EWR"), "{}", db.name());
    }
}

#[tokio::test]
async fn every_bad_input_is_a_400_with_its_stable_code() {
    for (db, _) in loaded().await {
        let state = state(&db.store);
        let cases: Vec<BadInput> = vec![
            ("/flights", vec![("colour", "red")], "unknown_parameter"),
            ("/flights/UA100-2013-01-01-EWR", vec![("limit", "5")], "unknown_parameter"),
            ("/health", vec![("verbose", "1")], "unknown_parameter"),
            ("/stats", vec![], "missing_parameter"),
            ("/airports/EWR/departures", vec![("carrier", "UA")], "missing_parameter"),
            ("/flights", vec![("date", "2013-02-30")], "invalid_parameter"),
            ("/flights", vec![("date", "01/01/2013")], "invalid_parameter"),
            ("/flights", vec![("carrier", "ual")], "invalid_parameter"),
            ("/flights", vec![("origin", "ewr")], "invalid_parameter"),
            ("/flights", vec![("destination", "NEWARK")], "invalid_parameter"),
            ("/flights", vec![("status", "flying")], "invalid_parameter"),
            ("/flights", vec![("departing_after", "yesterday")], "invalid_parameter"),
            ("/flights", vec![("departing_before", "2013-01-01T10:00:00")], "invalid_parameter"),
            ("/flights", vec![("limit", "0")], "invalid_parameter"),
            ("/flights", vec![("limit", "501")], "invalid_parameter"),
            ("/flights", vec![("limit", "abc")], "invalid_parameter"),
            ("/flights", vec![("carrier", "UA"), ("carrier", "AA")], "invalid_parameter"),
            ("/flights", vec![("origin", "'; DROP TABLE flights; --")], "invalid_parameter"),
            ("/airports/ewr/departures", vec![("date", "2013-01-01")], "invalid_parameter"),
            ("/airports/EWR/arrivals", vec![("date", "2013-01-01"), ("status", "")], "invalid_parameter"),
            ("/flights", vec![("cursor", "not-a-cursor")], "invalid_cursor"),
            ("/flights", vec![("cursor", "")], "invalid_cursor"),
        ];
        for (path, query, code) in cases {
            let a = call(&state, get(path, &query)).await;
            assert_eq!((a.status, a.error_code().as_str()), (400, code), "{} {path} {query:?}: {}", db.name(), a.body);
        }
    }
}

#[tokio::test]
async fn a_cursor_that_was_altered_or_reused_with_other_filters_or_another_route_is_refused() {
    for (db, _) in loaded().await {
        let state = state(&db.store);
        let first = call(&state, get("/flights", &[("origin", "EWR"), ("limit", "2")])).await;
        let cursor = first.next_cursor().expect("more pages");
        let ok = call(&state, get("/flights", &[("origin", "EWR"), ("limit", "5"), ("cursor", &cursor)])).await;
        assert_eq!(ok.status, 200, "the page size may change between pages");

        let mut chars: Vec<char> = cursor.chars().collect();
        let mid = chars.len() / 2;
        chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        let reuses = [
            ("/flights", vec![("origin", "EWR"), ("cursor", tampered.as_str())]),
            ("/flights", vec![("origin", "JFK"), ("cursor", cursor.as_str())]),
            ("/flights", vec![("cursor", cursor.as_str())]),
            ("/flights", vec![("origin", "EWR"), ("status", "arrived"), ("cursor", cursor.as_str())]),
            ("/airports/EWR/departures", vec![("date", "2013-01-01"), ("cursor", cursor.as_str())]),
            ("/flights/UA100-2013-01-01-EWR/events", vec![("cursor", cursor.as_str())]),
        ];
        for (path, query) in reuses {
            let a = call(&state, get(path, &query)).await;
            assert_eq!((a.status, a.error_code().as_str()), (400, "invalid_cursor"), "{} {path} {query:?}", db.name());
        }
        let other_key =
            contrail_query::State::new(db.store.clone(), b"another-secret-of-32-bytes-or-more!".to_vec(), "");
        let a = call(&other_key, get("/flights", &[("origin", "EWR"), ("cursor", &cursor)])).await;
        assert_eq!(a.error_code(), "invalid_cursor", "a cursor signed with another key");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_other_methods_405_with_allow() {
    for (db, _) in loaded().await {
        let state = state(&db.store);
        for path in ["/", "/flight", "/flights/", "/airports/EWR", "/airports/EWR/gates", "/stats/today"] {
            let a = call(&state, get(path, &[])).await;
            assert_eq!((a.status, a.error_code().as_str()), (404, "not_found"), "{path}");
        }
        for (method, path) in [("POST", "/flights"), ("DELETE", "/flights/UA100-2013-01-01-EWR"), ("PUT", "/health")] {
            let a = call(&state, rest(method, path, &[], &[])).await;
            assert_eq!((a.status, a.error_code().as_str()), (405, "method_not_allowed"), "{method} {path}");
            assert_eq!(a.header("allow"), Some("GET, HEAD, OPTIONS"));
        }
    }
}

#[tokio::test]
async fn a_matching_if_none_match_gets_a_304_and_a_change_gets_a_new_etag() {
    for (db, flights) in loaded().await {
        let state = state(&db.store);
        let path = format!("/flights/{}", flights[3].id());
        let first = call(&state, get(&path, &[])).await;
        let etag = first.header("etag").expect("an ETag on every 200").to_owned();
        assert!(etag.starts_with('"') && !etag.starts_with("W/"), "strong: {etag}");
        for sent in [etag.clone(), format!("\"other\", {etag}"), format!("W/{etag}"), "*".to_owned()] {
            let a = call(&state, rest("GET", &path, &[], &[("If-None-Match", &sent)])).await;
            assert_eq!(a.status, 304, "{} If-None-Match: {sent}", db.name());
            assert!(a.body.is_empty());
            assert_eq!(a.header("etag"), Some(etag.as_str()));
        }
        let stale = call(&state, rest("GET", &path, &[], &[("If-None-Match", "\"0000\"")])).await;
        assert_eq!(stale.status, 200);

        let mut changed = flights[3].clone();
        changed.gate = Some("Z9".into());
        db.store.write_snapshots(&[changed.snapshot("gate-change", at(day(2013, 1, 3), 0, 0))]).await.unwrap();
        let after = call(&state, rest("GET", &path, &[], &[("If-None-Match", &etag)])).await;
        assert_eq!(after.status, 200, "{}: the flight changed", db.name());
        assert_ne!(after.header("etag"), Some(etag.as_str()));
        assert_eq!(after.json()["gate"], "Z9");

        let list = call(&state, get("/flights", &[("origin", "EWR")])).await;
        let tag = list.header("etag").unwrap().to_owned();
        let again = call(&state, rest("GET", "/flights", &[("origin", "EWR")], &[("If-None-Match", &tag)])).await;
        assert_eq!(again.status, 304, "lists are conditional too");
    }
}

#[tokio::test]
async fn cors_headers_go_to_configured_origins_and_preflights_are_answered() {
    for (db, _) in loaded().await {
        let state = state(&db.store);
        let a = call(&state, rest("GET", "/flights", &[], &[("Origin", BOARD_ORIGIN)])).await;
        assert_eq!(a.header("access-control-allow-origin"), Some(BOARD_ORIGIN));
        assert_eq!(a.header("access-control-expose-headers"), Some("ETag, Retry-After"));
        assert_eq!(a.header("vary"), Some("Origin"));
        let err = call(&state, rest("GET", "/flights", &[("limit", "0")], &[("Origin", BOARD_ORIGIN)])).await;
        assert_eq!(err.header("access-control-allow-origin"), Some(BOARD_ORIGIN), "errors are readable too");
        let other = call(&state, rest("GET", "/flights", &[], &[("Origin", "https://evil.example")])).await;
        assert_eq!(other.header("access-control-allow-origin"), None);
        assert_eq!(other.header("vary"), Some("Origin"));

        let pre = call(
            &state,
            rest("OPTIONS", "/flights", &[], &[("Origin", BOARD_ORIGIN), ("Access-Control-Request-Method", "GET")]),
        )
        .await;
        assert_eq!(pre.status, 204);
        assert_eq!(pre.header("access-control-allow-origin"), Some(BOARD_ORIGIN));
        assert_eq!(pre.header("access-control-allow-methods"), Some("GET, HEAD, OPTIONS"));
        assert!(pre.header("access-control-allow-headers").unwrap().contains("Authorization"));
        let denied = call(&state, rest("OPTIONS", "/flights", &[], &[("Origin", "https://evil.example")])).await;
        assert_eq!(denied.status, 204);
        assert_eq!(denied.header("access-control-allow-methods"), None);
        let nowhere = call(&state, rest("OPTIONS", "/nowhere", &[], &[("Origin", BOARD_ORIGIN)])).await;
        assert_eq!(nowhere.status, 404);

        let any = contrail_query::State::new(db.store.clone(), SECRET, "*");
        let a = call(&any, rest("GET", "/health", &[], &[("Origin", "https://anyone.example")])).await;
        assert_eq!(a.header("access-control-allow-origin"), Some("*"));
        assert_eq!(a.header("vary"), None);
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    for (db, _) in loaded().await {
        let state = state(&db.store);
        let g = call(&state, get("/flights", &[("origin", "JFK")])).await;
        let h = call(&state, rest("HEAD", "/flights", &[("origin", "JFK")], &[])).await;
        assert_eq!(h.status, 200, "{}", db.name());
        assert!(h.body.is_empty());
        assert_eq!(h.header("etag"), g.header("etag"));
    }
}

#[tokio::test]
async fn health_and_readiness_are_ok_when_the_database_answers() {
    for db in engines().await {
        for path in ["/health", "/health/ready"] {
            let a = call(&state(&db.store), get(path, &[])).await;
            assert_eq!((a.status, a.json()), (200, json!({"status": "ok"})), "{} {path}", db.name());
            assert_eq!(a.header("cache-control"), Some("no-store"));
        }
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_database_unavailable_never_a_500() {
    let closed = contrail_testkit::ClosedPort::new();
    let mut config =
        contrail_shared::config::DbConfig::from_url(format!("postgres://contrail@127.0.0.1:{}/nowhere", closed.port));
    config.connect_timeout = std::time::Duration::from_millis(500);
    let store = contrail_shared::storage::Store::connect(&config).await.expect("a lazy pool connects later");
    let state = state(&store);
    let live = call(&state, get("/health", &[])).await;
    assert_eq!((live.status, live.json()), (200, json!({"status": "ok"})), "liveness never asks the database");
    for (path, query) in [
        ("/health/ready", vec![]),
        ("/flights", vec![("origin", "EWR")]),
        ("/flights/UA100-2013-01-01-EWR", vec![]),
        ("/stats", vec![("date", "2013-01-01")]),
    ] {
        let a = call(&state, get(path, &query)).await;
        assert_eq!((a.status, a.error_code().as_str()), (503, "database_unavailable"), "{path}: {}", a.body);
        assert_eq!(a.header("retry-after"), Some(contrail_query::error::RETRY_AFTER_SECONDS), "{path}");
        assert!(!a.body.contains("127.0.0.1"), "no connection detail leaks: {}", a.body);
    }
    let bad = call(&state, get("/flights", &[("limit", "0")])).await;
    assert_eq!(bad.status, 400, "input is checked before the database is needed");
}

#[tokio::test]
async fn the_largest_possible_page_stays_far_below_the_lambda_payload_limit() {
    let long = "X".repeat(16);
    let flight = contrail_shared::storage::Flight {
        flight_id: "UA1545A-2013-01-01-EWR".into(),
        carrier: "UA".parse().unwrap(),
        number: "1545A".parse().unwrap(),
        date: day(2013, 1, 1),
        origin: "EWR".parse().unwrap(),
        destination: "IAH".parse().unwrap(),
        status: "scheduled".parse().unwrap(),
        scheduled_departure: at(day(2013, 1, 1), 5, 15) + Duration::microseconds(123_456),
        scheduled_arrival: at(day(2013, 1, 1), 5, 15) + Duration::microseconds(123_456),
        estimated_departure: Some(at(day(2013, 1, 1), 5, 15) + Duration::microseconds(123_456)),
        estimated_arrival: Some(at(day(2013, 1, 1), 5, 15) + Duration::microseconds(123_456)),
        actual_departure: Some(at(day(2013, 1, 1), 5, 15) + Duration::microseconds(123_456)),
        actual_arrival: Some(at(day(2013, 1, 1), 5, 15) + Duration::microseconds(123_456)),
        departure_delay_minutes: Some(-1_234.567_890_123_456),
        arrival_delay_minutes: Some(-1_234.567_890_123_456),
        tail_number: Some(long.clone()),
        gate: Some(long.clone()),
        terminal: Some(long.clone()),
        position: Some(contrail_shared::domain::Position {
            lat: -89.123_456_789_012_35,
            lon: -179.123_456_789_012_3,
            altitude_ft: Some(-1_999.123_456_789_012),
            ground_speed_kt: Some(1_999.123_456_789_012),
            heading_deg: Some(359.123_456_789_012_3),
        }),
        updated_at: at(day(2013, 1, 1), 5, 15) + Duration::microseconds(123_456),
    };
    let flights = vec![flight; contrail_query::params::MAX_LIMIT as usize];
    let page = serde_json::to_vec(&json!({"items": flights, "next_cursor": "c".repeat(400)})).unwrap();
    assert!(page.len() < 1024 * 1024, "a full flight page is {} bytes", page.len());

    // History: each event is the canonical flight-event/v1 form, bounded field by field.
    let f = &fixture_flights()[4];
    let event: serde_json::Value =
        serde_json::from_str(&f.event_json(&"E".repeat(128), f.scheduled_departure)).unwrap();
    let entry = json!({"event_id": "E".repeat(128), "flight_id": "UA1545A-2013-01-01-EWR", "event_time": "2013-01-01T05:15:00.123456Z",
                       "removed": false, "event": event, "received_at": "2013-01-01T05:15:00.123456Z"});
    let page = serde_json::to_vec(&json!({"items": vec![entry; 500], "next_cursor": null})).unwrap();
    assert!(page.len() < 2 * 1024 * 1024, "a full history page is {} bytes", page.len());
}
