//! What each route does: parameters in, store call, JSON body out.
//!
//! List routes ask the store for one row more than the page, so whether a next page exists is known
//! without a count, and sign the last row's keyset into `next_cursor`.

use serde::Serialize;

use contrail_shared::domain::FlightId;
use contrail_shared::storage::{
    BoardFilter, BoardKind, CarrierStats, Flight, FlightFilter, FlightPosition, GroupedStats, GroupedStatsFilter,
    HistoryEntry, HourStats, Keyset, PositionFilter, StatsFilter, StatsGrouping,
};
use contrail_shared::telemetry::ErrorChain;

use crate::State;
use crate::error::{ApiError, ErrorCode};
use crate::params::{Params, parse_airport};
use crate::route::Route;

/// How long clients may reuse a successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Data that changes every few seconds: `private, max-age=5`.
    Short,
    /// Never reuse (health, readiness).
    NoStore,
}

/// A successful answer: a JSON body and how long it may be cached.
#[derive(Debug)]
pub struct Reply {
    /// JSON text (a `String`, so the response takes it without re-checking its UTF-8).
    pub body: String,
    pub freshness: Freshness,
}

#[derive(Serialize)]
struct Page<'a, T> {
    items: &'a [T],
    next_cursor: Option<String>,
}

/// Runs a GET on a matched route.
pub async fn get(state: &State, route: Route<'_>, query: Option<&str>) -> Result<Reply, ApiError> {
    match route {
        Route::Health => health(query),
        Route::Ready => ready(state, query).await,
        Route::Flights => flights(state, query).await,
        Route::Flight(id) => flight(state, id, query).await,
        Route::FlightEvents(id) => events(state, id, query).await,
        Route::Board(code, kind) => board(state, code, kind, query).await,
        Route::Stats => stats(state, query).await,
        Route::Positions => positions(state, query).await,
    }
}

/// Liveness: answers without touching the database, so anonymous calls cost no connection.
fn health(query: Option<&str>) -> Result<Reply, ApiError> {
    Params::parse(query, &[])?;
    Ok(Reply { body: r#"{"status":"ok"}"#.to_owned(), freshness: Freshness::NoStore })
}

/// Readiness: the database answers a round trip.
async fn ready(state: &State, query: Option<&str>) -> Result<Reply, ApiError> {
    Params::parse(query, &[])?;
    // Whatever the cause, a database that does not answer a ping makes the service unavailable.
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %ErrorChain(&e), "readiness check failed");
        ApiError::new(ErrorCode::DatabaseUnavailable, "the database is not answering")
    })?;
    Ok(Reply { body: r#"{"status":"ok"}"#.to_owned(), freshness: Freshness::NoStore })
}

async fn flights(state: &State, query: Option<&str>) -> Result<Reply, ApiError> {
    let p = Params::parse(
        query,
        &[
            "carrier",
            "origin",
            "destination",
            "date",
            "status",
            "departing_after",
            "departing_before",
            "limit",
            "cursor",
        ],
    )?;
    let filter = FlightFilter {
        carrier: p.carrier("carrier")?,
        origin: p.airport("origin")?,
        destination: p.airport("destination")?,
        date: p.date("date")?,
        statuses: p.statuses("status")?,
        departing_after: p.time("departing_after")?,
        departing_before: p.time("departing_before")?,
    };
    let limit = p.limit()?;
    let scope = scope("flights", &filter);
    let after = p.cursor().map(|c| state.cursors.decode(&scope, c)).transpose()?;
    let rows = state.store.list_flights(&filter, after.as_ref(), limit + 1).await?;
    page(state, &scope, rows, limit, |f| Keyset { time: f.scheduled_departure, id: f.flight_id.clone() })
}

async fn flight(state: &State, id: &str, query: Option<&str>) -> Result<Reply, ApiError> {
    Params::parse(query, &[])?;
    let id = parse_flight_id(id)?;
    match state.store.get_flight(&id).await? {
        Some(flight) => Ok(Reply { body: to_json(&flight)?, freshness: Freshness::Short }),
        None => Err(ApiError::not_found(format!("no current flight {id}"))),
    }
}

async fn events(state: &State, id: &str, query: Option<&str>) -> Result<Reply, ApiError> {
    let p = Params::parse(query, &["limit", "cursor"])?;
    let id = parse_flight_id(id)?;
    let limit = p.limit()?;
    let scope = scope("events", &id);
    let after = p.cursor().map(|c| state.cursors.decode(&scope, c)).transpose()?;
    let rows = state.store.flight_history(&id, after.as_ref(), limit + 1).await?;
    if rows.is_empty() && after.is_none() {
        return Err(ApiError::not_found(format!("no events for flight {id}")));
    }
    page(state, &scope, rows, limit, |e: &HistoryEntry| Keyset { time: e.event_time, id: e.event_id.clone() })
}

async fn board(state: &State, code: &str, kind: BoardKind, query: Option<&str>) -> Result<Reply, ApiError> {
    let p = Params::parse(query, &["date", "carrier", "status", "limit", "cursor"])?;
    let filter = BoardFilter {
        airport: parse_airport("airport code", code)?,
        date: p.required_date("date")?,
        kind,
        carrier: p.carrier("carrier")?,
        statuses: p.statuses("status")?,
    };
    let limit = p.limit()?;
    let scope = scope("board", &filter);
    let after = p.cursor().map(|c| state.cursors.decode(&scope, c)).transpose()?;
    let rows = state.store.board(&filter, after.as_ref(), limit + 1).await?;
    page(state, &scope, rows, limit, |f: &Flight| Keyset {
        time: match kind {
            BoardKind::Departures => f.scheduled_departure,
            BoardKind::Arrivals => f.scheduled_arrival,
        },
        id: f.flight_id.clone(),
    })
}

async fn stats(state: &State, query: Option<&str>) -> Result<Reply, ApiError> {
    let p = Params::parse(query, &["date", "origin", "destination", "carrier", "group_by", "airport"])?;
    if let Some(grouping) = p.grouping("group_by")? {
        return grouped_stats(state, &p, grouping).await;
    }
    if p.has("airport") {
        return Err(ApiError::invalid("airport", "needs group_by=hour or group_by=carrier"));
    }
    let filter = StatsFilter {
        date: p.required_date("date")?,
        origin: p.airport("origin")?,
        destination: p.airport("destination")?,
        carrier: p.carrier("carrier")?,
    };
    let stats = state.store.stats(&filter).await?;
    Ok(Reply { body: to_json(&stats)?, freshness: Freshness::Short })
}

#[derive(Serialize)]
struct GroupedStatsBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    hours: Option<&'a [HourStats]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    carriers: Option<&'a [CarrierStats]>,
}

