//! The local stack's redrive over the store's dead-letter table.

use contrail_redrive::{list_local, redrive_local};
use contrail_testkit::store::TestStore;

use crate::common::{self, poison_letter, valid_letter};
use contrail_testkit::on_both_engines;

async fn the_local_redrive_replays_the_dead_letter_table(db: TestStore) {
    let store = db.store.clone();
    store
        .put_dead_letters(&[
            valid_letter(1, "l-1", "2013-01-01T09:00:00Z", "scheduled"),
            poison_letter(2),
            valid_letter(3, "l-3", "2013-01-01T09:40:00Z", "boarding"),
        ])
        .await
        .unwrap();

    let dry = redrive_local(&store, true, 100).await.unwrap();
    assert_eq!((dry.examined, dry.replayed, dry.stored, dry.dry_run), (3, 2, 0, true));
    assert_eq!(list_local(&store, 100).await.unwrap().len(), 3, "a dry run deletes nothing");
    assert_eq!(common::status(&store).await, None);

    let report = redrive_local(&store, false, 100).await.unwrap();
    assert_eq!((report.examined, report.replayed, report.stored, report.duplicates), (3, 2, 2, 0));
    assert_eq!(report.still_failing.len(), 1);
    assert_eq!(report.still_failing[0].reason.as_str(), "invalid_json");
    let left = list_local(&store, 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].letter.offset, 2);
    assert_eq!(report.still_failing[0].id, left[0].id.to_string());
    assert_eq!(common::status(&store).await.as_deref(), Some("boarding"));

    // The same letters again (a second dead-lettering of the same records): nothing new is stored.
    store.put_dead_letters(&[valid_letter(1, "l-1", "2013-01-01T09:00:00Z", "scheduled")]).await.unwrap();
    let again = redrive_local(&store, false, 100).await.unwrap();
    assert_eq!((again.replayed, again.stored, again.duplicates), (1, 0, 1));
    assert_eq!(common::history_len(&store).await, 2);
}
on_both_engines!(the_local_redrive_replays_the_dead_letter_table);
