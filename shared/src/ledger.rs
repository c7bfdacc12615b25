//! The consistency ledger: for every batch and topic-partition, which offsets the batch covered, how its
//! records ended (stored, duplicate, dead-lettered) and a checksum of the records as delivered, written in
//! the batch's own transaction. [`audit`] turns ledger rows into covered ranges, gaps and redeliveries;
//! given the topic's own records it also finds the ranges whose count or checksum differs.
//!
//! The checksum is SHA-256 over each record in offset order: its offset (8 bytes, big-endian), then the key
//! and the value, each as one byte (0 absent, 1 present) followed, when present, by its length (4 bytes,
//! big-endian) and its bytes. Key and value are the bytes Kafka holds (the event's base64 decoded); a field
//! that is not valid base64 (never the case for what the event source mapping sends) is hashed as its text.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// SHA-256 of a range's records (see the module's documentation for the framing).
pub type Checksum = [u8; 32];

/// Where a ledger row's records came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerSource {
    /// A batch from the topic (the event source mapping, or the local stack's consumer).
    Kafka,
    /// A failed batch replayed from the failure bucket by the redrive function.
    S3,
}

impl LedgerSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kafka => "kafka",
            Self::S3 => "s3",
        }
    }
}

/// Builds a range's [`Checksum`]; records must be added in offset order.
pub struct RecordHasher {
    context: aws_lc_rs::digest::Context,
    scratch: Vec<u8>,
}

impl Default for RecordHasher {
    fn default() -> Self {
        Self { context: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256), scratch: Vec::new() }
    }
}

impl RecordHasher {
    /// Adds a record whose key and value are the raw bytes (as read from Kafka).
    pub fn add(&mut self, offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) {
        self.context.update(&offset.to_be_bytes());
        self.field(key);
        self.field(value);
    }

    /// Adds a record whose key and value are base64, as the event source mapping delivers them.
    pub fn add_base64(&mut self, offset: i64, key: Option<&str>, value: Option<&str>) {
        self.context.update(&offset.to_be_bytes());
        for field in [key, value] {
            match field {
                None => self.field(None),
                Some(text) => {
                    let mut scratch = std::mem::take(&mut self.scratch);
                    scratch.clear();
                    match STANDARD.decode_vec(text, &mut scratch) {
                        Ok(()) => self.field(Some(&scratch)),
                        Err(_) => self.field(Some(text.as_bytes())),
                    }
                    self.scratch = scratch;
                }
            }
        }
    }

    fn field(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.context.update(&[0]),
            Some(b) => {
                self.context.update(&[1]);
                // Kafka bounds a record far below 4 GiB; a longer field is framed by its low 32 bits.
                self.context.update(&(b.len() as u32).to_be_bytes());
                self.context.update(b);
            }
        }
    }

    pub fn finish(self) -> Checksum {
        let digest = self.context.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }
}

/// What a batch knows of one topic-partition before the write: the engine adds how its snapshots ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub topic: String,
    pub partition: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub records: u64,
    /// Records the codec refused (the store may refuse more, as conflicting duplicates).
    pub rejected: u64,
    /// The indices, in the batch given to the store, of this partition's snapshots (contiguous: a batch is
    /// in partition then offset order).
    pub snapshots: std::ops::Range<usize>,
    pub checksum: Checksum,
    pub source: LedgerSource,
}

impl LedgerEntry {
    /// How this partition's records ended, given the batch indices the store wrote as new events and those it
    /// refused as conflicting duplicates (both sorted): the rest of its snapshots were duplicates.
    pub(crate) fn counts(&self, new: &[usize], conflicting: &[usize]) -> (u64, u64, u64) {
        let within = |sorted: &[usize]| {
            (sorted.partition_point(|i| *i < self.snapshots.end)
                - sorted.partition_point(|i| *i < self.snapshots.start)) as u64
        };
        let (stored, refused) = (within(new), within(conflicting));
        let duplicates = (self.snapshots.len() as u64).saturating_sub(stored + refused);
        (stored, duplicates, self.rejected + refused)
    }
}

/// A ledger row as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRow {
    pub topic: String,
    pub partition: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub dead_lettered: u64,
    #[serde(serialize_with = "hex")]
    pub checksum: Checksum,
    pub source: String,
    #[serde(with = "crate::storage::rfc3339")]
    pub committed_at: DateTime<Utc>,
}

