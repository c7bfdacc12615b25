//! Reads on sqlite for the query API: flights, boards, history, positions, stats, with keyset pagination.
//!
//! Times are integer microseconds since the epoch (UTC) and dates `YYYY-MM-DD` text, so comparisons and
//! ordering are exact and match PostgreSQL's. Statements are built from fixed fragments; values are bound.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::SqliteStore;
use crate::domain::{Carrier, FlightId, FlightStatus, Position};
use crate::storage::model::{GroupAccumulator, ON_TIME_MINUTES, Side, SideTotals, StatsAccumulator, stored_code};
use crate::storage::sql::{positions_where, push_bbox, push_equals};
use crate::storage::{
    BoardFilter, BoardKind, CarrierStats, Flight, FlightFilter, FlightPosition, GroupedStats, GroupedStatsFilter,
    HistoryEntry, HourStats, Keyset, PositionFilter, Stats, StatsFilter, StatsGrouping, StoreError,
};

const FLIGHT_COLUMNS: &str = "SELECT flight_id, carrier, number, date, origin, destination, status, \
     scheduled_departure, scheduled_arrival, estimated_departure, estimated_arrival, actual_departure, \
     actual_arrival, departure_delay_minutes, arrival_delay_minutes, tail_number, gate, terminal, position, \
     event_time FROM flights WHERE removed = 0";

/// `INDEXED BY`: without statistics SQLite would rather probe the status index and sort; the partial index
/// holds exactly the rows wanted, in page order (and naming it makes a statement that cannot use it an error).
const POSITION_COLUMNS: &str = "SELECT flight_id, carrier, number, origin, destination, position, event_time \
     FROM flights INDEXED BY flights_positions_idx";

