//! The route table: a path (without the API Gateway stage) to one of the API's routes.

use contrail_shared::storage::BoardKind;

/// A matched route and the path segments it captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// Liveness: the function answers; the database is not asked.
    Health,
    /// Readiness: the database answers a round trip (behind the authorizer).
    Ready,
    Flights,
    Flight(&'a str),
    FlightEvents(&'a str),
    Board(&'a str, BoardKind),
    Stats,
    Positions,
}

impl<'a> Route<'a> {
    /// Matches a path; `None` is a 404. A trailing slash is a different path.
    pub fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix('/')?;
        let segments: Vec<&str> = rest.split('/').collect();
        Some(match segments.as_slice() {
            ["health"] => Self::Health,
            ["health", "ready"] => Self::Ready,
            ["flights"] => Self::Flights,
            ["flights", id] if !id.is_empty() => Self::Flight(id),
            ["flights", id, "events"] if !id.is_empty() => Self::FlightEvents(id),
            ["airports", code, "departures"] if !code.is_empty() => Self::Board(code, BoardKind::Departures),
            ["airports", code, "arrivals"] if !code.is_empty() => Self::Board(code, BoardKind::Arrivals),
            ["stats"] => Self::Stats,
            ["positions"] => Self::Positions,
            _ => return None,
        })
    }

    /// The path parameter the route captures, named as in the API description (still percent-encoded).
    pub fn path_parameter(&self) -> Option<(&'static str, &'a str)> {
        match *self {
            Self::Flight(id) | Self::FlightEvents(id) => Some(("flight_id", id)),
            Self::Board(code, _) => Some(("code", code)),
            Self::Health | Self::Ready | Self::Flights | Self::Stats | Self::Positions => None,
        }
    }

    /// The route as written in the API description: the label of logs and metrics.
    pub fn template(&self) -> &'static str {
        match self {
            Self::Health => "/health",
            Self::Ready => "/health/ready",
            Self::Flights => "/flights",
            Self::Flight(_) => "/flights/{flight_id}",
            Self::FlightEvents(_) => "/flights/{flight_id}/events",
            Self::Board(_, BoardKind::Departures) => "/airports/{code}/departures",
            Self::Board(_, BoardKind::Arrivals) => "/airports/{code}/arrivals",
            Self::Stats => "/stats",
            Self::Positions => "/positions",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_matches_its_own_shape_only() {
        assert_eq!(Route::parse("/health"), Some(Route::Health));
        assert_eq!(Route::parse("/health/ready"), Some(Route::Ready));
        assert_eq!(Route::parse("/flights"), Some(Route::Flights));
        assert_eq!(Route::parse("/flights/X"), Some(Route::Flight("X")));
        assert_eq!(Route::parse("/flights/X/events"), Some(Route::FlightEvents("X")));
        assert_eq!(Route::parse("/airports/EWR/arrivals"), Some(Route::Board("EWR", BoardKind::Arrivals)));
        assert_eq!(Route::parse("/stats"), Some(Route::Stats));
        assert_eq!(Route::parse("/positions"), Some(Route::Positions));
        for miss in [
            "",
            "/",
            "/flights/",
            "/flights//events",
            "/airports/EWR",
            "/stats/x",
            "health",
            "/prod/health",
            "/health/",
            "/health/ready/",
            "/positions/",
        ] {
            assert_eq!(Route::parse(miss), None, "{miss}");
        }
    }
}
