//! Recognising the MSK event source mapping's S3 on-failure record: metadata (`requestContext`,
//! `KafkaBatchInfo`) plus `payload`, the whole original event as a JSON string.

use contrail_ingest::msk::MskEvent;
use serde_json::Value;

use crate::report::{FailReason, Failure};

/// What redrive needs from a failure record: why the mapping gave up, which offsets, and the batch.
#[derive(Debug, Clone)]
pub struct FailureRecord {
    /// `requestContext.condition`: `RetryAttemptsExhausted`, `MaximumPayloadSizeExceeded`, ...
    pub condition: Option<String>,
    /// `KafkaBatchInfo.recordsInfo` as `topic-partition:first..last`, for logs.
    pub ranges: Vec<String>,
    pub event: MskEvent,
}

impl FailureRecord {
    /// A short description for the log line.
    pub fn subject(&self) -> String {
        format!("{} [{}]", self.condition.as_deref().unwrap_or("unknown condition"), self.ranges.join(", "))
    }
}

/// Parses an object's bytes; anything else is `unrecognized`, a record without its batch `payload_missing`.
pub fn parse_failure_record(bytes: &[u8]) -> Result<FailureRecord, Failure> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Failure::unrecognized(format!("the object is not JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(Failure::unrecognized("the object is not a JSON object"));
    };
    if !obj.contains_key("requestContext") && !obj.contains_key("KafkaBatchInfo") {
        return Err(Failure::unrecognized("not an event source mapping failure record (no requestContext)"));
    }
    let condition =
        obj.get("requestContext").and_then(|c| c.get("condition")).and_then(Value::as_str).map(str::to_owned);
    let ranges = records_info(obj.get("KafkaBatchInfo"));
    let payload = match obj.get("payload") {
        None | Some(Value::Null) => {
            return Err(Failure::new(
                FailReason::PayloadMissing,
                format!(
                    "the failure record ({}) carries no payload; replay offsets [{}] from Kafka",
                    condition.as_deref().unwrap_or("unknown condition"),
                    ranges.join(", ")
                ),
            ));
        }
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .map_err(|e| Failure::unrecognized(format!("the payload is not JSON: {e}")))?,
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(Failure::unrecognized("the payload is neither a JSON string nor an object")),
    };
    let is_kafka = payload.get("records").is_some_and(Value::is_object)
        && payload
            .get("eventSource")
            .and_then(Value::as_str)
            .is_none_or(|s| s == "aws:kafka" || s == "SelfManagedKafka");
    if !is_kafka {
        return Err(Failure::unrecognized("the payload is not a Kafka event (no records map)"));
    }
    let event: MskEvent = serde_json::from_value(payload)
        .map_err(|e| Failure::unrecognized(format!("the payload is not a Kafka event: {e}")))?;
    Ok(FailureRecord { condition, ranges, event })
}

fn records_info(batch_info: Option<&Value>) -> Vec<String> {
    let Some(Value::Object(info)) = batch_info.and_then(|b| b.get("recordsInfo")) else {
        return Vec::new();
    };
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "?".to_owned(),
    };
    info.iter()
        .map(|(tp, r)| format!("{tp}:{}..{}", text(r.get("firstRecordOffset")), text(r.get("lastRecordOffset"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: Value) -> Vec<u8> {
        serde_json::json!({
            "requestContext": {"requestId": "r", "functionArn": "arn", "condition": "RetryAttemptsExhausted",
                               "approximateInvokeCount": 3},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2024-05-01T10:00:00.000Z",
            "KafkaBatchInfo": {"batchSize": 1, "bootstrapServers": "b-1:9098", "payloadSize": 100,
                "recordsInfo": {"flight-data-0": {"firstRecordOffset": "5", "lastRecordOffset": "7",
                    "firstRecordTimestamp": "2024-05-01T09:59:00.000Z", "lastRecordTimestamp": "2024-05-01T09:59:01.000Z"}}},
            "payload": payload,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_payload_string_is_parsed_as_the_original_kafka_event() {
        let event = r#"{"eventSource":"aws:kafka","eventSourceArn":"arn","records":{"flight-data-0":[
            {"topic":"flight-data","partition":0,"offset":5,"timestamp":1,"key":null,"value":"e30=","headers":[]}]}}"#;
        let parsed = parse_failure_record(&record(Value::String(event.into()))).unwrap();
        assert_eq!(parsed.condition.as_deref(), Some("RetryAttemptsExhausted"));
        assert_eq!(parsed.ranges, ["flight-data-0:5..7"]);
        assert_eq!(parsed.event.record_count(), 1);
    }

    #[test]
    fn a_record_without_payload_is_reported_with_its_offsets() {
        let err = parse_failure_record(&record(Value::Null)).unwrap_err();
        assert_eq!(err.reason, FailReason::PayloadMissing);
        assert!(err.detail.contains("flight-data-0:5..7"), "{}", err.detail);
    }

    #[test]
    fn anything_else_is_unrecognized() {
        let kinesis = r#"{"Records":[{"kinesis":{}}]}"#;
        for bytes in [
            b"not json".to_vec(),
            b"[]".to_vec(),
            br#"{"hello":"world"}"#.to_vec(),
            record(Value::String("{broken".into())),
            record(Value::String(kinesis.into())),
            record(Value::Bool(true)),
        ] {
            let err = parse_failure_record(&bytes).unwrap_err();
            assert_eq!(err.reason, FailReason::Unrecognized, "{}", String::from_utf8_lossy(&bytes));
        }
    }
}
