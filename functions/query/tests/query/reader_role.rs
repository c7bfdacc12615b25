//! The query API connected as `contrail_reader`, the read-only role the migrations create: every route
//! works (history partitions created after the migration included), and the role can neither write, nor
//! run DDL, nor read what the API does not serve. PostgreSQL only: SQLite has no roles.

use serde_json::json;
use sqlx::Connection as _;

use crate::common::*;
use contrail_shared::config::DbConfig;
use contrail_shared::storage::Store;

const READER: &str = "contrail_reader";

/// The same URL logged in as `user` (the test clusters trust loopback logins, as RDS trusts IAM tokens).
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map(|(_, host)| host).unwrap_or(rest);
    format!("{scheme}://{user}@{host}")
}

/// A migrated database loaded with the fixture by its owner, and its URL.
async fn loaded_database() -> Option<(String, Vec<FixtureFlight>)> {
    let db = contrail_testkit::store::postgres().await?;
    let (url, owner) = (db.url, db.store);
    // The fixture's history lands in partitions created now, after the migration granted its rights.
    let flights = fixture_flights();
    load(&owner, &flights).await;
    Some((url, flights))
}

#[tokio::test]
async fn the_query_handler_serves_every_route_connected_as_the_reader() {
    let Some((url, flights)) = loaded_database().await else { return };
    let reader = Store::connect(&DbConfig::from_url(as_user(&url, READER))).await.expect("connect");
    let state = state(&reader);
    let id = flights[6].id();
    let routes = [
        ("/health/ready".to_owned(), vec![]),
        ("/flights".to_owned(), vec![("limit", "5")]),
        (format!("/flights/{id}"), vec![]),
        (format!("/flights/{id}/events"), vec![]),
        ("/airports/EWR/departures".to_owned(), vec![("date", "2013-01-01")]),
        ("/airports/IAH/arrivals".to_owned(), vec![("date", "2013-01-01")]),
        ("/stats".to_owned(), vec![("date", "2013-01-01")]),
    ];
    for (path, query) in &routes {
        let a = call(&state, get(path, query)).await;
        assert_eq!(a.status, 200, "{path} as {READER}: {}", a.body);
    }
    let events = call(&state, get(&format!("/flights/{id}/events"), &[])).await.json();
    assert_eq!(events["items"].as_array().map(Vec::len), Some(2), "history read through the partitioned parent");
    let flight = call(&state, get(&format!("/flights/{id}"), &[])).await.json();
    assert_eq!(flight["flight_id"], json!(id));
}

#[tokio::test]
async fn the_reader_cannot_write_run_ddl_or_read_what_the_api_does_not_serve() {
    let Some((url, _)) = loaded_database().await else { return };
    let mut owner = sqlx::PgConnection::connect(&url).await.expect("owner connects");
    let partition: String = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'flight_events'::regclass ORDER BY 1 LIMIT 1",
    )
    .fetch_one(&mut owner)
    .await
    .expect("a history partition exists");
    let mut reader = sqlx::PgConnection::connect(&as_user(&url, READER)).await.expect("the reader logs in");

    let forbidden = [
        "INSERT INTO flights (flight_id, event_time, event_id) VALUES ('XX1-2013-01-01-EWR', now(), 'x')".to_owned(),
        "UPDATE flights SET status = 'cancelled'".to_owned(),
        "DELETE FROM flights".to_owned(),
        "TRUNCATE flights".to_owned(),
        "INSERT INTO flight_events (event_id, event_time, flight_id) VALUES ('x', '2013-01-01', 'x')".to_owned(),
        "DELETE FROM flight_events".to_owned(),
        "TRUNCATE flight_events".to_owned(),
        "CREATE TABLE reader_owned (x int)".to_owned(),
        "CREATE SCHEMA reader_schema".to_owned(),
        "CREATE INDEX reader_idx ON flights (gate)".to_owned(),
        "ALTER TABLE flights ADD COLUMN reader_col int".to_owned(),
        "DROP TABLE flights".to_owned(),
        "CREATE FUNCTION reader_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'".to_owned(),
        "SELECT contrail_ensure_event_partition('2030-01-01')".to_owned(),
        "SELECT contrail_drop_event_partitions_before('2100-01-01')".to_owned(),
        "SELECT count(*) FROM dead_letters".to_owned(),
        "SELECT count(*) FROM _sqlx_migrations".to_owned(),
        format!("SELECT count(*) FROM {partition}"),
    ];
    for statement in &forbidden {
        let err = sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
            .execute(&mut reader)
            .await
            .expect_err(&format!("{READER} ran: {statement}"));
        let code = err.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: expected insufficient_privilege, got {err}");
    }

    // Nothing changed behind the refusals.
    let flights: i64 = sqlx::query_scalar("SELECT count(*) FROM flights").fetch_one(&mut owner).await.expect("count");
    assert_eq!(flights, 61, "the fixture's 60 flights and the removed one");
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relname LIKE 'reader%'")
        .fetch_one(&mut owner)
        .await
        .expect("catalog");
    assert_eq!(tables, 0);
}

#[tokio::test]
async fn the_role_migration_is_idempotent_across_databases_of_one_cluster() {
    // Roles are cluster-wide: a second database migrates with the role already there and grants on its
    // own tables.
    let Some((first, _)) = loaded_database().await else { return };
    let Some((second, _)) = loaded_database().await else { return };
    for url in [first, second] {
        let reader = Store::connect(&DbConfig::from_url(as_user(&url, READER))).await.expect("connect");
        let a = call(&state(&reader), get("/flights", &[("limit", "1")])).await;
        assert_eq!(a.status, 200, "{url}: {}", a.body);
    }
}