/// A partition whose batch began past the ledger's last offset for it plus one: offsets no batch accounted
/// for (records the mapping skipped, or offsets compaction or transaction markers left empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerGap {
    pub topic: String,
    pub partition: i64,
    /// The first offset no row covers (the ledger's last offset plus one).
    pub first_offset: i64,
    /// The last offset no row covers (the batch's first offset minus one).
    pub last_offset: i64,
}

impl LedgerGap {
    pub fn offsets(&self) -> u64 {
        span_len(self.first_offset, self.last_offset)
    }
}

/// The gap before a batch's `entry`, given the highest offset the ledger held for its partition before it.
/// Only batches from the topic are checked: a replay from the failure bucket fills an old range.
pub(crate) fn gap_before(entry: &LedgerEntry, last_before: Option<i64>) -> Option<LedgerGap> {
    let last = last_before?;
    (entry.source == LedgerSource::Kafka && entry.first_offset > last.saturating_add(1)).then(|| LedgerGap {
        topic: entry.topic.clone(),
        partition: entry.partition,
        first_offset: last + 1,
        last_offset: entry.first_offset - 1,
    })
}

/// A run of offsets, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OffsetSpan {
    pub first_offset: i64,
    pub last_offset: i64,
}

impl OffsetSpan {
    pub fn len(&self) -> u64 {
        span_len(self.first_offset, self.last_offset)
    }

    pub fn is_empty(&self) -> bool {
        self.last_offset < self.first_offset
    }
}

/// A record as the topic holds it: (offset, key, value).
pub type TopicRecord = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// The topic's side of one partition, read by the local stack's audit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicPartition {
    /// The earliest offset the topic still holds.
    pub low_watermark: i64,
    /// One past the last offset written.
    pub high_watermark: i64,
    /// Every record present, in offset order.
    pub records: Vec<TopicRecord>,
}

/// A ledger row that the topic's records contradict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub first_offset: i64,
    pub last_offset: i64,
    pub ledger_records: u64,
    pub topic_records: u64,
    /// `count` when the topic holds more records in the range than the batch had, `checksum` when the
    /// counts agree but the records differ.
    pub kind: &'static str,
}

/// What the topic adds to a partition's audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicCheck {
    pub low_watermark: i64,
    pub high_watermark: i64,
    pub records: u64,
    /// Ledger rows checked against the topic's records (checksum and count).
    pub verified: u64,
    /// Ledger rows that cover fewer topic records than they counted: compaction removed some since, so
    /// their checksum can no longer be recomputed. Not an error.
    pub compacted: u64,
    /// Records past the ledger's last offset: not yet consumed (lag), not loss.
    pub pending: u64,
}

/// One partition's audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionAudit {
    pub topic: String,
    pub partition: i64,
    /// The merged ranges the ledger covers.
    pub covered: Vec<OffsetSpan>,
    /// Offsets inside the audited window that no batch accounted for. With the topic's records, only
    /// offsets the topic holds count (compaction and transaction markers leave empty offsets).
    pub gaps: Vec<OffsetSpan>,
    /// Offsets more than one ledger row covers: redeliveries (a retried or bisected batch), not errors.
    pub redelivered: Vec<OffsetSpan>,
    pub mismatches: Vec<Mismatch>,
    pub batches: u64,
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub dead_lettered: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<TopicCheck>,
}

impl PartitionAudit {
    /// No gap and no mismatch.
    pub fn is_consistent(&self) -> bool {
        self.gaps.is_empty() && self.mismatches.is_empty()
    }

    /// How many offsets the gaps hold.
    pub fn gap_offsets(&self) -> u64 {
        self.gaps.iter().map(OffsetSpan::len).sum()
    }
}

/// Audits ledger rows, partition by partition (by topic, then partition number). `rows` is the whole ledger of
/// the partitions audited; `since` narrows the audit to the rows committed at or after it (the window), whose
/// ranges, redeliveries, totals and checksums are reported. Gaps come from every row, so a replay committed in
/// the window that fills an old range opens no gap around it, and a range still missing between two such
/// replays is a gap; they count from the lowest offset a row of the window covers. `topic` holds the topic's
/// own records per (topic, partition) when they were read; a partition the topic has but the ledger has not
/// is audited too. Without `since`, the topic's records below the ledger's first offset are a gap.
pub fn audit(
    rows: &[LedgerRow],
    topic: Option<&BTreeMap<(String, i64), TopicPartition>>,
    since: Option<DateTime<Utc>>,
) -> Vec<PartitionAudit> {
    let mut by_partition: BTreeMap<(String, i64), Vec<&LedgerRow>> = BTreeMap::new();
    for row in rows {
        by_partition.entry((row.topic.clone(), row.partition)).or_default().push(row);
    }
    if let Some(topic) = topic {
        for key in topic.keys() {
            by_partition.entry(key.clone()).or_default();
        }
    }
    by_partition
        .into_iter()
        .map(|((name, partition), mut rows)| {
            rows.sort_by_key(|r| (r.first_offset, r.last_offset));
            let side = topic.and_then(|t| t.get(&(name.clone(), partition)));
            audit_partition(name, partition, &rows, side, since)
        })
        .collect()
}

