//! Shapes a batch before it reaches an engine: one statement may touch a row only once, and both engines
//! must decide the same way which snapshot of a flight is the newest.

use std::collections::HashSet;

use crate::domain::{FlightId, Snapshot};

/// The batch's distinct events (first delivery of each `event_id`), sorted by `event_id` so concurrent
/// writers take index locks in the same order.
pub(crate) fn distinct_events(batch: &[Snapshot]) -> Vec<&Snapshot> {
    let mut seen = HashSet::with_capacity(batch.len());
    let mut rows: Vec<&Snapshot> = batch.iter().filter(|s| seen.insert(s.event_id())).collect();
    rows.sort_unstable_by(|a, b| a.event_id().cmp(b.event_id()));
    rows
}

/// The newest snapshot of each flight, by greatest `(event_time, event_id)` (byte order of the id, as in
/// both schemas), sorted by flight id.
pub(crate) fn newest_per_flight<'a>(rows: impl IntoIterator<Item = &'a Snapshot>) -> Vec<(FlightId, &'a Snapshot)> {
    let mut keyed: Vec<(FlightId, &Snapshot)> = rows.into_iter().map(|s| (s.flight_id(), s)).collect();
    keyed.sort_unstable_by(|(fa, a), (fb, b)| fa.cmp(fb).then_with(|| b.order_key().cmp(&a.order_key())));
    keyed.dedup_by(|later, first| later.0 == first.0);
    keyed
}
