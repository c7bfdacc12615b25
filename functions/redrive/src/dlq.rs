//! The dead-letter queue, both ways in: the SQS event (the queue attached as an event source) and
//! on-demand polling (receive, replay, delete on success).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry};
use contrail_shared::storage::Store;
use contrail_shared::xray;

use crate::error::RedriveError;
use crate::replay::Replayer;
use crate::report::{FailReason, Failure, RedriveReport, log_item};

/// SQS allows at most this many messages per receive and per batch call.
const SQS_BATCH: u32 = 10;
/// A short long-poll: an empty queue ends the run quickly.
const WAIT_SECONDS: i32 = 1;
/// Messages stay hidden while a run works on them, so one run never sees a message twice; those left
/// in place are made visible again at the end.
const VISIBILITY_SECONDS: i32 = 300;

/// The SQS dead-letter queue that ingest writes poison records to.
#[derive(Clone)]
pub struct DeadLetterQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl DeadLetterQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// Receives up to `max` messages in batches of ten, replays each, deletes those that replayed.
    /// A dry run deletes nothing; every message not deleted is made visible again before returning.
    pub async fn drain(&self, store: &Store, max: u32, dry_run: bool) -> Result<RedriveReport, RedriveError> {
        let mut report = RedriveReport::new(dry_run);
        let mut replayer = Replayer::new(store, dry_run);
        let mut left: Vec<String> = Vec::new();
        let result = self.drain_into(&mut replayer, &mut report, &mut left, max, dry_run).await;
        self.release(&left).await;
        result.map(|()| report)
    }

    async fn drain_into(
        &self,
        replayer: &mut Replayer<'_>,
        report: &mut RedriveReport,
        left: &mut Vec<String>,
        max: u32,
        dry_run: bool,
    ) -> Result<(), RedriveError> {
        let mut received = 0u32;
        while received < max {
            let want = (max - received).min(SQS_BATCH);
            let receive = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(want as i32)
                .wait_time_seconds(WAIT_SECONDS)
                .visibility_timeout(VISIBILITY_SECONDS)
                .send();
            let out = xray::record(|r| xray::Call::aws("SQS", "ReceiveMessage", r), receive)
                .await
                .map_err(|e| RedriveError::Queue(Box::new(e)))?;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            received += messages.len() as u32;
            let mut done: Vec<(String, String)> = Vec::new();
            for m in &messages {
                let id = m.message_id.clone().unwrap_or_default();
                let (subject, outcome) = replayer.message(m.body.as_deref()).await;
                log_item("dlq", &id, &subject, &outcome, dry_run);
                report.record(&id, &outcome);
                match (&m.receipt_handle, outcome.is_replayed() && !dry_run) {
                    (Some(handle), true) => done.push((id, handle.clone())),
                    (Some(handle), false) => left.push(handle.clone()),
                    (None, _) => {}
                }
            }
            self.delete(&done, report).await;
        }
        Ok(())
    }

    /// Deletes replayed messages; one that cannot be deleted stays in the report as `delete_failed`.
    async fn delete(&self, done: &[(String, String)], report: &mut RedriveReport) {
        if done.is_empty() {
            return;
        }
        let entries: Vec<DeleteMessageBatchRequestEntry> = done
            .iter()
            .enumerate()
            .filter_map(|(i, (_, handle))| {
                DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(handle).build().ok()
            })
            .collect();
        let delete = self.client.delete_message_batch().queue_url(&self.url).set_entries(Some(entries)).send();
        let result = xray::record(|r| xray::Call::aws("SQS", "DeleteMessageBatch", r), delete).await;
        match result {
            Ok(out) => {
                for failed in out.failed {
                    if let Some((id, _)) = failed.id.parse::<usize>().ok().and_then(|i| done.get(i)) {
                        let detail = failed.message.unwrap_or(failed.code);
                        report.replayed_but_left(id, &Failure::new(FailReason::DeleteFailed, detail));
                    }
                }
            }
            Err(e) => {
                let failure = Failure::new(
                    FailReason::DeleteFailed,
                    format!("delete: {}", aws_sdk_sqs::error::DisplayErrorContext(e)),
                );
                for (id, _) in done {
                    report.replayed_but_left(id, &failure);
                }
            }
        }
    }

    /// Makes messages left in place visible again at once, so the next run (or a real run after a dry
    /// run) sees them. Best effort: if this fails they reappear when their visibility timeout ends.
    async fn release(&self, handles: &[String]) {
        for chunk in handles.chunks(SQS_BATCH as usize) {
            let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            let release =
                self.client.change_message_visibility_batch().queue_url(&self.url).set_entries(Some(entries)).send();
            let sent = xray::record(|r| xray::Call::aws("SQS", "ChangeMessageVisibilityBatch", r), release).await;
            if let Err(e) = sent {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not release messages left in the queue");
            }
        }
    }
}

/// The SQS event path: replays every message; those that still fail are reported as batch item
/// failures so they stay in the queue (the event source mapping deletes the others).
pub async fn handle_sqs_event(store: &Store, event: &SqsEvent) -> (SqsBatchResponse, RedriveReport) {
    let mut report = RedriveReport::new(false);
    let mut response = SqsBatchResponse::default();
    let mut replayer = Replayer::new(store, false);
    for m in &event.records {
        let id = m.message_id.clone().unwrap_or_default();
        let (subject, outcome) = replayer.message(m.body.as_deref()).await;
        log_item("sqs", &id, &subject, &outcome, false);
        report.record(&id, &outcome);
        if !outcome.is_replayed() {
            // An empty identifier makes Lambda retry the whole batch: still nothing is lost.
            response.add_failure(id);
        }
    }
    (response, report)
}
