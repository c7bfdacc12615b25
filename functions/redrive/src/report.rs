//! What a redrive did: the on-demand report, the per-item outcomes it is made of, and its metrics.

use contrail_shared::codec::RejectReason;
use contrail_shared::storage::StoreError;
use contrail_shared::telemetry::{MetricSet, Metrics, Unit};
use serde::{Deserialize, Serialize};

/// The on-demand invoke's response (and the local `contrail redrive` output). Counts of `stored`,
/// `duplicates` and `dead_lettered` are records; `examined` and `replayed` are messages or objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedriveReport {
    pub examined: u64,
    pub replayed: u64,
    pub stored: u64,
    pub duplicates: u64,
    /// Records of replayed S3 batches that are poison and went to the dead-letter sink, as ingest does.
    pub dead_lettered: u64,
    pub still_failing: Vec<StillFailing>,
    pub dry_run: bool,
}

/// An item left in place, with the reason code and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StillFailing {
    /// SQS message id, S3 object key, or local dead-letter row id.
    pub id: String,
    /// Serialized as its stable code (`unrecognized`, `store_unavailable`, the codec's `invalid_json`, ...).
    pub reason: FailReason,
    pub detail: String,
}

/// Why an item could not be replayed: the stable `reason` codes of the report (serde writes the same
/// codes as [`FailReason::as_str`], which a test holds it to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Neither a `contrail.dead-letter/v1` message nor an event source mapping failure record.
    Unrecognized,
    /// The dead letter's value was too large to travel; the record must be replayed from Kafka.
    ValueOmitted,
    /// A failure record without the batch (`MaximumPayloadSizeExceeded`): only offsets are known.
    PayloadMissing,
    StoreUnavailable,
    StoreError,
    /// Poison records of a replayed batch could not be handed to the dead-letter sink.
    DeadLetterFailed,
    ReadFailed,
    DeleteFailed,
    MoveFailed,
    /// The record still fails validation (the codec's code: `schema_violation`, ...).
    #[serde(untagged)]
    Rejected(RejectReason),
}

impl FailReason {
    /// The code written in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unrecognized => "unrecognized",
            Self::Rejected(r) => r.as_str(),
            Self::ValueOmitted => "value_omitted",
            Self::PayloadMissing => "payload_missing",
            Self::StoreUnavailable => "store_unavailable",
            Self::StoreError => "store_error",
            Self::DeadLetterFailed => "dead_letter_failed",
            Self::ReadFailed => "read_failed",
            Self::DeleteFailed => "delete_failed",
            Self::MoveFailed => "move_failed",
        }
    }
}

/// An item that could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: FailReason,
    pub detail: String,
}

impl Failure {
    pub fn new(reason: FailReason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into() }
    }

    pub fn unrecognized(detail: impl Into<String>) -> Self {
        Self::new(FailReason::Unrecognized, detail)
    }

    /// A store error; the unavailable kind stops the rest of a run from hammering a dead database.
    pub fn store(e: &StoreError) -> Self {
        let reason = if e.is_retryable() { FailReason::StoreUnavailable } else { FailReason::StoreError };
        Self::new(reason, contrail_shared::telemetry::ErrorChain(e).to_string())
    }
}

/// Record counts of one replayed item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub dead_lettered: u64,
}

/// What replaying one item did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Replayed(Counts),
    Failed(Failure),
}

impl Outcome {
    pub fn is_replayed(&self) -> bool {
        matches!(self, Self::Replayed(_))
    }

    /// The word the log line uses.
    pub fn label(&self, dry_run: bool) -> &'static str {
        match self {
            Self::Failed(_) => "still_failing",
            Self::Replayed(_) if dry_run => "would_replay",
            Self::Replayed(c) if c.records > 0 && c.stored == 0 && c.duplicates == c.records => "duplicate",
            Self::Replayed(_) => "replayed",
        }
    }
}

/// Every metric a redrive emits, as data: the template's dashboard may plot only these.
pub const METRICS: MetricSet = MetricSet {
    function: "redrive",
    names: &["examined", "replayed", "still_failing", "stored", "duplicates", "dead_lettered"],
};

impl RedriveReport {
    /// The run's EMF document, with the source and whether it was a dry run as properties.
    pub fn metrics(&self, source: &str) -> Metrics {
        Metrics::new(METRICS.function)
            .property("source", source)
            .property("dry_run", self.dry_run)
            .metric("examined", Unit::Count, self.examined as f64)
            .metric("replayed", Unit::Count, self.replayed as f64)
            .metric("still_failing", Unit::Count, self.still_failing.len() as f64)
            .metric("stored", Unit::Count, self.stored as f64)
            .metric("duplicates", Unit::Count, self.duplicates as f64)
            .metric("dead_lettered", Unit::Count, self.dead_lettered as f64)
    }

