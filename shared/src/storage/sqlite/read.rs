//! SQLite's side of the shared reads (`storage::read`). Times are integer microseconds since the epoch
//! (UTC) and dates `YYYY-MM-DD` text, so comparisons and ordering are exact and match PostgreSQL's.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{DATE_FORMAT, from_micros};
use crate::domain::{FlightStatus, Position};
use crate::storage::StoreError;
use crate::storage::read::{Dialect, ReadRow};

impl Dialect for Sqlite {
    const NOT_REMOVED: &'static str = "removed = 0";
    /// `INDEXED BY`: without statistics SQLite would rather probe the status index and sort; the partial
    /// index holds exactly the rows wanted, in page order (and naming it makes a statement that cannot use
    /// it an error).
    const POSITIONS_FROM: &'static str = "FROM flights INDEXED BY flights_positions_idx";
    const PAYLOAD: &'static str = "payload";
    const LAT_LON: (&'static str, &'static str) =
        ("json_extract(position, '$.lat')", "json_extract(position, '$.lon')");

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
        q.push_bind(t.timestamp_micros());
    }
    fn push_date(q: &mut QueryBuilder<Self>, d: NaiveDate) {
        q.push_bind(d.format(DATE_FORMAT).to_string());
    }
    fn push_statuses(q: &mut QueryBuilder<Self>, statuses: &[FlightStatus]) {
        if statuses.is_empty() {
            return;
        }
        q.push(" AND status IN (");
        let mut list = q.separated(", ");
        for s in statuses {
            list.push_bind(s.as_str());
        }
        q.push(")");
    }
    /// The double modulo floors times before 1970 too.
    fn hour(time: &str) -> String {
        format!("({time} - (({time} % 3600000000) + 3600000000) % 3600000000)")
    }
    fn count_if(condition: &str) -> String {
        format!("sum({condition})")
    }
    fn sum_if(condition: &str, value: &str) -> String {
        format!("total(CASE WHEN {condition} THEN {value} END)")
    }
}

impl ReadRow for SqliteRow {
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
        Ok(self.try_get::<i64, _>(i)? != 0)
    }
    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.try_get::<Option<i64>, _>(i)?.map(from_micros).transpose()
    }
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
        let Some(text) = self.try_get::<Option<&str>, _>(i)? else { return Ok(None) };
        NaiveDate::parse_from_str(text, DATE_FORMAT)
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("stored date {text:?} is invalid")))
    }
    fn position(&self, i: usize) -> Result<Option<Position>, StoreError> {
        let Some(text) = self.try_get::<Option<String>, _>(i)? else { return Ok(None) };
        serde_json::from_str(&text).map(Some).map_err(|e| StoreError::Corrupt(format!("stored position: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;
    use crate::domain::Carrier;
    use crate::storage::SqliteStore;
    use crate::storage::read::positions_query;
    use crate::storage::{BBox, PositionFilter, PositionStatuses};

    /// Every positions statement reads `flights_positions_idx`, not the table, whatever its filters.
    #[tokio::test]
    async fn every_positions_statement_is_served_by_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = SqliteStore::connect(&DbConfig::from_url(&url)).await.unwrap();
        store.migrate().await.unwrap();
        let all = PositionFilter {
            statuses: PositionStatuses::Airborne,
            bbox: None,
            carrier: None,
            origin: None,
            destination: None,
        };
        let departed = PositionFilter { statuses: PositionStatuses::AirborneAndDeparted, ..all.clone() };
        let wrapped = PositionFilter {
            bbox: Some(BBox { min_lon: 170.0, min_lat: -30.0, max_lon: -170.0, max_lat: 30.0 }),
            carrier: Some(Carrier::parse("UA").unwrap()),
            ..departed.clone()
        };
        for (filter, after) in [(&all, None), (&departed, Some("F1")), (&wrapped, Some("F2"))] {
            let rows = positions_query::<Sqlite>("EXPLAIN QUERY PLAN ", filter, after, 51)
                .build()
                .fetch_all(&store.pool)
                .await
                .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
            assert!(plan.iter().any(|step| step.contains("USING INDEX flights_positions_idx")), "{filter:?}: {plan:?}");
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{filter:?}: ordered by the index: {plan:?}"
            );
        }
    }
}