/// `GET /stats?group_by=`: departures and arrivals side by side per hour or carrier.
async fn grouped_stats(state: &State, p: &Params, grouping: StatsGrouping) -> Result<Reply, ApiError> {
    let filter = GroupedStatsFilter {
        date: p.required_date("date")?,
        airport: p.airport("airport")?,
        origin: p.airport("origin")?,
        destination: p.airport("destination")?,
        carrier: p.carrier("carrier")?,
        grouping,
    };
    let stats = state.store.grouped_stats(&filter).await?;
    let body = match &stats {
        GroupedStats::Hours(hours) => GroupedStatsBody { hours: Some(hours), carriers: None },
        GroupedStats::Carriers(carriers) => GroupedStatsBody { hours: None, carriers: Some(carriers) },
    };
    Ok(Reply { body: to_json(&body)?, freshness: Freshness::Short })
}

async fn positions(state: &State, query: Option<&str>) -> Result<Reply, ApiError> {
    let p = Params::parse(query, &["include", "bbox", "carrier", "origin", "destination", "limit", "cursor"])?;
    let filter = PositionFilter {
        statuses: p.position_statuses("include")?,
        bbox: p.bbox("bbox")?,
        carrier: p.carrier("carrier")?,
        origin: p.airport("origin")?,
        destination: p.airport("destination")?,
    };
    let limit = p.limit()?;
    let scope = scope("positions", &filter);
    // Pages are keyed by flight id alone (positions move, ids do not); the cursor's time is unused.
    let after = p.cursor().map(|c| state.cursors.decode(&scope, c)).transpose()?;
    let rows = state.store.positions(&filter, after.as_ref().map(|k| k.id.as_str()), limit + 1).await?;
    page(state, &scope, rows, limit, |f: &FlightPosition| Keyset {
        time: chrono::DateTime::UNIX_EPOCH,
        id: f.flight_id.clone(),
    })
}

/// Cuts the extra row off and signs the position after the page's last row.
fn page<T: Serialize>(
    state: &State,
    scope: &str,
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> Keyset,
) -> Result<Reply, ApiError> {
    let limit = limit as usize;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| state.cursors.encode(scope, &key(last)))
    } else {
        None
    };
    Ok(Reply { body: to_json(&Page { items: &rows, next_cursor })?, freshness: Freshness::Short })
}

fn parse_flight_id(id: &str) -> Result<FlightId, ApiError> {
    FlightId::parse(id).map_err(|e| ApiError::invalid("flight_id", e))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "response serialization failed");
        ApiError::new(ErrorCode::Internal, "internal error")
    })
}

/// What a cursor is bound to: the route and its whole filter as serialized, so a filter field added
/// later is part of every cursor's scope without anyone listing it here.
fn scope(route: &str, filter: &impl Serialize) -> String {
    let filter = serde_json::to_string(filter).expect("filters are plain data with string keys: they serialize");
    format!("{route}|{filter}")
}
