//! Reads for the query API, written once for both engines: flights, boards, history, positions, stats, with
//! keyset pagination. What really differs between the engines (how a time or a date is bound and read, the
//! aggregate syntax, the hour of a time) is the small [`Dialect`] and [`ReadRow`] each engine implements
//! beside its pool.
//!
//! Statements are assembled from fixed fragments; every value a request carries is a bound parameter. Each filter combination
//! is its own prepared statement, so the planner always sees the partial indexes it can use.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt as _;
use sqlx::{Database, Executor, IntoArguments, Pool, QueryBuilder};

use crate::domain::{Carrier, FlightId, FlightStatus, Position};
use crate::storage::model::{GroupAccumulator, ON_TIME_MINUTES, Side, SideTotals, StatsAccumulator, stored_code};
use crate::storage::{
    BBox, BoardFilter, BoardKind, CarrierStats, Flight, FlightFilter, FlightPosition, GroupedStats, GroupedStatsFilter,
    HistoryEntry, HourStats, Keyset, PositionFilter, PositionStatuses, Stats, StatsFilter, StatsGrouping, StoreError,
    state,
};

/// The SQL and the bound values in which the engines differ.
pub(crate) trait Dialect: Database {
    /// The test that a state row is not removed.
    const NOT_REMOVED: &'static str;
    /// The positions statement's `FROM` clause.
    const POSITIONS_FROM: &'static str;
    /// The history payload as JSON text.
    const PAYLOAD: &'static str;
    /// The position's latitude and longitude as numbers.
    const LAT_LON: (&'static str, &'static str);

    fn push_text(q: &mut QueryBuilder<Self>, v: &str);
    fn push_int(q: &mut QueryBuilder<Self>, v: i64);
    fn push_float(q: &mut QueryBuilder<Self>, v: f64);
    fn push_time(q: &mut QueryBuilder<Self>, t: DateTime<Utc>);
    fn push_date(q: &mut QueryBuilder<Self>, d: NaiveDate);
    /// Appends ` AND status IN (…)` for a non-empty list.
    fn push_statuses(q: &mut QueryBuilder<Self>, statuses: &[FlightStatus]);
    /// The start of the UTC hour of the time column `time`.
    fn hour(time: &str) -> String;
    /// The number of rows of the group for which `condition` holds.
    fn count_if(condition: &str) -> String;
    /// The sum of `value` over the rows of the group for which `condition` holds, 0 for none, as a float.
    fn sum_if(condition: &str, value: &str) -> String;
}

/// Typed access to the columns of a result row, each engine decoding its own representation.
pub(crate) trait ReadRow {
    /// Text borrowed from the row: codes are parsed from it without a copy. (SQLite keeps the text form of a
    /// value once it is read so, as everywhere here, read each column of a row once and as one kind.)
    fn str(&self, i: usize) -> Result<Option<&str>, StoreError>;
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn float(&self, i: usize) -> Result<Option<f64>, StoreError>;
    fn flag(&self, i: usize) -> Result<bool, StoreError>;
    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError>;
    fn date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError>;
    fn position(&self, i: usize) -> Result<Option<Position>, StoreError>;

    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.str(i)?.map(str::to_owned))
    }
    /// A count; a missing one is 0 (SQLite's `sum` of a condition that is NULL on every row of the group).
    fn count(&self, i: usize) -> Result<u64, StoreError> {
        Ok(self.int(i)?.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }
}

/// Every whole-flight read: the state columns up to `event_time`, of rows not removed. Each statement
/// builder takes a `prefix`: empty, or `EXPLAIN` when a test checks the plan of the very statement served.
fn flight_select<D: Dialect>(prefix: &str) -> QueryBuilder<D> {
    static COLUMNS: LazyLock<String> = LazyLock::new(state::flight_columns);
    let mut q = QueryBuilder::new(format!("{prefix}SELECT {} FROM flights WHERE ", *COLUMNS));
    q.push(D::NOT_REMOVED);
    q
}

/// The columns of a positions page.
const POSITION_COLUMNS: &str = "SELECT flight_id, carrier, number, origin, destination, position, event_time";

/// The reads over one engine's pool.
pub(crate) struct Reader<'p, D: Database>(pub(crate) &'p Pool<D>);

