//! PostgreSQL's side of the shared reads (`storage::read`): how its values are bound and decoded, and its
//! aggregate syntax.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};

use crate::domain::{FlightStatus, Position};
use crate::storage::StoreError;
use crate::storage::read::{Dialect, ReadRow};

impl Dialect for Postgres {
    const NOT_REMOVED: &'static str = "NOT removed";
    const POSITIONS_FROM: &'static str = "FROM flights";
    const PAYLOAD: &'static str = "payload::text";
    const LAT_LON: (&'static str, &'static str) = ("(position->>'lat')::float8", "(position->>'lon')::float8");

    fn push_text(q: &mut QueryBuilder<Self>, v: &str) {
        q.push_bind(v.to_owned());
    }
    fn push_int(q: &mut QueryBuilder<Self>, v: i64) {
        q.push_bind(v);
    }
    fn push_float(q: &mut QueryBuilder<Self>, v: f64) {
        q.push_bind(v);
    }
    fn push_time(q: &mut QueryBuilder<Self>, t: DateTime<Utc>) {
        q.push_bind(t);
    }
    fn push_date(q: &mut QueryBuilder<Self>, d: NaiveDate) {
        q.push_bind(d);
    }
    /// One array parameter, whatever the number of statuses.
    fn push_statuses(q: &mut QueryBuilder<Self>, statuses: &[FlightStatus]) {
        if !statuses.is_empty() {
            let names: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
            q.push(" AND status = ANY(").push_bind(names).push(")");
        }
    }
    fn hour(time: &str) -> String {
        format!("date_trunc('hour', {time}, 'UTC')")
    }
    fn count_if(condition: &str) -> String {
        format!("count(*) FILTER (WHERE {condition})")
    }
    fn sum_if(condition: &str, value: &str) -> String {
        format!("coalesce(sum({value}) FILTER (WHERE {condition}), 0)::float8")
    }
}

