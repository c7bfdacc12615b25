//! The SQS dead-letter sink: `SendMessageBatch` in chunks of at most ten messages and at most the
//! batch byte limit, failed entries retried with backoff, and an error when some still fail so the
//! invocation fails and the event source mapping retries the batch (nothing is lost).

use std::ops::Range;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::DeadLetterError;
use crate::config::{ConfigError, Env};
use crate::deadletter::DeadLetter;
use crate::telemetry::ErrorChain;
use crate::xray;

/// The SQS limit on one message and on one `SendMessageBatch` call: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// The SQS limit on entries per `SendMessageBatch` call.
pub const MAX_BATCH_ENTRIES: usize = 10;
const DEFAULT_ATTEMPTS: u32 = 4;
const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(200);
/// Room kept for a detail note when even the key is too big to travel.
const MAX_DETAIL_CHARS: usize = 1024;

/// The dead-letter queue a function is given: `DLQ_URL`, and `DLQ_MAX_MESSAGE_BYTES` (default: the SQS
/// maximum) for queues configured below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlqSettings {
    pub queue_url: String,
    pub max_message_bytes: usize,
}

impl DlqSettings {
    /// What [`DlqSettings::from_vars`] reads.
    pub const VARIABLES: &[&str] = &["DLQ_URL", "DLQ_MAX_MESSAGE_BYTES"];

    /// `None` without `DLQ_URL`.
    pub fn from_vars(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(queue_url) = env.var("DLQ_URL") else {
            return Ok(None);
        };
        let max_message_bytes = env.parse_var("DLQ_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES)?;
        Ok(Some(Self { queue_url, max_message_bytes }))
    }
}

/// Why the last attempt left letters unsent.
#[derive(Debug, thiserror::Error)]
pub enum SqsSendError {
    /// The call itself failed (network, credentials, no such queue, throttling).
    #[error("SendMessageBatch failed")]
    Call(#[source] Box<aws_sdk_sqs::error::SdkError<SendMessageBatchError>>),
    /// SQS took the call but refused entries; it reports them as codes, not as an error type.
    #[error("entries refused: {0}")]
    Refused(String),
    #[error("building the request")]
    Build(#[source] aws_sdk_sqs::error::BuildError),
}

/// Sends dead letters to one SQS queue in batches, with retries. Cheap to clone (the client is shared).
#[derive(Clone, Debug)]
pub struct SqsDeadLetters {
    client: Client,
    queue_url: String,
    max_message_bytes: usize,
    attempts: u32,
    base_delay: Duration,
}

impl SqsDeadLetters {
    /// A sink for `queue_url` with the SQS limits and four attempts per batch.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            attempts: DEFAULT_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
        }
    }

    /// A sink as [`DlqSettings`] describe it. Every function that dead-letters builds its sink here, so
    /// all of them split letters alike.
    pub fn configured(client: Client, settings: &DlqSettings) -> Self {
        Self::new(client, settings.queue_url.clone()).with_max_message_bytes(settings.max_message_bytes)
    }

    /// Sets the message (and batch) byte limit, for queues configured below the SQS maximum.
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes.max(1024);
        self
    }

    /// Sets how many times a batch is tried and the first back-off delay (doubled each retry).
    pub fn with_retries(mut self, attempts: u32, base_delay: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.base_delay = base_delay;
        self
    }

    /// The queue letters go to.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Sends every letter or fails; on failure some letters may already be queued (a retry of the
    /// batch queues them again: consumers treat letters as idempotent on their coordinates).
    pub async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        let bodies: Vec<String> = letters.iter().map(|l| self.message_body(l)).collect();
        for range in chunk_ranges(&bodies, self.max_message_bytes) {
            self.send_chunk(&bodies[range]).await?;
        }
        Ok(())
    }

    /// The letter's JSON, slimmed to fit one message: the value is dropped first (`value_omitted`; the
    /// record can be re-read from Kafka by its coordinates), then an oversize key.
    fn message_body(&self, letter: &DeadLetter) -> String {
        let json = letter.to_json();
        if json.len() <= self.max_message_bytes {
            return json;
        }
        let mut slim =
            DeadLetter { value: None, value_omitted: letter.value.is_some() || letter.value_omitted, ..letter.clone() };
        tracing::warn!(record = %letter.coordinates(), bytes = json.len(), "dead letter too big for a queue message; value omitted");
        let json = slim.to_json();
        if json.len() <= self.max_message_bytes {
            return json;
        }
        let detail: String = letter.detail.chars().take(MAX_DETAIL_CHARS).collect();
        slim.detail = format!(
            "{detail} (key of {} base64 characters omitted: too big for a queue message)",
            letter.key.as_ref().map_or(0, String::len)
        );
        slim.key = None;
        slim.to_json()
    }

    async fn send_chunk(&self, bodies: &[String]) -> Result<(), DeadLetterError> {
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let entries = pending
                .iter()
                .map(|&i| SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(&bodies[i]).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| DeadLetterError::Sqs { attempts: attempt, source: SqsSendError::Build(e) })?;
            let send = self.client.send_message_batch().queue_url(&self.queue_url).set_entries(Some(entries)).send();
            // Boxed: the SDK's future is deep, and the handler's nests it (the compiler's layout depth limit).
            let sent = xray::record(|r| xray::Call::aws("SQS", "SendMessageBatch", r), Box::pin(send)).await;
            let error = match sent {
                Ok(out) => {
                    let failed = out.failed();
                    if failed.is_empty() {
                        return Ok(());
                    }
                    let refused = SqsSendError::Refused(
                        failed
                            .iter()
                            .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or("")))
                            .collect::<Vec<_>>()
                            .join("; "),
                    );
                    pending = failed
                        .iter()
                        .filter_map(|f| f.id().parse::<usize>().ok())
                        .filter(|i| *i < bodies.len())
                        .collect();
                    if pending.is_empty() {
                        // Failures that name no entry of ours: resend the whole chunk.
                        pending = (0..bodies.len()).collect();
                    }
                    refused
                }
                Err(e) => SqsSendError::Call(Box::new(e)),
            };
            if attempt >= self.attempts {
                return Err(DeadLetterError::Sqs { attempts: attempt, source: error });
            }
            tracing::warn!(attempt, pending = pending.len(), error = %ErrorChain(&error), "dead-letter queue send incomplete");
            tokio::time::sleep(self.base_delay.saturating_mul(1 << (attempt - 1).min(10))).await;
        }
    }
}

/// Splits messages into consecutive calls of at most ten entries and at most `max_bytes` of bodies.
fn chunk_ranges(bodies: &[String], max_bytes: usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, body) in bodies.iter().enumerate() {
        let full = i - start == MAX_BATCH_ENTRIES || (i > start && bytes + body.len() > max_bytes);
        if full {
            ranges.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        ranges.push(start..bodies.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(sizes: &[usize]) -> Vec<String> {
        sizes.iter().map(|n| "x".repeat(*n)).collect()
    }

    #[test]
    fn chunks_hold_at_most_ten_messages() {
        let ranges = chunk_ranges(&sizes(&[1; 25]), 1000);
        assert_eq!(ranges, [0..10, 10..20, 20..25]);
    }

    #[test]
    fn chunks_stay_under_the_byte_limit() {
        let ranges = chunk_ranges(&sizes(&[400, 400, 300, 900, 100, 1000]), 1000);
        assert_eq!(ranges, [0..2, 2..3, 3..5, 5..6]);
        assert!(chunk_ranges(&[], 1000).is_empty());
    }
}
