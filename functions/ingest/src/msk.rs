//! The event the MSK event source mapping sends, parsed leniently.
//!
//! `aws_lambda_events`' Kafka type refuses inputs the mapping really produces (header bytes above 127,
//! a missing `headers` field, a `-1` timestamp), and one refused field fails the whole batch before any
//! record can be dead-lettered. These types accept all of them, ignore unknown fields, and serialize back
//! in the mapping's own shape so the local stack and redrive can build and re-read events.

use std::collections::BTreeMap;

use contrail_shared::codec::{EVENT_TIME_HEADER, RawRecord, encode_base64};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// The `eventSource` of an Amazon MSK mapping.
pub const EVENT_SOURCE_MSK: &str = "aws:kafka";

/// The `eventSource` of a self-managed Kafka mapping (Confluent Cloud, Redpanda, Kafka on EC2): its events
/// carry `bootstrapServers` and no `eventSourceArn`, and are otherwise the same.
pub const EVENT_SOURCE_SELF_MANAGED_KAFKA: &str = "SelfManagedKafka";

/// One invocation's batch: records grouped by `"<topic>-<partition>"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MskEvent {
    #[serde(default, deserialize_with = "null_as_default")]
    pub event_source: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub event_source_arn: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub bootstrap_servers: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: BTreeMap<String, Vec<MskRecord>>,
}

/// One Kafka record; key and value stay base64 as delivered until the codec decodes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MskRecord {
    #[serde(default, deserialize_with = "null_as_default")]
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    /// Milliseconds since the epoch; `-1` when the producer set none.
    #[serde(default = "no_timestamp", deserialize_with = "timestamp_ms")]
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_type: Option<String>,
    /// Base64; `None` for a record without a key.
    #[serde(default)]
    pub key: Option<String>,
    /// Base64; `None` for a tombstone.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub headers: Vec<BTreeMap<String, HeaderBytes>>,
}

/// A header value: bytes that the mapping writes as signed integers (-128..127).
/// Unsigned (0..255) is accepted too; serialization uses the signed form, as the mapping does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBytes(pub Vec<u8>);

fn no_timestamp() -> i64 {
    -1
}

impl MskEvent {
    /// Builds an event the way the mapping would: records grouped by `topic-partition`, each group in
    /// the order given.
    pub fn from_records(source_arn: impl Into<String>, records: impl IntoIterator<Item = MskRecord>) -> Self {
        let mut groups: BTreeMap<String, Vec<MskRecord>> = BTreeMap::new();
        for r in records {
            groups.entry(format!("{}-{}", r.topic, r.partition)).or_default().push(r);
        }
        Self {
            event_source: EVENT_SOURCE_MSK.to_owned(),
            event_source_arn: source_arn.into(),
            bootstrap_servers: String::new(),
            records: groups,
        }
    }

    /// Builds an event the way a self-managed Kafka mapping would, for brokers `bootstrap_servers`.
    pub fn self_managed(bootstrap_servers: impl Into<String>, records: impl IntoIterator<Item = MskRecord>) -> Self {
        Self {
            event_source: EVENT_SOURCE_SELF_MANAGED_KAFKA.to_owned(),
            event_source_arn: String::new(),
            bootstrap_servers: bootstrap_servers.into(),
            ..Self::from_records("", records)
        }
    }

    /// How many records the batch holds.
    pub fn record_count(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }

    /// Every record, group by group.
    pub fn iter_records(&self) -> impl Iterator<Item = &MskRecord> {
        self.records.values().flatten()
    }
}

