//! The sqlite engine (skeleton: connection and migration live here; writes in `write.rs`, reads in `read.rs`).

mod read;
mod write;

use crate::config::DbConfig;
use crate::storage::StoreError;

/// The sqlite engine.
#[derive(Clone)]
pub struct SqliteStore {}

impl SqliteStore {
    pub(crate) async fn connect(_config: &DbConfig) -> Result<Self, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }
}
