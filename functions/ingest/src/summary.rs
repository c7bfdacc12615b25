//! What one invocation did: the handler's response and the EMF metrics it emits.

use std::collections::BTreeMap;

use contrail_shared::telemetry::{MetricSet, Metrics, Unit};
use serde::{Deserialize, Serialize};

use crate::decode::OffsetRange;

/// The handler's JSON response. `records = stored + duplicates + dead_lettered` always holds;
/// `superseded` counts the stored events that did not move current state (a subset of `stored`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestSummary {
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    /// Stored events that did not move current state: a newer snapshot of the flight was already stored,
    /// or came in the same batch (a tombstone that lost shows here).
    pub superseded: u64,
    pub dead_lettered: u64,
    /// Offsets covered per `"<topic>-<partition>"`.
    pub partitions: BTreeMap<String, OffsetRange>,
    pub duration_ms: u64,
}

impl IngestSummary {
    /// True when every record is accounted for exactly once.
    pub fn is_balanced(&self) -> bool {
        self.records == self.stored + self.duplicates + self.dead_lettered && self.superseded <= self.stored
    }
}

/// Every metric a batch emits, as data: the template's dashboard may plot only these.
pub const METRICS: MetricSet = MetricSet {
    function: "ingest",
    names: &[
        "records",
        "stored",
        "duplicates",
        "superseded",
        "dead_lettered",
        "batch_ms",
        "db_ms",
        "max_record_age_ms",
        "ledger_gap",
    ],
};

/// The batch's EMF document: the summary's counts, the timings (`max_record_age_ms` when the batch carried
/// a record timestamp) and `ledger_gap`, the offsets between the ledger's last batch of a partition and this
/// batch's first that no batch accounted for (0 when none).
pub fn batch_metrics(
    summary: &IngestSummary,
    batch_ms: f64,
    db_ms: f64,
    max_record_age_ms: Option<i64>,
    ledger_gap: u64,
) -> Metrics {
    let mut metrics = Metrics::new(METRICS.function)
        .metric("records", Unit::Count, summary.records as f64)
        .metric("stored", Unit::Count, summary.stored as f64)
        .metric("duplicates", Unit::Count, summary.duplicates as f64)
        .metric("superseded", Unit::Count, summary.superseded as f64)
        .metric("dead_lettered", Unit::Count, summary.dead_lettered as f64)
        .metric("batch_ms", Unit::Milliseconds, batch_ms)
        .metric("db_ms", Unit::Milliseconds, db_ms);
    if let Some(age) = max_record_age_ms {
        metrics = metrics.metric("max_record_age_ms", Unit::Milliseconds, age as f64);
    }
    metrics.metric("ledger_gap", Unit::Count, ledger_gap as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_emits_exactly_the_listed_metrics() {
        let metrics = batch_metrics(&IngestSummary::default(), 1.0, 1.0, Some(5), 0);
        assert_eq!(metrics.names(), METRICS.names);
        assert_eq!(metrics.function(), METRICS.function);
    }

    #[test]
    fn serializes_with_exactly_the_contract_fields() {
        let s = IngestSummary {
            records: 3,
            stored: 1,
            duplicates: 1,
            superseded: 1,
            dead_lettered: 1,
            partitions: BTreeMap::from([("flight-data-0".to_owned(), OffsetRange { first_offset: 4, last_offset: 6 })]),
            duration_ms: 12,
        };
        assert!(s.is_balanced());
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({
                "records": 3, "stored": 1, "duplicates": 1, "superseded": 1, "dead_lettered": 1,
                "partitions": {"flight-data-0": {"first_offset": 4, "last_offset": 6}},
                "duration_ms": 12
            })
        );
    }
}
