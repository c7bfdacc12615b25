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
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn float(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn count(&self, i: usize) -> Result<u64, StoreError> {
        let n: Option<i64> = self.try_get(i)?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
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