impl SqliteStore {
    pub(crate) async fn get_flight(&self, id: &FlightId) -> Result<Option<Flight>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(FLIGHT_COLUMNS);
        q.push(" AND flight_id = ").push_bind(id.as_str().to_owned());
        let row = q.build().fetch_optional(&self.pool).await?;
        row.as_ref().map(flight_from_row).transpose()
    }

    pub(crate) async fn list_flights(
        &self,
        filter: &FlightFilter,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<Flight>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(FLIGHT_COLUMNS);
        push_equals(
            &mut q,
            &[
                ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
                ("origin", filter.origin.as_ref().map(|o| o.as_str())),
                ("destination", filter.destination.as_ref().map(|d| d.as_str())),
            ],
        );
        if let Some(date) = filter.date {
            q.push(" AND date = ").push_bind(date_text(date));
        }
        push_statuses(&mut q, &filter.statuses);
        if let Some(t) = filter.departing_after {
            q.push(" AND scheduled_departure >= ").push_bind(t.timestamp_micros());
        }
        if let Some(t) = filter.departing_before {
            q.push(" AND scheduled_departure < ").push_bind(t.timestamp_micros());
        }
        push_page(&mut q, "scheduled_departure", "flight_id", after, limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(flight_from_row).collect()
    }

    pub(crate) async fn board(
        &self,
        filter: &BoardFilter,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<Flight>, StoreError> {
        let (airport_column, time_column) = match filter.kind {
            BoardKind::Departures => (" AND origin = ", "scheduled_departure"),
            BoardKind::Arrivals => (" AND destination = ", "scheduled_arrival"),
        };
        let mut q = QueryBuilder::<Sqlite>::new(FLIGHT_COLUMNS);
        q.push(" AND date = ").push_bind(date_text(filter.date));
        q.push(airport_column).push_bind(filter.airport.as_str().to_owned());
        push_equals(&mut q, &[("carrier", filter.carrier.as_ref().map(|c| c.as_str()))]);
        push_statuses(&mut q, &filter.statuses);
        push_page(&mut q, time_column, "flight_id", after, limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(flight_from_row).collect()
    }

    pub(crate) async fn flight_history(
        &self,
        id: &FlightId,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT event_id, flight_id, event_time, removed, payload, received_at FROM flight_events \
             WHERE flight_id = ",
        );
        q.push_bind(id.as_str().to_owned());
        push_page(&mut q, "event_time", "event_id", after, limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let payload: Option<String> = row.try_get(4)?;
                Ok(HistoryEntry {
                    event_id: row.try_get(0)?,
                    flight_id: row.try_get(1)?,
                    event_time: micros(row.try_get(2)?)?,
                    removed: row.try_get::<i64, _>(3)? != 0,
                    event: payload
                        .map(|p| serde_json::from_str(&p))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("history payload is not JSON: {e}")))?,
                    received_at: micros(row.try_get(5)?)?,
                })
            })
            .collect()
    }

    pub(crate) async fn grouped_stats(&self, filter: &GroupedStatsFilter) -> Result<GroupedStats, StoreError> {
        // The start of the UTC hour, in microseconds; the double modulo floors times before 1970 too.
        let key = |time: &str| match filter.grouping {
            StatsGrouping::Hour => format!("({time} - (({time} % 3600000000) + 3600000000) % 3600000000)"),
            StatsGrouping::Carrier => "carrier".to_owned(),
        };
        let mut q = QueryBuilder::<Sqlite>::new("");
        for (side, time, airport, actual, delay) in [
            (0, "scheduled_departure", "origin", "actual_departure", "departure_delay_minutes"),
            (1, "scheduled_arrival", "destination", "actual_arrival", "arrival_delay_minutes"),
        ] {
            let key = key(time);
            if side == 1 {
                q.push(" UNION ALL ");
            }
            q.push(format_args!(
                "SELECT {side}, {key}, count(*), \
                 sum({actual} IS NOT NULL AND {delay} IS NOT NULL), \
                 total(CASE WHEN {actual} IS NOT NULL THEN {delay} END), \
                 sum({actual} IS NOT NULL AND {delay} < "
            ));
            q.push_bind(ON_TIME_MINUTES).push(") FROM flights WHERE removed = 0 AND date = ");
            q.push_bind(date_text(filter.date));
            push_equals(
                &mut q,
                &[
                    (airport, filter.airport.as_ref().map(|a| a.as_str())),
                    ("origin", filter.origin.as_ref().map(|o| o.as_str())),
                    ("destination", filter.destination.as_ref().map(|d| d.as_str())),
                    ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
                ],
            );
            q.push(format_args!(" GROUP BY {key}"));
        }
        let rows = q.build().fetch_all(&self.pool).await?;
        let side = |row: &SqliteRow| -> Result<(Side, SideTotals), StoreError> {
            let side = if row.try_get::<i64, _>(0)? == 0 { Side::Departures } else { Side::Arrivals };
            let totals = SideTotals {
                flights: count(row.try_get(2)?),
                timed: count(row.try_get(3)?),
                delay_sum: row.try_get(4)?,
                on_time: count(row.try_get(5)?),
            };
            Ok((side, totals))
        };
        Ok(match filter.grouping {
            StatsGrouping::Hour => {
                let mut acc = GroupAccumulator::<DateTime<Utc>>::default();
                for row in &rows {
                    let (s, totals) = side(row)?;
                    let hour: Option<i64> = row.try_get(1)?;
                    let hour = hour.ok_or_else(|| StoreError::Corrupt("a flight has no scheduled time".into()))?;
                    acc.add(micros(hour)?, s, totals);
                }
                GroupedStats::Hours(acc.finish().into_iter().map(|(hour, stats)| HourStats { hour, stats }).collect())
            }
            StatsGrouping::Carrier => {
                let mut acc = GroupAccumulator::<Carrier>::default();
                for row in &rows {
                    let (s, totals) = side(row)?;
                    let carrier: Option<String> = row.try_get(1)?;
                    let carrier = carrier.ok_or_else(|| StoreError::Corrupt("a flight has no carrier".into()))?;
                    acc.add(stored_code("carrier", &carrier)?, s, totals);
                }
                GroupedStats::Carriers(
                    acc.finish().into_iter().map(|(carrier, stats)| CarrierStats { carrier, stats }).collect(),
                )
            }
        })
    }

    pub(crate) async fn positions(
        &self,
        filter: &PositionFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FlightPosition>, StoreError> {
        let rows = positions_query(POSITION_COLUMNS, filter, after, limit).build().fetch_all(&self.pool).await?;
        rows.iter().map(position_from_row).collect()
    }

    pub(crate) async fn stats(&self, filter: &StatsFilter) -> Result<Stats, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT status, count(*), \
             sum(actual_departure IS NOT NULL AND departure_delay_minutes IS NOT NULL), \
             total(CASE WHEN actual_departure IS NOT NULL THEN departure_delay_minutes END), \
             sum(actual_arrival IS NOT NULL AND arrival_delay_minutes IS NOT NULL), \
             total(CASE WHEN actual_arrival IS NOT NULL THEN arrival_delay_minutes END), \
             sum(actual_arrival IS NOT NULL AND arrival_delay_minutes < 15) \
             FROM flights WHERE removed = 0 AND date = ",
        );
        q.push_bind(date_text(filter.date));
        push_equals(
            &mut q,
            &[
                ("origin", filter.origin.as_ref().map(|o| o.as_str())),
                ("destination", filter.destination.as_ref().map(|d| d.as_str())),
                ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
            ],
        );
        q.push(" GROUP BY status");
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut acc = StatsAccumulator::default();
        for row in &rows {
            let status: Option<String> = row.try_get(0)?;
            let status = status.ok_or_else(|| StoreError::Corrupt("a flight has no status".into()))?;
            acc.add_group(
                stored_code("status", &status)?,
                count(row.try_get(1)?),
                count(row.try_get(2)?),
                row.try_get(3)?,
                count(row.try_get(4)?),
                row.try_get(5)?,
                count(row.try_get(6)?),
            );
        }
        Ok(acc.finish())
    }
}