/// The merged ranges rows (sorted by first offset) cover, and the ranges more than one of them covers.
fn merge(rows: &[&LedgerRow]) -> (Vec<OffsetSpan>, Vec<OffsetSpan>) {
    let mut covered: Vec<OffsetSpan> = Vec::new();
    let mut redelivered: Vec<OffsetSpan> = Vec::new();
    for r in rows {
        let span = OffsetSpan { first_offset: r.first_offset, last_offset: r.last_offset };
        match covered.last_mut() {
            Some(last) if span.first_offset <= last.last_offset => {
                let overlap =
                    OffsetSpan { first_offset: span.first_offset, last_offset: span.last_offset.min(last.last_offset) };
                push_merged(&mut redelivered, overlap);
                last.last_offset = last.last_offset.max(span.last_offset);
            }
            Some(last) if span.first_offset == last.last_offset.saturating_add(1) => {
                last.last_offset = span.last_offset
            }
            _ => covered.push(span),
        }
    }
    (covered, redelivered)
}

fn audit_partition(
    topic: String,
    partition: i64,
    all: &[&LedgerRow],
    side: Option<&TopicPartition>,
    since: Option<DateTime<Utc>>,
) -> PartitionAudit {
    let from_start = since.is_none();
    let rows: Vec<&LedgerRow> = all.iter().copied().filter(|r| since.is_none_or(|s| r.committed_at >= s)).collect();
    let (covered, redelivered) = merge(&rows);
    // The holes of the whole ledger that end at or above the lowest offset the window covers (none without a
    // row in it), each whole: the hole a failed batch leaves just below the window's first batch is the one
    // the ingest function's `ledger_gap` reported. Holes wholly below the window are an earlier audit's.
    let window_start = match since {
        None => i64::MIN,
        Some(_) => rows.iter().map(|r| r.first_offset).min().unwrap_or(i64::MAX),
    };
    let whole = if from_start { covered.clone() } else { merge(all).0 };
    let ledger_end = whole.last().map(|s| s.last_offset);
    let mut holes: Vec<OffsetSpan> = whole
        .windows(2)
        .filter(|w| w[1].first_offset >= window_start)
        .map(|w| OffsetSpan { first_offset: w[0].last_offset + 1, last_offset: w[1].first_offset - 1 })
        .filter(|hole| !hole.is_empty())
        .collect();
    let mut audit = PartitionAudit {
        topic,
        partition,
        gaps: Vec::new(),
        redelivered,
        mismatches: Vec::new(),
        batches: rows.len() as u64,
        records: rows.iter().map(|r| r.records).sum(),
        stored: rows.iter().map(|r| r.stored).sum(),
        duplicates: rows.iter().map(|r| r.duplicates).sum(),
        dead_lettered: rows.iter().map(|r| r.dead_lettered).sum(),
        kafka: None,
        covered,
    };
    let Some(side) = side else {
        audit.gaps = holes;
        return audit;
    };
    // The topic's view: a hole counts only where the topic holds records, and so do offsets before the
    // ledger's first row when the audit starts at the beginning.
    if from_start {
        let first = audit.covered.first().map_or(side.high_watermark, |c| c.first_offset);
        if first > side.low_watermark {
            holes.insert(0, OffsetSpan { first_offset: side.low_watermark, last_offset: first - 1 });
        }
    }
    let offsets: Vec<i64> = side.records.iter().map(|(o, _, _)| *o).collect();
    for hole in holes {
        audit.gaps.extend(present_within(&offsets, hole));
    }
    let mut check = TopicCheck {
        low_watermark: side.low_watermark,
        high_watermark: side.high_watermark,
        records: side.records.len() as u64,
        verified: 0,
        compacted: 0,
        pending: 0,
    };
    // Past the whole ledger, not the window: a window of only an old replay leaves nothing newer pending.
    check.pending = match ledger_end {
        Some(last) => offsets.iter().filter(|o| **o > last).count() as u64,
        // Nothing consumed yet: from the start, every record is a gap; since a time, it is all lag.
        None if from_start => 0,
        None => offsets.len() as u64,
    };
    for r in rows {
        let lo = offsets.partition_point(|o| *o < r.first_offset);
        let hi = offsets.partition_point(|o| *o <= r.last_offset);
        let in_range = &side.records[lo..hi];
        let topic_records = in_range.len() as u64;
        if topic_records < r.records {
            check.compacted += 1;
            continue;
        }
        let kind = if topic_records > r.records {
            Some("count")
        } else {
            let mut hasher = RecordHasher::default();
            for (o, k, v) in in_range {
                hasher.add(*o, k.as_deref(), v.as_deref());
            }
            (hasher.finish() != r.checksum).then_some("checksum")
        };
        match kind {
            Some(kind) => audit.mismatches.push(Mismatch {
                first_offset: r.first_offset,
                last_offset: r.last_offset,
                ledger_records: r.records,
                topic_records,
                kind,
            }),
            None => check.verified += 1,
        }
    }
    audit.kafka = Some(check);
    audit
}