impl MskRecord {
    /// A record with raw key and value bytes, base64-encoded as the mapping delivers them.
    pub fn new(
        topic: impl Into<String>,
        partition: i64,
        offset: i64,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Self {
        Self {
            topic: topic.into(),
            partition,
            offset,
            timestamp: timestamp_ms,
            timestamp_type: Some("CREATE_TIME".to_owned()),
            key: key.map(encode_base64),
            value: value.map(encode_base64),
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(BTreeMap::from([(name.into(), HeaderBytes(value.into()))]));
        self
    }

    /// The value of the record's `event_time` header (a tombstone's removal time), the last one when the
    /// header repeats (as Kafka's `Headers.lastHeader` reads it).
    pub fn event_time_header(&self) -> Option<&[u8]> {
        self.headers.iter().rev().find_map(|h| h.get(EVENT_TIME_HEADER)).map(|v| v.0.as_slice())
    }

    /// The record as the codec sees it. A negative timestamp means none.
    pub fn raw(&self) -> RawRecord<'_> {
        RawRecord {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp_ms: (self.timestamp >= 0).then_some(self.timestamp),
            key: self.key.as_deref(),
            value: self.value.as_deref(),
        }
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Accepts an integer, a float (rounded down) or a numeric string; `null` is "no timestamp".
fn timestamp_ms<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a millisecond timestamp")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom("timestamp out of range"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            if v.is_finite() && v.abs() < 9.0e15 {
                Ok(v.floor() as i64)
            } else {
                Err(E::custom("timestamp out of range"))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            let v = v.trim();
            match v.parse::<i64>() {
                Ok(n) => Ok(n),
                Err(_) => {
                    v.parse::<f64>().map_err(|_| E::custom("timestamp is not a number")).and_then(|f| self.visit_f64(f))
                }
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
            Ok(-1)
        }
        fn visit_none<E: de::Error>(self) -> Result<i64, E> {
            Ok(-1)
        }
    }
    d.deserialize_any(V)
}

impl Serialize for HeaderBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for b in &self.0 {
            seq.serialize_element(&(*b as i8))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for HeaderBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HeaderBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of bytes (-128..255)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderBytes, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(n) = seq.next_element::<i64>()? {
                    let b = match n {
                        -128..=-1 => (n + 256) as u8,
                        0..=255 => n as u8,
                        _ => return Err(de::Error::custom(format!("header byte {n} is outside -128..255"))),
                    };
                    out.push(b);
                }
                Ok(HeaderBytes(out))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HeaderBytes, E> {
                Ok(HeaderBytes(v.as_bytes().to_vec()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<HeaderBytes, E> {
                Ok(HeaderBytes::default())
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::kafka::{KafkaEvent, KafkaRecord};
    use std::collections::HashMap;

    #[test]
    fn parses_what_aws_lambda_events_serializes() {
        let mut theirs = KafkaEvent::default();
        theirs.event_source = Some("aws:kafka".into());
        theirs.event_source_arn = Some("arn:aws:kafka:us-east-1:123456789012:cluster/c/abc".into());
        theirs.bootstrap_servers = Some("b-1.example:9098".into());
        let mut rec = KafkaRecord::default();
        rec.topic = Some("flight-data".into());
        rec.partition = 2;
        rec.offset = 15;
        rec.timestamp = aws_lambda_events::encodings::MillisecondTimestamp(
            chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
        );
        rec.timestamp_type = Some("CREATE_TIME".into());
        rec.key = Some(encode_base64("UA1-2024-01-01-EWR"));
        rec.value = Some(encode_base64("{}"));
        rec.headers = vec![HashMap::from([("source".to_string(), vec![104i8, 105, -61, -87])])];
        theirs.records = HashMap::from([("flight-data-2".to_string(), vec![rec])]);

        let json = serde_json::to_string(&theirs).unwrap();
        let ours: MskEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(ours.event_source, "aws:kafka");
        assert_eq!(ours.event_source_arn, "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc");
        assert_eq!(ours.bootstrap_servers, "b-1.example:9098");
        let r = &ours.records["flight-data-2"][0];
        assert_eq!((r.topic.as_str(), r.partition, r.offset), ("flight-data", 2, 15));
        // Their type loses milliseconds to float maths at times; ours keeps whatever was sent, within 1 ms.
        assert!((r.timestamp - 1_700_000_000_123).abs() <= 1, "{}", r.timestamp);
        assert_eq!(r.timestamp_type.as_deref(), Some("CREATE_TIME"));
        assert_eq!(r.key.as_deref(), Some(encode_base64("UA1-2024-01-01-EWR").as_str()));
        assert_eq!(r.headers[0]["source"].0, "hié".as_bytes());
    }

    #[test]
    fn what_we_serialize_parses_as_aws_lambda_events_kafka_event() {
        let ev = MskEvent::from_records(
            "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc",
            [MskRecord::new("flight-data", 0, 7, 1_700_000_000_000, Some(b"k"), Some(b"v")).with_header("h", "é")],
        );
        let theirs: KafkaEvent = serde_json::from_str(&serde_json::to_string(&ev).unwrap()).unwrap();
        let r = &theirs.records["flight-data-0"][0];
        assert_eq!(r.offset, 7);
        assert_eq!(r.headers[0]["h"], vec![-61i8, -87]);
        assert_eq!(r.value.as_deref(), Some("dg=="));
    }

    #[test]
    fn accepts_what_the_mapping_sends_but_aws_lambda_events_refuses() {
        let json = r#"{
            "eventSource": "aws:kafka",
            "eventSourceArn": "arn",
            "records": {"flight-data-0": [
                {"topic": "flight-data", "partition": 0, "offset": 1, "timestamp": -1, "timestampType": "NO_TIMESTAMP_TYPE",
                 "key": null, "value": "e30=", "headers": [{"a": [200, 255, 0]}, {"b": [-1, -128]}], "newField": 1},
                {"topic": "flight-data", "partition": 0, "offset": 2, "timestamp": "1700000000001", "key": "YQ==", "value": null},
                {"topic": "flight-data", "partition": 0, "offset": 3, "timestamp": 1700000000002.0, "headers": null}
            ]},
            "somethingNew": {"x": 1}
        }"#;
        assert!(serde_json::from_str::<KafkaEvent>(json).is_err(), "the strict type should refuse this input");
        let ev: MskEvent = serde_json::from_str(json).unwrap();
        assert_eq!(ev.bootstrap_servers, "");
        let recs = &ev.records["flight-data-0"];
        assert_eq!(recs[0].timestamp, -1);
        assert_eq!(recs[0].raw().timestamp_ms, None);
        assert_eq!(recs[0].headers[0]["a"].0, vec![200, 255, 0]);
        assert_eq!(recs[0].headers[1]["b"].0, vec![255, 128]);
        assert_eq!(recs[1].timestamp, 1_700_000_000_001);
        assert!(recs[1].headers.is_empty());
        assert_eq!(recs[1].value, None);
        assert_eq!(recs[2].timestamp, 1_700_000_000_002);
        assert_eq!(recs[2].key, None);
    }

    #[test]
    fn the_event_time_header_is_the_last_one_of_that_name() {
        let r = MskRecord::new("flight-data", 0, 1, 0, Some(b"k"), None);
        assert_eq!(r.event_time_header(), None);
        let r = r.with_header("source", "x").with_header("event_time", "a").with_header("event_time", "b");
        assert_eq!(r.event_time_header(), Some(b"b".as_slice()));
    }

    #[test]
    fn header_bytes_out_of_range_are_refused() {
        let json = r#"{"topic":"t","partition":0,"offset":0,"timestamp":0,"headers":[{"a":[256]}]}"#;
        assert!(serde_json::from_str::<MskRecord>(json).is_err());
    }

    #[test]
    fn from_records_groups_by_topic_and_partition_keeping_order() {
        let recs =
            [(0, 5), (1, 3), (0, 6), (10, 1)].map(|(p, o)| MskRecord::new("flight-data", p, o, 0, None, Some(b"x")));
        let ev = MskEvent::from_records("arn", recs);
        assert_eq!(ev.event_source, EVENT_SOURCE_MSK);
        assert_eq!(ev.records.keys().collect::<Vec<_>>(), ["flight-data-0", "flight-data-1", "flight-data-10"]);
        assert_eq!(ev.records["flight-data-0"].iter().map(|r| r.offset).collect::<Vec<_>>(), [5, 6]);
        assert_eq!(ev.record_count(), 4);
        let back: MskEvent = serde_json::from_str(&serde_json::to_string(&ev).unwrap()).unwrap();
        assert_eq!(back, ev);
    }
}
