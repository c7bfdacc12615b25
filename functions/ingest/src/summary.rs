//! What one invocation did: the handler's response and its one summary log line.

use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;

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
