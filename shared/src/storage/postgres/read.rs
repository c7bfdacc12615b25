//! Reads on postgres for the query API: flights, boards, history, positions, stats, with keyset pagination.
//!
//! Statements are assembled from fixed fragments; every value is a bound parameter. Each filter combination
//! is its own prepared statement, so the planner always sees the partial indexes it can use.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};

use super::PgStore;
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
     event_time FROM flights WHERE NOT removed";

const POSITION_COLUMNS: &str =
    "SELECT flight_id, carrier, number, origin, destination, position, event_time FROM flights";

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

    pub(crate) async fn grouped_stats(&self, filter: &GroupedStatsFilter) -> Result<GroupedStats, StoreError> {
        let key = |time: &str| match filter.grouping {
            StatsGrouping::Hour => format!("date_trunc('hour', {time}, 'UTC')"),
            StatsGrouping::Carrier => "carrier".to_owned(),
        };
        let mut q = QueryBuilder::<Postgres>::new("");
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
                 count(*) FILTER (WHERE {actual} IS NOT NULL AND {delay} IS NOT NULL), \
                 coalesce(sum({delay}) FILTER (WHERE {actual} IS NOT NULL), 0)::float8, \
                 count(*) FILTER (WHERE {actual} IS NOT NULL AND {delay} < "
            ));
            q.push_bind(ON_TIME_MINUTES).push(") FROM flights WHERE NOT removed AND date = ");
            q.push_bind(filter.date);
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
        let side = |row: &PgRow| -> Result<(Side, SideTotals), StoreError> {
            let side = if row.try_get::<i32, _>(0)? == 0 { Side::Departures } else { Side::Arrivals };
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
                    let hour: Option<DateTime<Utc>> = row.try_get(1)?;
                    acc.add(
                        hour.ok_or_else(|| StoreError::Corrupt("a flight has no scheduled time".into()))?,
                        s,
                        totals,
                    );
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

/// The positions statement after `select` (the columns, or an `EXPLAIN` of them in tests), ordered by
/// flight id: a key that does not move while positions update, so pages neither skip nor repeat.
fn positions_query(select: &str, filter: &PositionFilter, after: Option<&str>, limit: u32) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::<Postgres>::new(select);
    q.push(positions_where("NOT removed", filter.statuses));
    push_equals(
        &mut q,
        &[
            ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
            ("origin", filter.origin.as_ref().map(|o| o.as_str())),
            ("destination", filter.destination.as_ref().map(|d| d.as_str())),
        ],
    );
    if let Some(bbox) = &filter.bbox {
        push_bbox(&mut q, "(position->>'lat')::float8", "(position->>'lon')::float8", bbox);
    }
    if let Some(id) = after {
        q.push(" AND flight_id > ").push_bind(id.to_owned());
    }
    q.push(" ORDER BY flight_id LIMIT ").push_bind(i64::from(limit));
    q
}

fn position_from_row(row: &PgRow) -> Result<FlightPosition, StoreError> {
    let id: String = row.try_get(0)?;
    let corrupt = |column: &str| StoreError::Corrupt(format!("flight {id} has no {column}"));
    let text = |i: usize, column: &str| -> Result<String, StoreError> {
        row.try_get::<Option<String>, _>(i)?.ok_or_else(|| corrupt(column))
    };
    let position = row.try_get::<Option<Json<Position>>, _>(5)?.ok_or_else(|| corrupt("position"))?.0;
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
        event_time: row.try_get(6)?,
        flight_id: id,
    })
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
        carrier: stored_code("carrier", &text(1, "carrier")?)?,
        number: stored_code("number", &text(2, "number")?)?,
        date: row.try_get::<Option<NaiveDate>, _>(3)?.ok_or_else(|| corrupt("date"))?,
        origin: stored_code("origin", &text(4, "origin")?)?,
        destination: stored_code("destination", &text(5, "destination")?)?,
        status: stored_code("status", &text(6, "status")?)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;
    use crate::domain::{Airport, Carrier};
    use crate::storage::{BBox, PositionStatuses};

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
            let explain = format!("EXPLAIN {POSITION_COLUMNS}");
            let rows = positions_query(&explain, filter, after, 501).build().fetch_all(&store.pool).await.unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
            let plan = plan.join("\n");
            assert!(plan.contains("flights_positions_idx"), "{filter:?}:\n{plan}");
            assert!(!plan.contains("Seq Scan"), "{filter:?}:\n{plan}");
        }
        // The statement finds what it should, too: removed rows and other statuses are not in the index.
        let rows = positions_query(POSITION_COLUMNS, &departed, None, 100_000).build().fetch_all(&store.pool).await;
        let expected = (1..=40_000).filter(|i| i % 10 < 2 && i % 97 != 0).count();
        assert_eq!(rows.unwrap().len(), expected);
    }
}
