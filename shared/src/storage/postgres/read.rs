//! Reads on postgres for the query API: flights, boards, history, stats, with keyset pagination.
//!
//! Statements are assembled from fixed fragments; every value is a bound parameter. Each filter combination
//! is its own prepared statement, so the planner always sees the partial indexes it can use.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};

use super::PgStore;
use crate::domain::{FlightId, FlightStatus, Position};
use crate::storage::model::StatsAccumulator;
use crate::storage::sql::push_equals;
use crate::storage::{
    BoardFilter, BoardKind, Flight, FlightFilter, HistoryEntry, Keyset, Stats, StatsFilter, StoreError,
};

const FLIGHT_COLUMNS: &str = "SELECT flight_id, carrier, number, date, origin, destination, status, \
     scheduled_departure, scheduled_arrival, estimated_departure, estimated_arrival, actual_departure, \
     actual_arrival, departure_delay_minutes, arrival_delay_minutes, tail_number, gate, terminal, position, \
     event_time FROM flights WHERE NOT removed";

impl PgStore {
    pub(crate) async fn get_flight(&self, id: &FlightId) -> Result<Option<Flight>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new(FLIGHT_COLUMNS);
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
        let mut q = QueryBuilder::<Postgres>::new(FLIGHT_COLUMNS);
        push_equals(
            &mut q,
            &[
                ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
                ("origin", filter.origin.as_ref().map(|o| o.as_str())),
                ("destination", filter.destination.as_ref().map(|d| d.as_str())),
            ],
        );
        if let Some(date) = filter.date {
            q.push(" AND date = ").push_bind(date);
        }
        push_statuses(&mut q, &filter.statuses);
        if let Some(t) = filter.departing_after {
            q.push(" AND scheduled_departure >= ").push_bind(t);
        }
        if let Some(t) = filter.departing_before {
            q.push(" AND scheduled_departure < ").push_bind(t);
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
        let mut q = QueryBuilder::<Postgres>::new(FLIGHT_COLUMNS);
        q.push(" AND date = ").push_bind(filter.date);
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
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT event_id, flight_id, event_time, removed, payload::text, received_at FROM flight_events \
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
                    event_time: row.try_get(2)?,
                    removed: row.try_get(3)?,
                    event: payload
                        .map(|p| serde_json::from_str(&p))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("history payload is not JSON: {e}")))?,
                    received_at: row.try_get(5)?,
                })
            })
            .collect()
    }

    pub(crate) async fn stats(&self, filter: &StatsFilter) -> Result<Stats, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT status, count(*), \
             count(*) FILTER (WHERE actual_departure IS NOT NULL AND departure_delay_minutes IS NOT NULL), \
             coalesce(sum(departure_delay_minutes) FILTER (WHERE actual_departure IS NOT NULL), 0)::float8, \
             count(*) FILTER (WHERE actual_arrival IS NOT NULL AND arrival_delay_minutes IS NOT NULL), \
             coalesce(sum(arrival_delay_minutes) FILTER (WHERE actual_arrival IS NOT NULL), 0)::float8, \
             count(*) FILTER (WHERE actual_arrival IS NOT NULL AND arrival_delay_minutes < 15) \
             FROM flights WHERE NOT removed AND date = ",
        );
        q.push_bind(filter.date);
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
            acc.add_group(
                status.unwrap_or_default(),
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

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn push_statuses(q: &mut QueryBuilder<Postgres>, statuses: &[FlightStatus]) {
    if !statuses.is_empty() {
        let names: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
        q.push(" AND status = ANY(").push_bind(names).push(")");
    }
}

/// Keyset continuation and order: rows strictly after `after` by (`time_column`, `id_column`).
fn push_page(q: &mut QueryBuilder<Postgres>, time_column: &str, id_column: &str, after: Option<&Keyset>, limit: u32) {
    if let Some(k) = after {
        q.push(format_args!(" AND ({time_column}, {id_column}) > ("));
        q.push_bind(k.time).push(", ").push_bind(k.id.clone()).push(")");
    }
    q.push(format_args!(" ORDER BY {time_column}, {id_column} LIMIT ")).push_bind(i64::from(limit));
}

fn flight_from_row(row: &PgRow) -> Result<Flight, StoreError> {
    let id: String = row.try_get(0)?;
    let corrupt = |column: &str| StoreError::Corrupt(format!("flight {id} has no {column}"));
    let text = |i: usize, column: &str| -> Result<String, StoreError> {
        row.try_get::<Option<String>, _>(i)?.ok_or_else(|| corrupt(column))
    };
    let time = |i: usize, column: &str| -> Result<DateTime<Utc>, StoreError> {
        row.try_get::<Option<DateTime<Utc>>, _>(i)?.ok_or_else(|| corrupt(column))
    };
    let position: Option<Json<Position>> = row.try_get(18)?;
    Ok(Flight {
        carrier: text(1, "carrier")?,
        number: text(2, "number")?,
        date: row.try_get::<Option<NaiveDate>, _>(3)?.ok_or_else(|| corrupt("date"))?,
        origin: text(4, "origin")?,
        destination: text(5, "destination")?,
        status: text(6, "status")?,
        scheduled_departure: time(7, "scheduled_departure")?,
        scheduled_arrival: time(8, "scheduled_arrival")?,
        estimated_departure: row.try_get(9)?,
        estimated_arrival: row.try_get(10)?,
        actual_departure: row.try_get(11)?,
        actual_arrival: row.try_get(12)?,
        departure_delay_minutes: row.try_get(13)?,
        arrival_delay_minutes: row.try_get(14)?,
        tail_number: row.try_get(15)?,
        gate: row.try_get(16)?,
        terminal: row.try_get(17)?,
        position: position.map(|p| p.0),
        updated_at: row.try_get(19)?,
        flight_id: id,
    })
}
