//! Where dead letters go: SQS in AWS, the store's own table locally. Above both the dead-letter format
//! ([`crate::deadletter`]) and the store, which need neither.

mod sqs;

use crate::deadletter::DeadLetter;
use crate::storage::{Store, StoreError};

pub use sqs::{DEFAULT_MAX_MESSAGE_BYTES, DlqSettings, MAX_BATCH_ENTRIES, SqsDeadLetters, SqsSendError};

/// Failure to hand dead letters over; the invocation must fail so nothing is lost.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("dead-letter queue send failed after {attempts} attempts")]
    Sqs {
        attempts: u32,
        #[source]
        source: SqsSendError,
    },
    #[error("dead-letter table write failed")]
    Store(#[from] StoreError),
}

/// Where dead letters go: SQS in AWS, the store's own table when running locally.
#[derive(Clone)]
pub enum DeadLetterSink {
    Sqs(SqsDeadLetters),
    Store(Store),
}

impl DeadLetterSink {
    /// Hands every letter over or fails; letters are idempotent on their coordinates downstream.
    pub async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        if letters.is_empty() {
            return Ok(());
        }
        match self {
            Self::Sqs(q) => q.send(letters).await,
            Self::Store(s) => s.put_dead_letters(letters).await.map(|_| ()).map_err(DeadLetterError::from),
        }
    }
}
