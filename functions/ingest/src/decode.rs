//! A whole MSK batch through the codec: every record becomes exactly one snapshot or one dead letter.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use contrail_shared::codec::{RejectReason, Rejection, decode_kafka_record};
use contrail_shared::deadletter::DeadLetter;
use contrail_shared::domain::Snapshot;
use contrail_shared::ledger::{LedgerEntry, LedgerSource, RecordHasher};
use contrail_shared::time_bounds::TimeBounds;
use serde::{Deserialize, Serialize};

use crate::msk::{MskEvent, MskRecord};

/// The offsets a batch covered on one partition: what the mapping commits after a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetRange {
    pub first_offset: i64,
    pub last_offset: i64,
}

/// A decoded batch, in partition then offset order (the order the writes and dead letters keep).
#[derive(Debug, Clone, Default)]
pub struct DecodedBatch<'a> {
    pub snapshots: Vec<Snapshot>,
    /// The record each snapshot came from (same index), to dead-letter it if the store refuses it.
    pub origins: Vec<&'a MskRecord>,
    pub dead_letters: Vec<DeadLetter>,
    /// Keyed `"<topic>-<partition>"`.
    pub partitions: BTreeMap<String, OffsetRange>,
    /// One ledger entry per topic-partition, in the same order, written with the snapshots.
    pub ledger: Vec<LedgerEntry>,
    /// Records in the event: always `snapshots.len() + dead_letters.len()`.
    pub records: usize,
}

/// Decodes every record of `event`, refusing event and removal times outside `bounds`; `now` stamps the
/// dead letters.
pub fn decode_batch<'a>(event: &'a MskEvent, bounds: &TimeBounds, now: DateTime<Utc>) -> DecodedBatch<'a> {
    let mut records: Vec<&MskRecord> = event.iter_records().collect();
    // Groups arrive keyed by text ("…-10" sorts before "…-2"); order by number, then offset.
    records.sort_by(|a, b| (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset)));

    let mut batch = DecodedBatch { records: records.len(), ..DecodedBatch::default() };
    batch.snapshots.reserve(records.len());
    batch.origins.reserve(records.len());
    let mut hasher = RecordHasher::default();
    for record in records {
        let same_partition =
            batch.ledger.last().is_some_and(|e| e.topic == record.topic && e.partition == record.partition);
        if !same_partition {
            if let Some(done) = batch.ledger.last_mut() {
                done.checksum = std::mem::take(&mut hasher).finish();
            }
            let at = batch.snapshots.len();
            batch.ledger.push(LedgerEntry {
                topic: record.topic.clone(),
                partition: record.partition,
                first_offset: record.offset,
                last_offset: record.offset,
                records: 0,
                rejected: 0,
                snapshots: at..at,
                checksum: [0; 32],
                source: LedgerSource::Kafka,
            });
        }
        hasher.add_base64(record.offset, record.key.as_deref(), record.value.as_deref());
        let raw = record.raw();
        let decoded = decode_kafka_record(&raw, record.event_time_header(), bounds);
        let rejected = decoded.is_err();
        match decoded {
            Ok(snapshot) => {
                batch.snapshots.push(snapshot);
                batch.origins.push(record);
            }
            Err(rejection) => batch.dead_letters.push(DeadLetter::new(&raw, rejection, now)),
        }
        if let Some(entry) = batch.ledger.last_mut() {
            entry.last_offset = record.offset;
            entry.records += 1;
            entry.rejected += u64::from(rejected);
            entry.snapshots.end = batch.snapshots.len();
        }
        batch
            .partitions
            .entry(format!("{}-{}", record.topic, record.partition))
            .and_modify(|r| {
                r.first_offset = r.first_offset.min(record.offset);
                r.last_offset = r.last_offset.max(record.offset);
            })
            .or_insert(OffsetRange { first_offset: record.offset, last_offset: record.offset });
    }
    if let Some(done) = batch.ledger.last_mut() {
        done.checksum = hasher.finish();
    }
    batch
}

impl DecodedBatch<'_> {
    /// Moves the snapshots the store refused as conflicting duplicates (indices into `snapshots`, from
    /// `WriteOutcome::conflicting`) to the dead letters, keeping partition then offset order in both.
    pub fn dead_letter_conflicts(&mut self, conflicting: &[usize], now: DateTime<Utc>) {
        if conflicting.is_empty() {
            return;
        }
        let refused: std::collections::HashSet<usize> = conflicting.iter().copied().collect();
        let snapshots = std::mem::take(&mut self.snapshots);
        let origins = std::mem::take(&mut self.origins);
        for (i, (snapshot, origin)) in snapshots.into_iter().zip(origins).enumerate() {
            if refused.contains(&i) {
                let detail = format!(
                    "event_id {:?} is already stored (or earlier in the batch) with other content; the stored \
                     event stays",
                    snapshot.event_id()
                );
                let rejection = Rejection::new(RejectReason::ConflictingDuplicate, Some("event_id"), detail);
                self.dead_letters.push(DeadLetter::new(&origin.raw(), rejection, now));
            } else {
                self.snapshots.push(snapshot);
                self.origins.push(origin);
            }
        }
        self.dead_letters.sort_by(|a, b| (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset)));
    }
}

