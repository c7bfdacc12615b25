//! What the function was invoked with: an SQS event from the dead-letter queue, or an operator's
//! on-demand request.

use aws_lambda_events::sqs::SqsEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RedriveError;

/// Messages or objects examined when a request does not say.
pub const DEFAULT_MAX_MESSAGES: u32 = 100;
/// The most one invocation examines (a run must end well inside the function timeout).
pub const MAX_MESSAGES_LIMIT: u32 = 10_000;

/// Which store of failures an on-demand request drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Dlq,
    S3,
    /// The ledger's audit (gaps and redeliveries per partition); replays nothing.
    Audit,
}

/// `{"source": "dlq" | "s3", "max_messages": n, "prefix": "...", "dry_run": bool}`, or
/// `{"source": "audit", "since": "RFC 3339", "topic": "...", "partitions": [n, ...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedriveRequest {
    pub source: Source,
    #[serde(default = "default_max")]
    pub max_messages: u32,
    /// S3 only: the key prefix to list (default: the whole bucket).
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub dry_run: bool,
    /// Audit only: ledger rows committed at or after this time (default: the whole ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Audit only: one topic (default: every topic in the ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Audit only: these partitions (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<i64>,
}

fn default_max() -> u32 {
    DEFAULT_MAX_MESSAGES
}

impl RedriveRequest {
    /// `max_messages` within 1..=10,000.
    pub fn limit(&self) -> u32 {
        self.max_messages.clamp(1, MAX_MESSAGES_LIMIT)
    }
}

/// The two entry points of the one binary.
#[derive(Debug, Clone)]
pub enum Invocation {
    Sqs(SqsEvent),
    OnDemand(RedriveRequest),
}

/// Tells the two apart: `Records` from `aws:sqs` is the queue's event; an object with `source` is a request.
pub fn classify(event: Value) -> Result<Invocation, RedriveError> {
    if let Some(records) = event.get("Records") {
        let Some(list) = records.as_array() else {
            return Err(RedriveError::BadEvent("Records is not a list".into()));
        };
        if let Some(other) =
            list.iter().map(|r| r.get("eventSource").and_then(Value::as_str)).find(|s| *s != Some("aws:sqs"))
        {
            return Err(RedriveError::BadEvent(format!(
                "records from {} are not SQS messages",
                other.unwrap_or("an unknown source")
            )));
        }
        let event: SqsEvent =
            serde_json::from_value(event).map_err(|e| RedriveError::BadEvent(format!("malformed SQS event: {e}")))?;
        return Ok(Invocation::Sqs(event));
    }
    if event.get("source").is_some() {
        let request: RedriveRequest =
            serde_json::from_value(event).map_err(|e| RedriveError::BadRequest(e.to_string()))?;
        return Ok(Invocation::OnDemand(request));
    }
    Err(RedriveError::BadEvent("neither an SQS event nor a {\"source\": \"dlq\"|\"s3\"|\"audit\"} request".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_sqs_event_is_told_from_a_request() {
        let ev = json!({"Records": [{"messageId": "m", "body": "{}", "eventSource": "aws:sqs"}]});
        assert!(matches!(classify(ev), Ok(Invocation::Sqs(e)) if e.records.len() == 1));
        let req = json!({"source": "s3", "prefix": "aws/", "dry_run": true});
        let Ok(Invocation::OnDemand(r)) = classify(req) else { panic!("not a request") };
        assert_eq!((r.source, r.prefix.as_str(), r.dry_run, r.limit()), (Source::S3, "aws/", true, 100));
        let audit = json!({"source": "audit", "since": "2026-12-01T00:00:00Z", "partitions": [0, 2]});
        let Ok(Invocation::OnDemand(r)) = classify(audit) else { panic!("not a request") };
        assert_eq!(r.source, Source::Audit);
        assert_eq!(r.since.map(|t| t.to_rfc3339()).as_deref(), Some("2026-12-01T00:00:00+00:00"));
        assert_eq!(r.partitions, [0, 2]);
    }

    #[test]
    fn max_messages_is_kept_within_bounds() {
        let r = |n: u32| RedriveRequest {
            source: Source::Dlq,
            max_messages: n,
            prefix: String::new(),
            dry_run: false,
            since: None,
            topic: None,
            partitions: Vec::new(),
        };
        assert_eq!(r(0).limit(), 1);
        assert_eq!(r(25).limit(), 25);
        assert_eq!(r(1_000_000).limit(), MAX_MESSAGES_LIMIT);
    }

    #[test]
    fn anything_else_is_an_error_not_a_panic() {
        for ev in [
            json!(null),
            json!([1]),
            json!({"Records": "x"}),
            json!({"Records": [{"eventSource": "aws:kinesis"}]}),
            json!({"source": "kafka"}),
            json!({"source": "dlq", "max_messages": -1}),
            json!({"source": "audit", "since": "yesterday"}),
            json!({"hello": 1}),
        ] {
            assert!(classify(ev.clone()).is_err(), "{ev}");
        }
    }
}