/// Adds `span` to sorted, merged spans, merging it with the last one when they touch.
fn push_merged(spans: &mut Vec<OffsetSpan>, span: OffsetSpan) {
    match spans.last_mut() {
        Some(last) if span.first_offset <= last.last_offset.saturating_add(1) => {
            last.last_offset = last.last_offset.max(span.last_offset)
        }
        _ => spans.push(span),
    }
}

/// The span from the first to the last present offset (in `offsets`, sorted) inside `window`, if any: a
/// hole narrowed to the records the topic holds in it.
fn present_within(offsets: &[i64], window: OffsetSpan) -> Option<OffsetSpan> {
    let lo = offsets.partition_point(|o| *o < window.first_offset);
    let hi = offsets.partition_point(|o| *o <= window.last_offset);
    (lo < hi).then(|| OffsetSpan { first_offset: offsets[lo], last_offset: offsets[hi - 1] })
}

/// How many offsets `first..=last` holds (0 when empty), without overflow whatever the offsets (a
/// hand-made event may carry any).
fn span_len(first: i64, last: i64) -> u64 {
    (i128::from(last) - i128::from(first) + 1).clamp(0, i128::from(u64::MAX)) as u64
}

fn hex<S: serde::Serializer>(bytes: &Checksum, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::codec::encode_hex(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(first: i64, last: i64, records: u64) -> LedgerRow {
        LedgerRow {
            topic: "flight-data".into(),
            partition: 0,
            first_offset: first,
            last_offset: last,
            records,
            stored: records,
            duplicates: 0,
            dead_lettered: 0,
            checksum: checksum_of(first..=last),
            source: "kafka".into(),
            committed_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    fn value(o: i64) -> Vec<u8> {
        format!("v{o}").into_bytes()
    }

    fn checksum_of(offsets: impl IntoIterator<Item = i64>) -> Checksum {
        let mut h = RecordHasher::default();
        for o in offsets {
            h.add(o, Some(b"k"), Some(&value(o)));
        }
        h.finish()
    }

    fn topic(offsets: impl IntoIterator<Item = i64>, low: i64, high: i64) -> BTreeMap<(String, i64), TopicPartition> {
        let records = offsets.into_iter().map(|o| (o, Some(b"k".to_vec()), Some(value(o)))).collect();
        BTreeMap::from([(
            ("flight-data".into(), 0),
            TopicPartition { low_watermark: low, high_watermark: high, records },
        )])
    }

    fn span(first_offset: i64, last_offset: i64) -> OffsetSpan {
        OffsetSpan { first_offset, last_offset }
    }

    #[test]
    fn base64_and_raw_bytes_hash_alike_and_framing_separates_fields() {
        let mut a = RecordHasher::default();
        a.add(7, Some(b"key"), Some(b"value"));
        let mut b = RecordHasher::default();
        b.add_base64(7, Some("a2V5"), Some("dmFsdWU="));
        assert_eq!(a.finish(), b.finish());
        // Bytes moved from the key to the value, or an absent key against an empty one, hash differently.
        let one = |k: Option<&[u8]>, v: Option<&[u8]>| {
            let mut h = RecordHasher::default();
            h.add(7, k, v);
            h.finish()
        };
        assert_ne!(one(Some(b"ke"), Some(b"yvalue")), one(Some(b"key"), Some(b"value")));
        assert_ne!(one(None, Some(b"v")), one(Some(b""), Some(b"v")));
        assert_ne!(one(Some(b"k"), None), one(Some(b"k"), Some(b"")));
    }

    #[test]
    fn the_checksum_is_sha256_over_the_documented_framing() {
        let mut h = RecordHasher::default();
        h.add(1, None, Some(b"ab"));
        let mut framed = Vec::new();
        framed.extend_from_slice(&1i64.to_be_bytes());
        framed.push(0);
        framed.push(1);
        framed.extend_from_slice(&2u32.to_be_bytes());
        framed.extend_from_slice(b"ab");
        let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &framed);
        assert_eq!(h.finish().as_slice(), expected.as_ref());
    }

    #[test]
    fn ranges_merge_gaps_show_and_overlaps_are_redeliveries() {
        let rows = [row(0, 9, 10), row(10, 19, 10), row(15, 24, 10), row(30, 39, 10), row(30, 34, 5)];
        let audits = audit(&rows, None, None);
        let [a] = audits.as_slice() else { panic!("one partition: {audits:?}") };
        assert_eq!(a.covered, [span(0, 24), span(30, 39)]);
        assert_eq!(a.gaps, [span(25, 29)]);
        assert_eq!(a.redelivered, [span(15, 19), span(30, 34)]);
        assert_eq!((a.batches, a.records, a.stored), (5, 45, 45));
        assert!(!a.is_consistent());
        assert_eq!(a.gap_offsets(), 5);
    }

    #[test]
    fn the_topic_clears_empty_offsets_and_verifies_checksums() {
        // Offsets 25..=29 hold nothing in the topic (compacted away, or transaction markers).
        let rows = [row(0, 24, 25), row(30, 39, 10)];
        let t = topic((0..25).chain(30..45), 0, 45);
        let [a] = audit(&rows, Some(&t), None).try_into().unwrap();
        assert!(a.is_consistent(), "{a:?}");
        let k = a.kafka.unwrap();
        assert_eq!((k.verified, k.compacted, k.pending, k.records), (2, 0, 5, 40));
    }

    #[test]
    fn a_record_the_batch_skipped_is_a_count_mismatch_and_a_changed_one_a_checksum_mismatch() {
        // The batch covered 0..=9 but carried nine records: offset 4 never reached ingest.
        let mut skipped = row(0, 9, 9);
        skipped.checksum = checksum_of((0..10).filter(|o| *o != 4));
        let mut changed = row(10, 19, 10);
        changed.checksum = checksum_of(20..30);
        let t = topic(0..20, 0, 20);
        let [a] = audit(&[skipped, changed], Some(&t), None).try_into().unwrap();
        assert_eq!(a.mismatches.len(), 2, "{a:?}");
        assert_eq!((a.mismatches[0].first_offset, a.mismatches[0].kind), (0, "count"));
        assert_eq!((a.mismatches[0].ledger_records, a.mismatches[0].topic_records), (9, 10));
        assert_eq!((a.mismatches[1].first_offset, a.mismatches[1].kind), (10, "checksum"));
        assert!(a.gaps.is_empty());
    }

    #[test]
    fn offsets_before_the_ledger_are_a_gap_only_from_the_start_and_compaction_is_not_a_mismatch() {
        let rows = [row(5, 9, 5)];
        // Offset 7 was compacted away after the batch: the row covers four topic records, not five.
        let t = topic((0..10).filter(|o| *o != 7), 0, 10);
        let [a] = audit(&rows, Some(&t), None).try_into().unwrap();
        assert_eq!(a.gaps, [span(0, 4)]);
        assert_eq!(a.kafka.as_ref().unwrap().compacted, 1);
        assert!(a.mismatches.is_empty());
        let [since] = audit(&rows, Some(&t), DateTime::from_timestamp(1_600_000_000, 0)).try_into().unwrap();
        assert!(since.is_consistent(), "{since:?}");
    }

    #[test]
    fn contained_rows_and_chains_of_overlaps_merge_into_one_redelivered_range() {
        let rows = [row(0, 99, 100), row(10, 20, 11), row(15, 30, 16), row(25, 40, 16), row(100, 109, 10)];
        let [a] = audit(&rows, None, None).try_into().unwrap();
        assert_eq!(a.covered, [span(0, 109)]);
        assert_eq!(a.redelivered, [span(10, 40)]);
        assert!(a.is_consistent());
    }

    #[test]
    fn since_a_time_replays_of_old_ranges_open_no_gap_and_a_range_still_missing_between_them_is_one() {
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let committed = |mut r: LedgerRow, secs, source: &str| {
            r.committed_at = at(secs);
            r.source = source.into();
            r
        };
        // Before `since` (t = 100): batches 0..=99 and 400..=999; 100..=399 failed to the bucket.
        // After it: the replays of 100..=199 and 300..=399 (200..=299 still missing), and new batches.
        let rows = [
            committed(row(0, 99, 100), 10, "kafka"),
            committed(row(400, 999, 600), 20, "kafka"),
            committed(row(100, 199, 100), 110, "s3"),
            committed(row(300, 399, 100), 120, "s3"),
            committed(row(1_000, 1_099, 100), 130, "kafka"),
        ];
        let [a] = audit(&rows, None, Some(at(100))).try_into().unwrap();
        assert_eq!(a.gaps, [span(200, 299)], "{a:?}");
        assert_eq!((a.batches, a.records), (3, 300), "the totals are the window's");
        assert_eq!(a.covered, [span(100, 199), span(300, 399), span(1_000, 1_099)]);
        // Once the last one is replayed too, the window is consistent: no hole around the replays.
        let mut all = rows.to_vec();
        all.push(committed(row(200, 299, 100), 140, "s3"));
        let [b] = audit(&all, None, Some(at(100))).try_into().unwrap();
        assert!(b.is_consistent(), "{b:?}");
        // A window with no row of the partition reports nothing missing.
        let [c] = audit(&rows, None, Some(at(500))).try_into().unwrap();
        assert!(c.is_consistent() && c.batches == 0, "{c:?}");
    }

    #[test]
    fn since_a_time_the_hole_a_failed_batch_left_just_before_the_window_is_a_gap() {
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let committed = |mut r: LedgerRow, secs| {
            r.committed_at = at(secs);
            r
        };
        // Before `since`: 0..=399 and 500..=899 (400..=499, an older hole, is an earlier audit's). After it,
        // 900..=999 failed to the bucket and 1000..=1099 committed: the batch whose `ledger_gap` sent the
        // operator here.
        let rows = [
            committed(row(0, 399, 400), 10),
            committed(row(500, 899, 400), 20),
            committed(row(1_000, 1_099, 100), 130),
        ];
        let [a] = audit(&rows, None, Some(at(100))).try_into().unwrap();
        assert_eq!(a.gaps, [span(900, 999)], "{a:?}");
        let side = topic(0..1_100, 0, 1_100);
        let [b] = audit(&rows, Some(&side), Some(at(100))).try_into().unwrap();
        assert_eq!(b.gaps, [span(900, 999)], "{b:?}");
        // The topic's records are all accounted for by the ledger: none is pending.
        assert_eq!(b.kafka.as_ref().map(|k| k.pending), Some(0), "{b:?}");
        // A window of only an old replay: nothing past the whole ledger is pending either.
        let mut replayed = rows.to_vec();
        replayed.pop();
        replayed.push(committed(row(400, 499, 100), 140));
        let side = topic(0..900, 0, 900);
        let [c] = audit(&replayed, Some(&side), Some(at(100))).try_into().unwrap();
        assert!(c.is_consistent(), "{c:?}");
        assert_eq!(c.kafka.as_ref().map(|k| k.pending), Some(0), "{c:?}");
    }

    #[test]
    fn since_a_time_a_partition_only_the_topic_has_is_pending_not_a_gap() {
        let t = topic(3..8, 3, 8);
        let since = DateTime::from_timestamp(1_600_000_000, 0);
        let [a] = audit(&[], Some(&t), since).try_into().unwrap();
        assert!(a.is_consistent(), "{a:?}");
        assert_eq!(a.kafka.unwrap().pending, 5);
    }

    #[test]
    fn a_partition_only_the_topic_has_is_all_gap() {
        let t = topic(3..8, 3, 8);
        let [a] = audit(&[], Some(&t), None).try_into().unwrap();
        assert_eq!(a.gaps, [span(3, 7)]);
        assert_eq!(a.kafka.unwrap().pending, 0);
    }
}