/// How long the oldest record waited between its Kafka timestamp and `now`; `None` without timestamps
/// (0 and -1 both mean a producer set none).
pub fn max_record_age_ms(event: &MskEvent, now: DateTime<Utc>) -> Option<i64> {
    let oldest = event.iter_records().map(|r| r.timestamp).filter(|t| *t > 0).min()?;
    Some((now.timestamp_millis() - oldest).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use contrail_shared::codec::RejectReason;

    fn event_json(id: &str, flight: &str) -> String {
        let (carrier, number) = flight.split_at(2);
        format!(
            r#"{{"event_id":"{id}","event_time":"2024-05-01T10:00:00Z","carrier":"{carrier}","number":"{number}","date":"2024-05-01","origin":"EWR","destination":"SFO","status":"scheduled","scheduled_departure":"2024-05-01T12:00:00Z","scheduled_arrival":"2024-05-01T18:00:00Z"}}"#
        )
    }

    #[test]
    fn every_record_ends_once_in_partition_then_offset_order() {
        let good = |p, o, id: &str| {
            MskRecord::new("flight-data", p, o, 1_714_557_600_000, None, Some(event_json(id, "UA1").as_bytes()))
        };
        let records = vec![
            good(10, 4, "e-10-4"),
            good(2, 9, "e-2-9"),
            good(2, 7, "e-2-7"),
            MskRecord::new("flight-data", 2, 8, 0, None, Some(b"{not json")),
            good(0, 100, "e-0-100"),
        ];
        let now = Utc::now();
        let event = MskEvent::from_records("arn", records);
        let batch = decode_batch(&event, &TimeBounds::UNBOUNDED, now);
        assert_eq!(batch.records, 5);
        assert_eq!(batch.snapshots.len() + batch.dead_letters.len(), 5);
        let ids: Vec<&str> = batch.snapshots.iter().map(Snapshot::event_id).collect();
        assert_eq!(ids, ["e-0-100", "e-2-7", "e-2-9", "e-10-4"]);
        assert_eq!(batch.dead_letters[0].reason, RejectReason::InvalidJson);
        assert_eq!(batch.dead_letters[0].offset, 8);
        assert_eq!(batch.dead_letters[0].dead_lettered_at, now);
        assert_eq!(batch.partitions["flight-data-2"], OffsetRange { first_offset: 7, last_offset: 9 });
        assert_eq!(batch.partitions["flight-data-10"], OffsetRange { first_offset: 4, last_offset: 4 });
        assert_eq!(batch.partitions.len(), 3);

        // One ledger entry per partition, in the same order, its snapshots a contiguous run of the batch.
        let ledger: Vec<_> = batch
            .ledger
            .iter()
            .map(|e| (e.partition, e.first_offset, e.last_offset, e.records, e.rejected, e.snapshots.clone()))
            .collect();
        assert_eq!(ledger, [(0, 100, 100, 1, 0, 0..1), (2, 7, 9, 3, 1, 1..3), (10, 4, 4, 1, 0, 3..4)]);
        // The checksum is over the bytes Kafka holds, in offset order, the poison record included.
        let mut expected = RecordHasher::default();
        expected.add(7, None, Some(event_json("e-2-7", "UA1").as_bytes()));
        expected.add(8, None, Some(b"{not json"));
        expected.add(9, None, Some(event_json("e-2-9", "UA1").as_bytes()));
        assert_eq!(batch.ledger[1].checksum, expected.finish());
        assert!(batch.ledger.iter().all(|e| e.source == LedgerSource::Kafka));
    }

    #[test]
    fn an_empty_event_decodes_to_nothing() {
        let event = MskEvent::default();
        let batch = decode_batch(&event, &TimeBounds::UNBOUNDED, Utc::now());
        assert_eq!(batch.records, 0);
        assert!(batch.partitions.is_empty());
        assert_eq!(max_record_age_ms(&MskEvent::default(), Utc::now()), None);
    }

    #[test]
    fn record_age_comes_from_the_oldest_timestamp_and_ignores_missing_ones() {
        let now = DateTime::from_timestamp_millis(10_000).unwrap();
        let ev = MskEvent::from_records(
            "arn",
            [4_000, -1, 7_000].map(|t| MskRecord::new("flight-data", 0, t, t, None, None)),
        );
        assert_eq!(max_record_age_ms(&ev, now), Some(6_000));
    }
}
