//! The SQS dead-letter sink (placeholder; the ingest work fills it in).

use super::{DeadLetter, DeadLetterError};

/// Sends dead letters to an SQS queue in batches, with retries.
#[derive(Clone)]
pub struct SqsDeadLetters {}

impl SqsDeadLetters {
    pub async fn send(&self, _letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        Err(DeadLetterError::Sqs { attempts: 0, message: "not implemented".into() })
    }
}
