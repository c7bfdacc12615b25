//! Reads on postgres for the query API: flights, boards, history, stats, with keyset pagination.

use super::PgStore;
use crate::domain::FlightId;
use crate::storage::{BoardFilter, Flight, FlightFilter, HistoryEntry, Keyset, Stats, StatsFilter, StoreError};

impl PgStore {
    pub(crate) async fn get_flight(&self, _id: &FlightId) -> Result<Option<Flight>, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn list_flights(
        &self,
        _filter: &FlightFilter,
        _after: Option<&Keyset>,
        _limit: u32,
    ) -> Result<Vec<Flight>, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn board(
        &self,
        _filter: &BoardFilter,
        _after: Option<&Keyset>,
        _limit: u32,
    ) -> Result<Vec<Flight>, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn flight_history(
        &self,
        _id: &FlightId,
        _after: Option<&Keyset>,
        _limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn stats(&self, _filter: &StatsFilter) -> Result<Stats, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }
}
