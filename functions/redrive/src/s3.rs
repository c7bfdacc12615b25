//! The failure bucket: the MSK event source mapping's S3 on-failure destination. Each object is one
//! failed batch; a replayed object moves under `replayed/`, one that still fails stays where it is.

use aws_sdk_s3::error::DisplayErrorContext;
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::storage::Store;
use contrail_shared::xray;

use crate::error::RedriveError;
use crate::failure_record::parse_failure_record;
use crate::replay::Replayer;
use crate::report::{FailReason, Failure, Outcome, RedriveReport, log_item};

/// Where replayed objects go; listing skips it.
pub const REPLAYED_PREFIX: &str = "replayed/";

/// The S3 bucket the event source mapping writes failure records to.
#[derive(Clone)]
pub struct FailureBucket {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl FailureBucket {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// Replays up to `max` objects under `prefix` (outside `replayed/`), in key order.
    pub async fn redrive(
        &self,
        store: &Store,
        sink: &DeadLetterSink,
        prefix: &str,
        max: u32,
        dry_run: bool,
    ) -> Result<RedriveReport, RedriveError> {
        let keys = self.list(prefix, max).await?;
        let mut report = RedriveReport::new(dry_run);
        let mut replayer = Replayer::new(store, dry_run);
        for key in keys {
            let (subject, outcome) = match self.read(&key).await.and_then(|b| parse_failure_record(&b)) {
                Ok(record) => (record.subject(), replayer.batch(&record.event, sink).await),
                Err(f) => (String::new(), Outcome::Failed(f)),
            };
            log_item("s3", &key, &subject, &outcome, dry_run);
            report.record(&key, &outcome);
            if outcome.is_replayed()
                && !dry_run
                && let Err(f) = self.move_to_replayed(&key).await
            {
                tracing::warn!(key, detail = %f.detail, "replayed object could not be moved; replaying it again is harmless");
                report.replayed_but_left(&key, &f);
            }
        }
        Ok(report)
    }

    async fn list(&self, prefix: &str, max: u32) -> Result<Vec<String>, RedriveError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let list = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send();
            let out = xray::record(|r| xray::Call::aws("S3", "ListObjectsV2", r), list)
                .await
                .map_err(|e| RedriveError::Bucket { prefix: prefix.to_owned(), source: Box::new(e) })?;
            for object in out.contents.unwrap_or_default() {
                if let Some(key) = object.key
                    && !key.starts_with(REPLAYED_PREFIX)
                {
                    keys.push(key);
                    if keys.len() >= max as usize {
                        return Ok(keys);
                    }
                }
            }
            match out.next_continuation_token {
                Some(t) if out.is_truncated == Some(true) => token = Some(t),
                _ => return Ok(keys),
            }
        }
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, Failure> {
        let read_failed = |e: String| Failure::new(FailReason::ReadFailed, e);
        let get = self.client.get_object().bucket(&self.bucket).key(key).send();
        let out = xray::record(|r| xray::Call::aws("S3", "GetObject", r), get)
            .await
            .map_err(|e| read_failed(format!("get: {}", DisplayErrorContext(e))))?;
        let body = out.body.collect().await.map_err(|e| read_failed(format!("read body: {e}")))?;
        Ok(body.into_bytes().to_vec())
    }

    /// Copy to `replayed/<key>`, then delete the original: a crash in between leaves both, and the
    /// original replays again as duplicates only.
    async fn move_to_replayed(&self, key: &str) -> Result<(), Failure> {
        let move_failed = |e: String| Failure::new(FailReason::MoveFailed, e);
        let copy = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(format!("{REPLAYED_PREFIX}{key}"))
            .copy_source(copy_source(&self.bucket, key))
            .send();
        xray::record(|r| xray::Call::aws("S3", "CopyObject", r), copy)
            .await
            .map_err(|e| move_failed(format!("copy: {}", DisplayErrorContext(e))))?;
        let delete = self.client.delete_object().bucket(&self.bucket).key(key).send();
        xray::record(|r| xray::Call::aws("S3", "DeleteObject", r), delete)
            .await
            .map_err(|e| move_failed(format!("delete: {}", DisplayErrorContext(e))))?;
        Ok(())
    }
}

/// `bucket/key` with the key percent-encoded, as `CopyObject` requires.
fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", contrail_shared::uri::encode_path(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_everything_but_unreserved_characters_and_slashes() {
        assert_eq!(
            copy_source("b", "aws/lambda/x/2024-05-01T10.00.00 +é"),
            "b/aws/lambda/x/2024-05-01T10.00.00%20%2B%C3%A9"
        );
    }
}