/// The positions statement after `select` (the columns, or `EXPLAIN QUERY PLAN` in tests), ordered by flight
/// id: a key that does not move while positions update, so pages neither skip nor repeat.
fn positions_query(select: &str, filter: &PositionFilter, after: Option<&str>, limit: u32) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::<Sqlite>::new(select);
    q.push(positions_where("removed = 0", filter.statuses));
    push_equals(
        &mut q,
        &[
            ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
            ("origin", filter.origin.as_ref().map(|o| o.as_str())),
            ("destination", filter.destination.as_ref().map(|d| d.as_str())),
        ],
    );
    if let Some(bbox) = &filter.bbox {
        push_bbox(&mut q, "json_extract(position, '$.lat')", "json_extract(position, '$.lon')", bbox);
    }
    if let Some(id) = after {
        q.push(" AND flight_id > ").push_bind(id.to_owned());
    }
    q.push(" ORDER BY flight_id LIMIT ").push_bind(i64::from(limit));
    q
}

fn position_from_row(row: &SqliteRow) -> Result<FlightPosition, StoreError> {
    let id: String = row.try_get(0)?;
    let corrupt = |column: &str| StoreError::Corrupt(format!("flight {id} has no {column}"));
    let text = |i: usize, column: &str| -> Result<String, StoreError> {
        row.try_get::<Option<String>, _>(i)?.ok_or_else(|| corrupt(column))
    };
    let raw = row.try_get::<Option<String>, _>(5)?.ok_or_else(|| corrupt("position"))?;
    let position: Position =
        serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("flight {id} has a bad position: {e}")))?;
    Ok(FlightPosition {
        carrier: stored_code("carrier", &text(1, "carrier")?)?,
        number: stored_code("number", &text(2, "number")?)?,
        origin: stored_code("origin", &text(3, "origin")?)?,
        destination: stored_code("destination", &text(4, "destination")?)?,
        lat: position.lat,
        lon: position.lon,
        heading_deg: position.heading_deg,
        altitude_ft: position.altitude_ft,
        ground_speed_kt: position.ground_speed_kt,
        event_time: micros(row.try_get(6)?)?,
        flight_id: id,
    })
}

fn count(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn micros(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt(format!("time {us} out of range")))
}

fn opt_micros(us: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    us.map(micros).transpose()
}

fn push_statuses(q: &mut QueryBuilder<Sqlite>, statuses: &[FlightStatus]) {
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

/// Keyset continuation and order: rows strictly after `after` by (`time_column`, `id_column`).
fn push_page(q: &mut QueryBuilder<Sqlite>, time_column: &str, id_column: &str, after: Option<&Keyset>, limit: u32) {
    if let Some(k) = after {
        q.push(format_args!(" AND ({time_column}, {id_column}) > ("));
        q.push_bind(k.time.timestamp_micros()).push(", ").push_bind(k.id.clone()).push(")");
    }
    q.push(format_args!(" ORDER BY {time_column}, {id_column} LIMIT ")).push_bind(i64::from(limit));
}

fn flight_from_row(row: &SqliteRow) -> Result<Flight, StoreError> {
    let id: String = row.try_get(0)?;
    let corrupt = |column: &str| StoreError::Corrupt(format!("flight {id} has no {column}"));
    let text = |i: usize, column: &str| -> Result<String, StoreError> {
        row.try_get::<Option<String>, _>(i)?.ok_or_else(|| corrupt(column))
    };
    let time = |i: usize, column: &str| -> Result<DateTime<Utc>, StoreError> {
        micros(row.try_get::<Option<i64>, _>(i)?.ok_or_else(|| corrupt(column))?)
    };
    let date_text = text(3, "date")?;
    let date = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("flight {id} has a bad date {date_text:?}")))?;
    let position: Option<String> = row.try_get(18)?;
    let position: Option<Position> = position
        .map(|p| serde_json::from_str(&p))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("flight {id} has a bad position: {e}")))?;
    Ok(Flight {
        carrier: stored_code("carrier", &text(1, "carrier")?)?,
        number: stored_code("number", &text(2, "number")?)?,
        date,
        origin: stored_code("origin", &text(4, "origin")?)?,
        destination: stored_code("destination", &text(5, "destination")?)?,
        status: stored_code("status", &text(6, "status")?)?,
        scheduled_departure: time(7, "scheduled_departure")?,
        scheduled_arrival: time(8, "scheduled_arrival")?,
        estimated_departure: opt_micros(row.try_get(9)?)?,
        estimated_arrival: opt_micros(row.try_get(10)?)?,
        actual_departure: opt_micros(row.try_get(11)?)?,
        actual_arrival: opt_micros(row.try_get(12)?)?,
        departure_delay_minutes: row.try_get(13)?,
        arrival_delay_minutes: row.try_get(14)?,
        tail_number: row.try_get(15)?,
        gate: row.try_get(16)?,
        terminal: row.try_get(17)?,
        position,
        updated_at: micros(row.try_get(19)?)?,
        flight_id: id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;
    use crate::domain::Carrier;
    use crate::storage::{BBox, PositionStatuses};

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
            let explain = format!("EXPLAIN QUERY PLAN {POSITION_COLUMNS}");
            let rows = positions_query(&explain, filter, after, 51).build().fetch_all(&store.pool).await.unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
            assert!(plan.iter().any(|step| step.contains("USING INDEX flights_positions_idx")), "{filter:?}: {plan:?}");
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{filter:?}: ordered by the index: {plan:?}"
            );
        }
    }
}