impl<D> Reader<'_, D>
where
    D: Dialect,
    D::Row: ReadRow,
    D::Arguments: IntoArguments<D>,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
{
    pub(crate) async fn get_flight(&self, id: &FlightId) -> Result<Option<Flight>, StoreError> {
        let row = flight_query::<D>("", id).build().fetch_optional(self.0).await?;
        row.as_ref().map(flight_from_row).transpose()
    }

    pub(crate) async fn list_flights(
        &self,
        filter: &FlightFilter,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<Flight>, StoreError> {
        self.decode_each(flights_query::<D>("", filter, after, limit), flight_from_row).await
    }

    pub(crate) async fn board(
        &self,
        filter: &BoardFilter,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<Flight>, StoreError> {
        self.decode_each(board_query::<D>("", filter, after, limit), flight_from_row).await
    }

    pub(crate) async fn flight_history(
        &self,
        id: &FlightId,
        after: Option<&Keyset>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.decode_each(history_query::<D>("", id, after, limit), history_from_row).await
    }

    pub(crate) async fn grouped_stats(&self, filter: &GroupedStatsFilter) -> Result<GroupedStats, StoreError> {
        let rows = grouped_stats_query::<D>("", filter).build().fetch_all(self.0).await?;
        grouped_from_rows(&rows, filter.grouping)
    }

    pub(crate) async fn positions(
        &self,
        filter: &PositionFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FlightPosition>, StoreError> {
        self.decode_each(positions_query::<D>("", filter, after, limit), position_from_row).await
    }

    /// Runs a page's statement and decodes each row as it arrives, so decoding overlaps the part of the
    /// result still on the wire instead of waiting for all of it.
    async fn decode_each<T>(
        &self,
        mut q: QueryBuilder<D>,
        decode: impl Fn(&D::Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut rows = q.build().fetch(self.0);
        let mut decoded = Vec::new();
        while let Some(row) = rows.try_next().await? {
            decoded.push(decode(&row)?);
        }
        Ok(decoded)
    }

    pub(crate) async fn stats(&self, filter: &StatsFilter) -> Result<Stats, StoreError> {
        let rows = stats_query::<D>("", filter).build().fetch_all(self.0).await?;
        let mut acc = StatsAccumulator::default();
        for row in &rows {
            let status = row.str(0)?.ok_or_else(|| StoreError::Corrupt("a flight has no status".into()))?;
            acc.add_group(
                stored_code("status", status)?,
                row.count(1)?,
                row.count(2)?,
                row.float(3)?.unwrap_or(0.0),
                row.count(4)?,
                row.float(5)?.unwrap_or(0.0),
                row.count(6)?,
            );
        }
        Ok(acc.finish())
    }
}

/// A single flight by id.
pub(crate) fn flight_query<D: Dialect>(prefix: &str, id: &FlightId) -> QueryBuilder<D> {
    let mut q = flight_select::<D>(prefix);
    q.push(" AND flight_id = ");
    D::push_text(&mut q, id.as_str());
    q
}

/// A page of `GET /flights`.
pub(crate) fn flights_query<D: Dialect>(
    prefix: &str,
    filter: &FlightFilter,
    after: Option<&Keyset>,
    limit: u32,
) -> QueryBuilder<D> {
    let mut q = flight_select::<D>(prefix);
    push_equals(
        &mut q,
        &[
            ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
            ("origin", filter.origin.as_ref().map(|o| o.as_str())),
            ("destination", filter.destination.as_ref().map(|d| d.as_str())),
        ],
    );
    if let Some(date) = filter.date {
        q.push(" AND date = ");
        D::push_date(&mut q, date);
    }
    D::push_statuses(&mut q, &filter.statuses);
    if let Some(t) = filter.departing_after {
        q.push(" AND scheduled_departure >= ");
        D::push_time(&mut q, t);
    }
    if let Some(t) = filter.departing_before {
        q.push(" AND scheduled_departure < ");
        D::push_time(&mut q, t);
    }
    push_page(&mut q, "scheduled_departure", "flight_id", after, limit);
    q
}

/// A page of an airport's board.
pub(crate) fn board_query<D: Dialect>(
    prefix: &str,
    filter: &BoardFilter,
    after: Option<&Keyset>,
    limit: u32,
) -> QueryBuilder<D> {
    let (airport_column, time_column) = match filter.kind {
        BoardKind::Departures => (" AND origin = ", "scheduled_departure"),
        BoardKind::Arrivals => (" AND destination = ", "scheduled_arrival"),
    };
    let mut q = flight_select::<D>(prefix);
    q.push(" AND date = ");
    D::push_date(&mut q, filter.date);
    q.push(airport_column);
    D::push_text(&mut q, filter.airport.as_str());
    push_equals(&mut q, &[("carrier", filter.carrier.as_ref().map(|c| c.as_str()))]);
    D::push_statuses(&mut q, &filter.statuses);
    push_page(&mut q, time_column, "flight_id", after, limit);
    q
}

/// A page of one flight's history.
pub(crate) fn history_query<D: Dialect>(
    prefix: &str,
    id: &FlightId,
    after: Option<&Keyset>,
    limit: u32,
) -> QueryBuilder<D> {
    let mut q = QueryBuilder::<D>::new(format!(
        "{prefix}SELECT event_id, flight_id, event_time, removed, {}, received_at FROM flight_events WHERE flight_id = ",
        D::PAYLOAD
    ));
    D::push_text(&mut q, id.as_str());
    push_page(&mut q, "event_time", "event_id", after, limit);
    q
}

/// One date's departures and arrivals, per side and group key.
pub(crate) fn grouped_stats_query<D: Dialect>(prefix: &str, filter: &GroupedStatsFilter) -> QueryBuilder<D> {
    let key = |time: &str| match filter.grouping {
        StatsGrouping::Hour => D::hour(time),
        StatsGrouping::Carrier => "carrier".to_owned(),
    };
    let mut q = QueryBuilder::<D>::new(prefix);
    for (side, time, airport, actual, delay) in [
        ("d", "scheduled_departure", "origin", "actual_departure", "departure_delay_minutes"),
        ("a", "scheduled_arrival", "destination", "actual_arrival", "arrival_delay_minutes"),
    ] {
        let key = key(time);
        if side == "a" {
            q.push(" UNION ALL ");
        }
        q.push(format_args!(
            "SELECT '{side}', {key}, count(*), {}, {}, {} FROM flights WHERE {} AND date = ",
            D::count_if(&format!("{actual} IS NOT NULL AND {delay} IS NOT NULL")),
            D::sum_if(&format!("{actual} IS NOT NULL"), delay),
            on_time::<D>(actual, delay),
            D::NOT_REMOVED,
        ));
        D::push_date(&mut q, filter.date);
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
    q
}

/// One date's flights per status.
pub(crate) fn stats_query<D: Dialect>(prefix: &str, filter: &StatsFilter) -> QueryBuilder<D> {
    let mut q = QueryBuilder::<D>::new(format!(
        "{prefix}SELECT status, count(*), {}, {}, {}, {}, {} FROM flights WHERE {} AND date = ",
        D::count_if("actual_departure IS NOT NULL AND departure_delay_minutes IS NOT NULL"),
        D::sum_if("actual_departure IS NOT NULL", "departure_delay_minutes"),
        D::count_if("actual_arrival IS NOT NULL AND arrival_delay_minutes IS NOT NULL"),
        D::sum_if("actual_arrival IS NOT NULL", "arrival_delay_minutes"),
        on_time::<D>("actual_arrival", "arrival_delay_minutes"),
        D::NOT_REMOVED,
    ));
    D::push_date(&mut q, filter.date);
    push_equals(
        &mut q,
        &[
            ("origin", filter.origin.as_ref().map(|o| o.as_str())),
            ("destination", filter.destination.as_ref().map(|d| d.as_str())),
            ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
        ],
    );
    q.push(" GROUP BY status");
    q
}

/// The count of the group's flights with the actual time `actual` that were on time. The threshold is a
/// constant of the code, written into the statement like its column names.
fn on_time<D: Dialect>(actual: &str, delay: &str) -> String {
    D::count_if(&format!("{actual} IS NOT NULL AND {delay} < {ON_TIME_MINUTES}"))
}

/// A page of positions, ordered by flight id: a key that does not move while positions update, so pages
/// neither skip nor repeat.
pub(crate) fn positions_query<D: Dialect>(
    prefix: &str,
    filter: &PositionFilter,
    after: Option<&str>,
    limit: u32,
) -> QueryBuilder<D> {
    let mut q = QueryBuilder::<D>::new(format!("{prefix}{POSITION_COLUMNS} {}", D::POSITIONS_FROM));
    q.push(positions_where(D::NOT_REMOVED, filter.statuses));
    push_equals(
        &mut q,
        &[
            ("carrier", filter.carrier.as_ref().map(|c| c.as_str())),
            ("origin", filter.origin.as_ref().map(|o| o.as_str())),
            ("destination", filter.destination.as_ref().map(|d| d.as_str())),
        ],
    );
    if let Some(bbox) = &filter.bbox {
        push_bbox(&mut q, bbox);
    }
    if let Some(id) = after {
        q.push(" AND flight_id > ");
        D::push_text(&mut q, id);
    }
    q.push(" ORDER BY flight_id LIMIT ");
    D::push_int(&mut q, i64::from(limit));
    q
}

/// The positions query's row set. Its first three terms are, word for word, the predicate of SQLite's
/// partial index `flights_positions_idx` (SQLite uses a partial index only when the query repeats its
/// terms); PostgreSQL's index leaves out `position IS NOT NULL` (migration `*_positions_hot.sql`: a column
/// in an index predicate would make every position update non-HOT), which the query's terms still imply.
fn positions_where(not_removed: &str, statuses: PositionStatuses) -> String {
    let mut sql = format!(" WHERE status IN ('airborne', 'departed') AND {not_removed} AND position IS NOT NULL");
    if statuses == PositionStatuses::Airborne {
        // Not `status = 'airborne'`: SQLite would take that equality to the status index and sort.
        sql.push_str(" AND status <> 'departed'");
    }
    sql
}

/// Appends the box test on the position's latitude and longitude, edges included; a box whose `min_lon`
/// exceeds its `max_lon` wraps around the antimeridian.
fn push_bbox<D: Dialect>(q: &mut QueryBuilder<D>, bbox: &BBox) {
    let (lat, lon) = D::LAT_LON;
    q.push(format_args!(" AND {lat} BETWEEN "));
    D::push_float(q, bbox.min_lat);
    q.push(" AND ");
    D::push_float(q, bbox.max_lat);
    if bbox.crosses_antimeridian() {
        q.push(format_args!(" AND ({lon} >= "));
        D::push_float(q, bbox.min_lon);
        q.push(format_args!(" OR {lon} <= "));
        D::push_float(q, bbox.max_lon);
        q.push(")");
    } else {
        q.push(format_args!(" AND {lon} BETWEEN "));
        D::push_float(q, bbox.min_lon);
        q.push(" AND ");
        D::push_float(q, bbox.max_lon);
    }
}

/// Appends ` AND {column} = <bind>` for each filter that is set, in the order given.
fn push_equals<D: Dialect>(q: &mut QueryBuilder<D>, filters: &[(&str, Option<&str>)]) {
    for (column, value) in filters {
        if let Some(value) = value {
            q.push(format_args!(" AND {column} = "));
            D::push_text(q, value);
        }
    }
}

/// Keyset continuation and order: rows strictly after `after` by (`time_column`, `id_column`).
fn push_page<D: Dialect>(
    q: &mut QueryBuilder<D>,
    time_column: &str,
    id_column: &str,
    after: Option<&Keyset>,
    limit: u32,
) {
    if let Some(k) = after {
        q.push(format_args!(" AND ({time_column}, {id_column}) > ("));
        D::push_time(q, k.time);
        q.push(", ");
        D::push_text(q, &k.id);
        q.push(")");
    }
    q.push(format_args!(" ORDER BY {time_column}, {id_column} LIMIT "));
    D::push_int(q, i64::from(limit));
}

/// A row of [`state::flight_columns`] as the API serves it.
fn flight_from_row(row: &impl ReadRow) -> Result<Flight, StoreError> {
    let id = row.text(0)?.ok_or_else(|| StoreError::Corrupt("a flight has no id".into()))?;
    let corrupt = |column: &str| missing(&id, column);
    let time = |i: usize, column: &str| row.time(i)?.ok_or_else(|| corrupt(column));
    Ok(Flight {
        carrier: code(row, 1, "carrier", &id)?,
        number: code(row, 2, "number", &id)?,
        date: row.date(3)?.ok_or_else(|| corrupt("date"))?,
        origin: code(row, 4, "origin", &id)?,
        destination: code(row, 5, "destination", &id)?,
        status: code(row, 6, "status", &id)?,
        scheduled_departure: time(7, "scheduled_departure")?,
        scheduled_arrival: time(8, "scheduled_arrival")?,
        estimated_departure: row.time(9)?,
        estimated_arrival: row.time(10)?,
        actual_departure: row.time(11)?,
        actual_arrival: row.time(12)?,
        departure_delay_minutes: row.float(13)?,
        arrival_delay_minutes: row.float(14)?,
        tail_number: row.text(15)?,
        gate: row.text(16)?,
        terminal: row.text(17)?,
        position: row.position(18)?,
        updated_at: time(19, "event_time")?,
        flight_id: id,
    })
}

/// A row of [`POSITION_COLUMNS`].
fn position_from_row(row: &impl ReadRow) -> Result<FlightPosition, StoreError> {
    let id = row.text(0)?.ok_or_else(|| StoreError::Corrupt("a flight has no id".into()))?;
    let corrupt = |column: &str| missing(&id, column);
    let position = row.position(5)?.ok_or_else(|| corrupt("position"))?;
    Ok(FlightPosition {
        carrier: code(row, 1, "carrier", &id)?,
        number: code(row, 2, "number", &id)?,
        origin: code(row, 3, "origin", &id)?,
        destination: code(row, 4, "destination", &id)?,
        lat: position.lat,
        lon: position.lon,
        heading_deg: position.heading_deg,
        altitude_ft: position.altitude_ft,
        ground_speed_kt: position.ground_speed_kt,
        event_time: row.time(6)?.ok_or_else(|| corrupt("event_time"))?,
        flight_id: id,
    })
}

/// A required code column of flight `id`, parsed from the row's own bytes.
fn code<T>(row: &impl ReadRow, i: usize, column: &str, id: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    stored_code(column, row.str(i)?.ok_or_else(|| missing(id, column))?)
}

/// A required column of flight `id` that the row holds as NULL.
fn missing(id: &str, column: &str) -> StoreError {
    StoreError::Corrupt(format!("flight {id} has no {column}"))
}

fn history_from_row(row: &impl ReadRow) -> Result<HistoryEntry, StoreError> {
    let event_id = row.text(0)?.ok_or_else(|| StoreError::Corrupt("a history row has no event id".into()))?;
    let corrupt = |column: &str| StoreError::Corrupt(format!("event {event_id} has no {column}"));
    let event = row
        .text(4)?
        .map(|p| serde_json::from_str(&p))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("history payload is not JSON: {e}")))?;
    Ok(HistoryEntry {
        flight_id: row.text(1)?.ok_or_else(|| corrupt("flight_id"))?,
        event_time: row.time(2)?.ok_or_else(|| corrupt("event_time"))?,
        removed: row.flag(3)?,
        event,
        received_at: row.time(5)?.ok_or_else(|| corrupt("received_at"))?,
        event_id,
    })
}

/// Folds the per-side rows of the grouped statistics statement.
fn grouped_from_rows(rows: &[impl ReadRow], grouping: StatsGrouping) -> Result<GroupedStats, StoreError> {
    Ok(match grouping {
        StatsGrouping::Hour => {
            let mut acc = GroupAccumulator::<DateTime<Utc>>::default();
            for row in rows {
                let (s, totals) = side_totals(row)?;
                let hour = row.time(1)?.ok_or_else(|| StoreError::Corrupt("a flight has no scheduled time".into()))?;
                acc.add(hour, s, totals);
            }
            GroupedStats::Hours(acc.finish().into_iter().map(|(hour, stats)| HourStats { hour, stats }).collect())
        }
        StatsGrouping::Carrier => {
            let mut acc = GroupAccumulator::<Carrier>::default();
            for row in rows {
                let (s, totals) = side_totals(row)?;
                let carrier = row.str(1)?.ok_or_else(|| StoreError::Corrupt("a flight has no carrier".into()))?;
                acc.add(stored_code("carrier", carrier)?, s, totals);
            }
            GroupedStats::Carriers(
                acc.finish().into_iter().map(|(carrier, stats)| CarrierStats { carrier, stats }).collect(),
            )
        }
    })
}

/// The side and totals of one row of the grouped statistics statement.
fn side_totals(row: &impl ReadRow) -> Result<(Side, SideTotals), StoreError> {
    let side = match row.text(0)?.as_deref() {
        Some("d") => Side::Departures,
        Some("a") => Side::Arrivals,
        other => return Err(StoreError::Corrupt(format!("grouped statistics returned side {other:?}"))),
    };
    let totals = SideTotals {
        flights: row.count(2)?,
        timed: row.count(3)?,
        delay_sum: row.float(4)?.unwrap_or(0.0),
        on_time: row.count(5)?,
    };
    Ok((side, totals))
}
