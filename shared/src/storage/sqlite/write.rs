//! Batch writes on sqlite: history, current state, dead letters, retention.

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::deadletter::DeadLetter;
use crate::domain::Snapshot;
use crate::storage::{StoreError, StoredDeadLetter, WriteOutcome};

impl SqliteStore {
    pub(crate) async fn write_snapshots(&self, _batch: &[Snapshot]) -> Result<WriteOutcome, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn drop_history_before(&self, _keep_from: DateTime<Utc>) -> Result<u64, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn put_dead_letters(&self, _letters: &[DeadLetter]) -> Result<u64, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn list_dead_letters(&self, _limit: u32) -> Result<Vec<StoredDeadLetter>, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }

    pub(crate) async fn delete_dead_letters(&self, _ids: &[i64]) -> Result<u64, StoreError> {
        Err(StoreError::Config("not implemented".into()))
    }
}