impl ReadRow for PgRow {
    fn str(&self, i: usize) -> Result<Option<&str>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn float(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn flag(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn position(&self, i: usize) -> Result<Option<Position>, StoreError> {
        Ok(self.try_get::<Option<Json<Position>>, _>(i)?.map(|p| p.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;
    use crate::domain::{Airport, Carrier};
    use crate::storage::PgStore;
    use crate::storage::read::positions_query;
    use crate::storage::{BBox, PositionFilter, PositionStatuses};

    /// 40,000 flights, 4,000 of them in the air: every positions statement is an ordered scan (or a bitmap
    /// scan) of `flights_positions_idx`, never a scan of the table.
    #[tokio::test]
    async fn every_positions_statement_is_served_by_the_partial_index() {
        let Some(url) = contrail_testkit::postgres::fresh_database() else { return };
        let store = PgStore::connect(&DbConfig::from_url(&url)).await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query(
            "INSERT INTO flights (flight_id, carrier, number, date, origin, destination, status, \
             scheduled_departure, scheduled_arrival, position, event_time, event_id, removed) \
             SELECT 'F' || lpad(i::text, 6, '0'), (ARRAY['UA','AA','DL','B6'])[1 + i % 4], i::text, \
                    date '2026-12-01' + i % 30, (ARRAY['EWR','JFK','LGA','ORD','ATL'])[1 + i % 5], \
                    (ARRAY['SFO','LAX','SEA'])[1 + i % 3], \
                    CASE i % 10 WHEN 0 THEN 'airborne' WHEN 1 THEN 'departed' WHEN 2 THEN 'landed' ELSE 'scheduled' END, \
                    now(), now(), \
                    CASE WHEN i % 10 < 3 THEN jsonb_build_object('lat', i % 170 - 85, 'lon', i % 359 - 179) END, \
                    now(), 'e' || i, i % 97 = 0 \
             FROM generate_series(1, 40000) AS i",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        sqlx::query("ANALYZE flights").execute(&store.pool).await.unwrap();

        let all = PositionFilter {
            statuses: PositionStatuses::Airborne,
            bbox: None,
            carrier: None,
            origin: None,
            destination: None,
        };
        let departed = PositionFilter { statuses: PositionStatuses::AirborneAndDeparted, ..all.clone() };
        let boxed = PositionFilter {
            bbox: Some(BBox { min_lon: -10.0, min_lat: -20.0, max_lon: 40.0, max_lat: 30.0 }),
            ..departed.clone()
        };
        let wrapped = PositionFilter {
            bbox: Some(BBox { min_lon: 170.0, min_lat: -30.0, max_lon: -170.0, max_lat: 30.0 }),
            ..all.clone()
        };
        let narrowed = PositionFilter {
            carrier: Some(Carrier::parse("UA").unwrap()),
            origin: Some(Airport::parse("JFK").unwrap()),
            destination: Some(Airport::parse("SEA").unwrap()),
            ..all.clone()
        };
        for (filter, after) in
            [(&all, None), (&departed, Some("F020000")), (&boxed, None), (&wrapped, Some("F000500")), (&narrowed, None)]
        {
            let rows = positions_query::<Postgres>("EXPLAIN ", filter, after, 501)
                .build()
                .fetch_all(&store.pool)
                .await
                .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
            let plan = plan.join("\n");
            assert!(plan.contains("flights_positions_idx"), "{filter:?}:\n{plan}");
            assert!(!plan.contains("Seq Scan"), "{filter:?}:\n{plan}");
        }
        // The statement finds what it should, too: removed rows and other statuses are not in the index.
        let rows = positions_query::<Postgres>("", &departed, None, 100_000).build().fetch_all(&store.pool).await;
        let expected = (1..=40_000).filter(|i| i % 10 < 2 && i % 97 != 0).count();
        assert_eq!(rows.unwrap().len(), expected);
    }
}

/// The plan of every statement the query API serves, on a data set of the query benchmark's size.
#[cfg(test)]
mod plans {
    use chrono::{NaiveDate, TimeZone, Utc};
    use sqlx::{Postgres, QueryBuilder, Row};

    use crate::config::DbConfig;
    use crate::domain::{Airport, Carrier, FlightId, FlightStatus};
    use crate::storage::read::{
        board_query, flight_query, flights_query, grouped_stats_query, history_query, positions_query, stats_query,
    };
    use crate::storage::{
        BoardFilter, BoardKind, FlightFilter, GroupedStatsFilter, Keyset, PgStore, PositionFilter, PositionStatuses,
        StatsFilter, StatsGrouping,
    };

    /// 336,000 flights (14 days of 24,000 over 30 airports and 10 carriers, about 5,000 in the air) and one
    /// history row each, analyzed.
    async fn loaded() -> Option<PgStore> {
        let url = contrail_testkit::postgres::fresh_database()?;
        let store = PgStore::connect(&DbConfig::from_url(&url)).await.unwrap();
        store.migrate().await.unwrap();
        for sql in [
            "INSERT INTO flights (flight_id, carrier, number, date, origin, destination, status, \
             scheduled_departure, scheduled_arrival, actual_departure, departure_delay_minutes, position, \
             event_time, event_id, removed) \
             SELECT 'F' || lpad(i::text, 7, '0'), (ARRAY['UA','AA','DL','WN','B6','AS','NK','F9','HA','G4'])[1 + i % 10], \
                    (1 + i % 9000)::text, date '2026-03-02' + i / 24000, \
                    'A' || chr(65 + (i / 10) % 30 % 26) || chr(65 + (i / 10) % 30 / 26), \
                    'A' || chr(65 + (i / 10 + 7) % 30 % 26) || chr(65 + (i / 10 + 7) % 30 / 26), \
                    CASE WHEN i % 67 = 0 THEN 'airborne' WHEN i % 67 = 1 THEN 'departed' \
                         WHEN i % 50 = 2 THEN 'cancelled' WHEN i / 24000 < 7 THEN 'arrived' ELSE 'scheduled' END, \
                    timestamptz '2026-03-02 00:00Z' + (i / 24000) * interval '1 day' + (i % 24000) * interval '3.6 s', \
                    timestamptz '2026-03-02 03:00Z' + (i / 24000) * interval '1 day' + (i % 24000) * interval '3.6 s', \
                    CASE WHEN i / 24000 < 7 THEN timestamptz '2026-03-02 00:10Z' + (i / 24000) * interval '1 day' \
                         + (i % 24000) * interval '3.6 s' END, \
                    CASE WHEN i / 24000 < 7 THEN 10.0 END, \
                    CASE WHEN i % 67 < 2 THEN jsonb_build_object('lat', i % 170 - 85, 'lon', i % 359 - 179) END, \
                    now(), 'e' || i, false \
             FROM generate_series(0, 335999) AS i",
            "SELECT contrail_ensure_event_partition(timestamptz '2026-03-15 00:00Z')",
            "INSERT INTO flight_events (event_id, event_time, flight_id, payload, digest) \
             SELECT 'e' || i, timestamptz '2026-03-15 00:00Z' + i * interval '1 s', 'F' || lpad(i::text, 7, '0'), \
                    '{}', '\\x00' FROM generate_series(0, 335999) AS i",
            "VACUUM ANALYZE flights",
            "ANALYZE flight_events",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&store.pool).await.unwrap();
        }
        Some(store)
    }

    async fn plan(store: &PgStore, mut q: QueryBuilder<Postgres>) -> String {
        let rows = q.build().fetch_all(&store.pool).await.unwrap();
        rows.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>().join("\n")
    }

    /// No statement scans a table; every page is read off an index in its order, so the limit ends the
    /// scan. (Filters the index does not hold, such as a status or a carrier without a date, are checked
    /// along the ordered scan: a page reads about `limit / selectivity` index entries; docs/storage.md.)
    #[tokio::test]
    async fn every_statement_the_api_serves_reads_an_index() {
        let Some(store) = loaded().await else { return };
        let e = "EXPLAIN ";
        let day = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        let airport = Airport::parse("AAA").unwrap();
        let carrier = Carrier::parse("UA").unwrap();
        let id = FlightId::parse("UA1545-2026-03-09-EWR").unwrap();
        let after = Keyset { time: Utc.with_ymd_and_hms(2026, 3, 9, 6, 0, 0).unwrap(), id: "F0170000".into() };
        let any = FlightFilter::default();
        let flights = [
            ("no filter", any.clone()),
            ("date", FlightFilter { date: Some(day), ..any.clone() }),
            ("origin", FlightFilter { origin: Some(airport.clone()), ..any.clone() }),
            ("destination", FlightFilter { destination: Some(airport.clone()), ..any.clone() }),
            ("carrier", FlightFilter { carrier: Some(carrier.clone()), ..any.clone() }),
            ("status", FlightFilter { statuses: vec![FlightStatus::Cancelled], ..any.clone() }),
            (
                "departing window",
                FlightFilter {
                    departing_after: Some(after.time),
                    departing_before: Some(after.time + chrono::Duration::hours(2)),
                    ..any.clone()
                },
            ),
            (
                "every filter",
                FlightFilter {
                    date: Some(day),
                    origin: Some(airport.clone()),
                    carrier: Some(carrier.clone()),
                    statuses: vec![FlightStatus::Scheduled, FlightStatus::Delayed],
                    ..any.clone()
                },
            ),
        ];
        let mut plans = vec![("flight".to_owned(), plan(&store, flight_query(e, &id)).await)];
        for (name, filter) in &flights {
            for (page, keyset) in [("first page", None), ("next page", Some(&after))] {
                plans.push((
                    format!("flights, {name}, {page}"),
                    plan(&store, flights_query(e, filter, keyset, 51)).await,
                ));
            }
        }
        for kind in [BoardKind::Departures, BoardKind::Arrivals] {
            let board = BoardFilter { airport: airport.clone(), date: day, kind, carrier: None, statuses: vec![] };
            plans.push((format!("board {kind:?}"), plan(&store, board_query(e, &board, Some(&after), 51)).await));
        }
        plans.push(("history".into(), plan(&store, history_query(e, &id, Some(&after), 51)).await));
        let stats = StatsFilter { date: day, origin: None, destination: None, carrier: None };
        plans.push(("stats of a day".into(), plan(&store, stats_query(e, &stats)).await));
        let stats = StatsFilter { origin: Some(airport.clone()), ..stats };
        plans.push(("stats of an airport".into(), plan(&store, stats_query(e, &stats)).await));
        for grouping in [StatsGrouping::Hour, StatsGrouping::Carrier] {
            let filter = GroupedStatsFilter {
                date: day,
                airport: Some(airport.clone()),
                origin: None,
                destination: None,
                carrier: None,
                grouping,
            };
            plans.push((format!("grouped {grouping:?}"), plan(&store, grouped_stats_query(e, &filter)).await));
        }
        let positions = PositionFilter {
            statuses: PositionStatuses::AirborneAndDeparted,
            bbox: None,
            carrier: None,
            origin: None,
            destination: None,
        };
        plans.push(("positions".into(), plan(&store, positions_query(e, &positions, Some("F0100000"), 501)).await));

        for (name, plan) in &plans {
            println!("== {name}\n{plan}");
        }
        for (name, plan) in &plans {
            assert!(!plan.contains("Seq Scan"), "{name} scans a whole table:\n{plan}");
            assert!(plan.contains("Index Scan") || plan.contains("Index Only Scan"), "{name}:\n{plan}");
            // A page comes off an index in page order: the limit stops the scan, nothing is sorted.
            if plan.starts_with("Limit") {
                assert!(!plan.contains("Sort"), "{name} sorts before its limit:\n{plan}");
            }
        }
    }
}