    pub fn new(dry_run: bool) -> Self {
        Self { dry_run, ..Self::default() }
    }

    /// Counts one examined item.
    pub fn record(&mut self, id: &str, outcome: &Outcome) {
        self.examined += 1;
        match outcome {
            Outcome::Replayed(c) => {
                self.replayed += 1;
                self.stored += c.stored;
                self.duplicates += c.duplicates;
                self.dead_lettered += c.dead_lettered;
            }
            Outcome::Failed(f) => self.fail(id, f),
        }
    }

    /// An item that replayed but could not be removed afterwards: it stays, so it is not counted as
    /// replayed (its records are stored; replaying it again finds duplicates only).
    pub fn replayed_but_left(&mut self, id: &str, failure: &Failure) {
        self.replayed = self.replayed.saturating_sub(1);
        self.fail(id, failure);
    }

    fn fail(&mut self, id: &str, f: &Failure) {
        self.still_failing.push(StillFailing { id: id.to_owned(), reason: f.reason, detail: f.detail.clone() });
    }
}

/// The one structured log line per item.
pub(crate) fn log_item(source: &str, id: &str, subject: &str, outcome: &Outcome, dry_run: bool) {
    let label = outcome.label(dry_run);
    match outcome {
        Outcome::Replayed(c) => tracing::info!(
            source,
            id,
            subject,
            outcome = label,
            records = c.records,
            stored = c.stored,
            duplicates = c.duplicates,
            dead_lettered = c.dead_lettered,
            dry_run,
            "redrive item"
        ),
        Outcome::Failed(f) => tracing::warn!(
            source,
            id,
            subject,
            outcome = label,
            reason = f.reason.as_str(),
            detail = %f.detail,
            dry_run,
            "redrive item"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_emits_exactly_the_listed_metrics() {
        let metrics = RedriveReport::new(false).metrics("dlq");
        assert_eq!(metrics.names(), METRICS.names);
        assert_eq!(metrics.function(), METRICS.function);
    }

    #[test]
    fn report_serializes_with_the_contract_fields() {
        let mut r = RedriveReport::new(true);
        r.record("m1", &Outcome::Replayed(Counts { records: 1, stored: 1, ..Counts::default() }));
        r.record("m2", &Outcome::Failed(Failure::unrecognized("not JSON")));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["examined"], 2);
        assert_eq!(v["replayed"], 1);
        assert_eq!(v["stored"], 1);
        assert_eq!(v["duplicates"], 0);
        assert_eq!(v["dry_run"], true);
        assert_eq!(v["still_failing"][0]["id"], "m2");
        assert_eq!(v["still_failing"][0]["reason"], "unrecognized");
    }

    #[test]
    fn an_item_that_could_not_be_removed_is_not_counted_as_replayed() {
        let mut r = RedriveReport::new(false);
        r.record("m1", &Outcome::Replayed(Counts { records: 1, stored: 1, ..Counts::default() }));
        r.replayed_but_left("m1", &Failure::new(FailReason::DeleteFailed, "throttled"));
        assert_eq!((r.examined, r.replayed, r.stored), (1, 0, 1));
        assert_eq!(r.still_failing[0].reason, FailReason::DeleteFailed);
    }

    #[test]
    fn every_reason_serializes_as_its_code_and_reads_back() {
        let reasons = [
            FailReason::Unrecognized,
            FailReason::ValueOmitted,
            FailReason::PayloadMissing,
            FailReason::StoreUnavailable,
            FailReason::StoreError,
            FailReason::DeadLetterFailed,
            FailReason::ReadFailed,
            FailReason::DeleteFailed,
            FailReason::MoveFailed,
            FailReason::Rejected(RejectReason::InvalidJson),
            FailReason::Rejected(RejectReason::ConflictingDuplicate),
        ];
        for reason in reasons {
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json, reason.as_str(), "{reason:?}");
            assert_eq!(serde_json::from_value::<FailReason>(json).unwrap(), reason);
        }
    }

    #[test]
    fn a_rejected_record_reports_the_codec_reason_code() {
        assert_eq!(FailReason::Rejected(RejectReason::SchemaViolation).as_str(), "schema_violation");
    }
}
