//! The local stack's redrive: the store's own dead-letter table stands in for the queue
//! (`contrail dlq list`, `contrail redrive [--dry-run]`).

use contrail_shared::storage::{Store, StoreError, StoredDeadLetter};

use crate::replay::Replayer;
use crate::report::{RedriveReport, log_item};

/// The oldest `limit` dead letters of the local table, for `contrail dlq list`.
pub async fn list_local(store: &Store, limit: u32) -> Result<Vec<StoredDeadLetter>, StoreError> {
    store.list_dead_letters(limit).await
}

/// Replays the oldest `max` letters of the local table with the same code as the Lambda function and
/// removes those that replayed; report ids are the table's row ids. A dry run changes nothing.
pub async fn redrive_local(store: &Store, dry_run: bool, max: u32) -> Result<RedriveReport, StoreError> {
    let rows = store.list_dead_letters(max).await?;
    let mut report = RedriveReport::new(dry_run);
    let mut replayer = Replayer::new(store, dry_run);
    let mut done = Vec::new();
    for row in &rows {
        let id = row.id.to_string();
        let outcome = replayer.letter(&row.letter).await;
        log_item("local", &id, &row.letter.coordinates(), &outcome, dry_run);
        report.record(&id, &outcome);
        if outcome.is_replayed() && !dry_run {
            done.push(row.id);
        }
    }
    store.delete_dead_letters(&done).await?;
    Ok(report)
}
