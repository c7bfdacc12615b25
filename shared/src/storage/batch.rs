//! Shapes a batch before it reaches an engine: one statement may touch a row only once, both engines must
//! decide the same way which snapshot of a flight is the newest, and which reused `event_id` is a harmless
//! redelivery (the same content) or a conflict (other content under a stored id).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::domain::{FlightId, Snapshot};

/// SHA-256 of a snapshot's canonical content, kept with the event: a redelivery is recognised by comparing
/// 32 bytes, only for ids already stored, so new events pay one hash and nothing else.
pub type Digest = [u8; 32];

/// SHA-256 through the one cryptography library every binary already has (aws-lc, under rustls).
fn sha256(bytes: &[u8]) -> Digest {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A batch's distinct events and its repeated ids.
pub(crate) struct Distinct<'a> {
    /// The first delivery of each `event_id` with its index in the batch, sorted by `event_id` so concurrent
    /// writers take index locks in the same order.
    pub rows: Vec<(usize, &'a Snapshot)>,
    /// Later deliveries of an id in `rows`: (index of its first delivery, index of this one).
    pub repeats: Vec<(usize, usize)>,
}

/// Splits a batch into the first delivery of each `event_id` and the later ones.
pub(crate) fn distinct_events(batch: &[Snapshot]) -> Distinct<'_> {
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    let mut repeats = Vec::new();
    for (i, s) in batch.iter().enumerate() {
        match first.get(s.event_id()) {
            Some(&f) => repeats.push((f, i)),
            None => {
                first.insert(s.event_id(), i);
                rows.push((i, s));
            }
        }
    }
    rows.sort_unstable_by(|(_, a), (_, b)| a.event_id().cmp(b.event_id()));
    Distinct { rows, repeats }
}

/// The canonical payload kept in history (`None` for a removal) and the digest of the snapshot's content.
pub(crate) fn payload_and_digest(s: &Snapshot) -> (Option<String>, Digest) {
    match s {
        Snapshot::Event(e) => {
            let payload = e.to_canonical_json();
            let digest = sha256(payload.as_bytes());
            (Some(payload), digest)
        }
        Snapshot::Removal(_) => (None, content_digest(s)),
    }
}

/// The digest of a snapshot's content, as kept in the history's `digest` column: SHA-256 of its canonical
/// JSON, or for a removal of its flight and removal time.
pub fn content_digest(s: &Snapshot) -> Digest {
    match s {
        Snapshot::Event(e) => sha256(e.to_canonical_json().as_bytes()),
        Snapshot::Removal(r) => {
            let text = format!("removal\n{}\n{}", r.flight_id.as_str(), r.event_time.timestamp_micros());
            sha256(text.as_bytes())
        }
    }
}

/// What an id was found as in the store: absent, stored before digests were kept, or stored with one.
pub(crate) enum StoredId {
    Legacy,
    Digest(Digest),
}

impl StoredId {
    /// From a digest column value; anything but 32 bytes counts as no digest.
    pub(crate) fn from_column(column: Option<Vec<u8>>) -> Self {
        match column.and_then(|c| Digest::try_from(c.as_slice()).ok()) {
            Some(d) => Self::Digest(d),
            None => Self::Legacy,
        }
    }
}

/// The indices (in batch order) of deliveries refused as conflicting duplicates: an id stored with another
/// digest, or repeated in the batch with content other than its reference (the stored event when there is
/// one, else the id's first delivery in the batch). A row stored before digests were kept compares equal.
pub(crate) fn conflicting(
    batch: &[Snapshot],
    distinct: &Distinct<'_>,
    stored: &HashMap<String, StoredId>,
) -> Vec<usize> {
    if stored.is_empty() && distinct.repeats.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let differs = |reference: &StoredId, s: &Snapshot| match reference {
        StoredId::Legacy => false,
        StoredId::Digest(d) => *d != content_digest(s),
    };
    for (i, s) in &distinct.rows {
        if let Some(reference) = stored.get(s.event_id())
            && differs(reference, s)
        {
            out.push(*i);
        }
    }
    let mut first_digests: HashMap<usize, Digest> = HashMap::new();
    for &(first, repeat) in &distinct.repeats {
        let s = &batch[repeat];
        let conflict = match stored.get(s.event_id()) {
            Some(reference) => differs(reference, s),
            None => *first_digests.entry(first).or_insert_with(|| content_digest(&batch[first])) != content_digest(s),
        };
        if conflict {
            out.push(repeat);
        }
    }
    out.sort_unstable();
    out
}

/// The newest snapshot of each flight, by greatest `(event_time, event_id)` (byte order of the id, as in
/// both schemas), sorted by flight id.
pub(crate) fn newest_per_flight<'a>(rows: impl IntoIterator<Item = &'a Snapshot>) -> Vec<(FlightId, &'a Snapshot)> {
    let mut keyed: Vec<(FlightId, &Snapshot)> = rows.into_iter().map(|s| (s.flight_id(), s)).collect();
    keyed.sort_unstable_by(|(fa, a), (fb, b)| fa.cmp(fb).then_with(|| b.order_key().cmp(&a.order_key())));
    keyed.dedup_by(|later, first| later.0 == first.0);
    keyed
}

/// A stored state row's order key: `(event_time, event_id)`.
pub(crate) type OrderKey = (DateTime<Utc>, String);

/// Flights with more than one new event in the batch. Their stored order key is read before the state
/// upsert: only it tells which of their earlier events a stored snapshot was already newer than.
pub(crate) fn flights_with_several(new: &[(usize, &Snapshot)]) -> Vec<FlightId> {
    let mut seen: HashSet<FlightId> = HashSet::with_capacity(new.len());
    let mut several: HashSet<FlightId> = HashSet::new();
    for (_, s) in new {
        let id = s.flight_id();
        if !seen.insert(id.clone()) {
            several.insert(id);
        }
    }
    let mut out: Vec<FlightId> = several.into_iter().collect();
    out.sort_unstable();
    out
}

/// How many new events did not move current state because a newer snapshot of their flight was there when
/// they came: stored already, or earlier in the batch (partition then offset order, the order Kafka gave).
/// `applied` holds the flights whose state row the upsert wrote; `stored_keys` the state rows, as they were
/// before the batch, of the flights in [`flights_with_several`].
pub(crate) fn count_superseded(
    new: &[(usize, &Snapshot)],
    stored_keys: &HashMap<String, OrderKey>,
    applied: &HashSet<String>,
) -> u64 {
    let mut by_flight: HashMap<FlightId, Vec<(usize, &Snapshot)>> = HashMap::with_capacity(new.len());
    for (i, s) in new {
        by_flight.entry(s.flight_id()).or_default().push((*i, *s));
    }
    let mut superseded = 0;
    for (flight, mut events) in by_flight {
        if let [_] = events.as_slice() {
            // One new event: it moved state exactly when the upsert wrote the row.
            superseded += u64::from(!applied.contains(flight.as_str()));
            continue;
        }
        events.sort_unstable_by_key(|(i, _)| *i);
        let mut newest: Option<(DateTime<Utc>, &str)> =
            stored_keys.get(flight.as_str()).map(|(t, id)| (*t, id.as_str()));
        for (_, s) in events {
            if newest.is_some_and(|n| n > s.order_key()) {
                superseded += 1;
            } else {
                newest = Some(s.order_key());
            }
        }
    }
    superseded
}
