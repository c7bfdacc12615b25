//! Dead letters: records that can never be stored, kept with everything needed to replay them.
//!
//! The JSON form ([`DeadLetter`], kind `contrail.dead-letter/v1`) is a public contract: it is the body of
//! every SQS DLQ message and the row of the local dead-letter table, and the redrive function reads it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codec::{RawRecord, RejectReason, Rejection};

/// The `kind` tag of a dead-letter message.
pub const DEAD_LETTER_KIND: &str = "contrail.dead-letter/v1";

/// One refused Kafka record: its coordinates, original key and value (base64, as received), and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Always [`DEAD_LETTER_KIND`]; lets the redrive function recognise the format.
    pub kind: String,
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    /// Kafka timestamp in milliseconds.
    pub timestamp: Option<i64>,
    /// Original key, base64 as received; `None` when the record had no key.
    pub key: Option<String>,
    /// Original value, base64 as received; `None` for a tombstone or when omitted (see `value_omitted`).
    pub value: Option<String>,
    /// True when the value was too big to travel with the message; replay it from Kafka by offset.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub value_omitted: bool,
    pub reason: RejectReason,
    /// The offending field, when the reason concerns one.
    pub field: Option<String>,
    pub detail: String,
    pub dead_lettered_at: DateTime<Utc>,
}

impl DeadLetter {
    /// Builds the dead letter for a record the codec refused.
    pub fn new(raw: &RawRecord<'_>, rejection: Rejection, at: DateTime<Utc>) -> Self {
        // A value over the size limit cannot travel in a queue message; its coordinates identify it.
        let omit = rejection.reason == RejectReason::TooLarge;
        Self {
            kind: DEAD_LETTER_KIND.to_owned(),
            topic: raw.topic.to_owned(),
            partition: raw.partition,
            offset: raw.offset,
            timestamp: raw.timestamp_ms,
            key: raw.key.map(str::to_owned),
            value: if omit { None } else { raw.value.map(str::to_owned) },
            value_omitted: omit && raw.value.is_some(),
            reason: rejection.reason,
            field: rejection.field,
            detail: rejection.detail,
            dead_lettered_at: at,
        }
    }

    /// The record as the codec sees it, for a replay.
    pub fn raw_record(&self) -> RawRecord<'_> {
        RawRecord {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp_ms: self.timestamp,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
        }
    }

    /// `topic-partition@offset`: how logs and reports name the record.
    pub fn coordinates(&self) -> String {
        format!("{}-{}@{}", self.topic, self.partition, self.offset)
    }

    /// The JSON message body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a dead letter of strings and numbers always serializes")
    }
}
