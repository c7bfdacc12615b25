//! SQL text both engines share, so the two cannot drift apart: the state upsert's conflict clause, the
//! equality filters of the read API and the positions query's airborne set and box.

use std::fmt::Write as _;

use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::storage::model::{BBox, PositionStatuses};

/// State columns a removal leaves as they were: a removed flight keeps its last known details.
const DETAIL_COLUMNS: [&str; 18] = [
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
];

/// The state upsert's `ON CONFLICT` clause. The newest `(event_time, event_id)` wins; a removal marks the row
/// removed and takes the removal's order key (so older snapshots cannot resurrect it) but keeps the details.
/// `current` names the stored row: the table's alias on PostgreSQL, its name on SQLite.
pub(crate) fn state_conflict_clause(current: &str) -> String {
    let mut sql = String::from("ON CONFLICT (flight_id) DO UPDATE SET\n");
    for c in DETAIL_COLUMNS {
        let _ = writeln!(sql, "    {c} = CASE WHEN excluded.removed THEN {current}.{c} ELSE excluded.{c} END,");
    }
    let _ = write!(
        sql,
        "    event_time = excluded.event_time,\n    event_id = excluded.event_id,\n    removed = excluded.removed\n\
         WHERE ({current}.event_time, {current}.event_id) < (excluded.event_time, excluded.event_id)\n"
    );
    sql
}

/// Appends ` AND {column} = <bind>` for each filter that is set, in the order given.
pub(crate) fn push_equals<DB>(q: &mut QueryBuilder<DB>, filters: &[(&str, Option<&str>)])
where
    DB: Database,
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    for (column, value) in filters {
        if let Some(value) = value {
            q.push(format_args!(" AND {column} = ")).push_bind((*value).to_owned());
        }
    }
}

/// The positions query's row set. Its first three terms are, word for word, the predicate of SQLite's
/// partial index `flights_positions_idx` (SQLite uses a partial index only when the query repeats its
/// terms); PostgreSQL's index leaves out `position IS NOT NULL` (migration `*_positions_hot.sql`: a column
/// in an index predicate would make every position update non-HOT), which the query's terms still imply.
/// `not_removed` is the engine's test of the flag (`NOT removed`, `removed = 0`).
pub(crate) fn positions_where(not_removed: &str, statuses: PositionStatuses) -> String {
    let mut sql = format!(" WHERE status IN ('airborne', 'departed') AND {not_removed} AND position IS NOT NULL");
    if statuses == PositionStatuses::Airborne {
        // Not `status = 'airborne'`: SQLite would take that equality to the status index and sort.
        sql.push_str(" AND status <> 'departed'");
    }
    sql
}

/// Appends the box test on the position's `lat` and `lon` expressions, edges included; a box whose
/// `min_lon` exceeds its `max_lon` wraps around the antimeridian.
pub(crate) fn push_bbox<DB>(q: &mut QueryBuilder<DB>, lat: &str, lon: &str, bbox: &BBox)
where
    DB: Database,
    f64: for<'t> Encode<'t, DB> + Type<DB>,
{
    q.push(format_args!(" AND {lat} BETWEEN ")).push_bind(bbox.min_lat).push(" AND ").push_bind(bbox.max_lat);
    if bbox.crosses_antimeridian() {
        q.push(format_args!(" AND ({lon} >= ")).push_bind(bbox.min_lon);
        q.push(format_args!(" OR {lon} <= ")).push_bind(bbox.max_lon).push(")");
    } else {
        q.push(format_args!(" AND {lon} BETWEEN ")).push_bind(bbox.min_lon).push(" AND ").push_bind(bbox.max_lon);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_conflict_clause_updates_every_detail_and_orders_by_the_stored_row() {
        let sql = super::state_conflict_clause("f");
        assert!(sql.contains("gate = CASE WHEN excluded.removed THEN f.gate ELSE excluded.gate END,"), "{sql}");
        assert!(sql.ends_with("WHERE (f.event_time, f.event_id) < (excluded.event_time, excluded.event_id)\n"));
        assert_eq!(sql.matches("CASE WHEN").count(), 18);
    }
}
