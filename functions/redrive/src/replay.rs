//! The replay core every entry point shares: a dead letter goes through the codec and the store; a
//! failed batch goes through ingest's decoder, the store and the dead-letter sink, as ingest does.

use chrono::Utc;
use contrail_ingest::decode_batch;
use contrail_ingest::msk::MskEvent;
use contrail_shared::codec::{RejectReason, decode_record};
use contrail_shared::deadletter::DeadLetter;
use contrail_shared::ledger::LedgerSource;
use contrail_shared::sink::{DeadLetterError, DeadLetterSink};
use contrail_shared::storage::Store;
use contrail_shared::time_bounds::TimeBounds;

use crate::message::parse_dead_letter;
use crate::report::{Counts, FailReason, Failure, Outcome};

/// Replays items one after another. Once the database is unreachable the rest of the run fails fast
/// with the same reason instead of waiting on a dead connection per item.
pub struct Replayer<'a> {
    store: &'a Store,
    dry_run: bool,
    unavailable: Option<Failure>,
}

impl<'a> Replayer<'a> {
    pub fn new(store: &'a Store, dry_run: bool) -> Self {
        Self { store, dry_run, unavailable: None }
    }

    /// Replays a queue message body; `unrecognized` when it is not a dead letter.
    pub async fn message(&mut self, body: Option<&str>) -> (String, Outcome) {
        match parse_dead_letter(body) {
            Ok(letter) => (letter.coordinates(), self.letter(&letter).await),
            Err(f) => (String::new(), Outcome::Failed(f)),
        }
    }

    /// Replays one dead letter: decode again (the producer or this build may have been fixed), then store.
    pub async fn letter(&mut self, letter: &DeadLetter) -> Outcome {
        if letter.value_omitted {
            return Outcome::Failed(Failure::new(
                FailReason::ValueOmitted,
                format!("the value was too large to keep; replay {} from Kafka", letter.coordinates()),
            ));
        }
        let snapshot = match decode_record(&letter.raw_record()) {
            Ok(s) => s,
            Err(rejection) => {
                return Outcome::Failed(Failure::new(FailReason::Rejected(rejection.reason), rejection.to_string()));
            }
        };
        let one = Counts { records: 1, ..Counts::default() };
        if self.dry_run {
            return Outcome::Replayed(one);
        }
        if let Some(f) = &self.unavailable {
            return Outcome::Failed(f.clone());
        }
        match self.store.write_snapshots(std::slice::from_ref(&snapshot)).await {
            Ok(w) if !w.conflicting.is_empty() => Outcome::Failed(Failure::new(
                FailReason::Rejected(RejectReason::ConflictingDuplicate),
                format!(
                    "event_id {:?} is already stored with other content; the stored event stays",
                    snapshot.event_id()
                ),
            )),
            Ok(w) => Outcome::Replayed(Counts { stored: w.stored, duplicates: w.duplicates, ..one }),
            Err(e) => Outcome::Failed(self.store_failed(Failure::store(&e))),
        }
    }

    /// Replays a whole failed batch the way ingest handles one: valid records are written in one
    /// transaction, poison records go to the dead-letter sink. A dry run only decodes.
    pub async fn batch(&mut self, event: &MskEvent, sink: &DeadLetterSink) -> Outcome {
        // Replays store what they are given: no time bounds (this function does not read ingest's limits).
        let now = Utc::now();
        let mut decoded = decode_batch(event, &TimeBounds::UNBOUNDED, now);
        let records = decoded.records as u64;
        if self.dry_run {
            return Outcome::Replayed(Counts { records, ..Counts::default() });
        }
        if let Some(f) = &self.unavailable {
            return Outcome::Failed(f.clone());
        }
        // The replayed batch enters the ledger as the failure bucket's, filling the range ingest skipped.
        for entry in &mut decoded.ledger {
            entry.source = LedgerSource::S3;
        }
        let written = match self.store.write_batch(&decoded.snapshots, &decoded.ledger).await {
            Ok(w) => w,
            Err(e) => return Outcome::Failed(self.store_failed(Failure::store(&e))),
        };
        decoded.dead_letter_conflicts(&written.conflicting, now);
        for letter in &decoded.dead_letters {
            tracing::warn!(record = %letter.coordinates(), reason = %letter.reason, detail = %letter.detail, "replayed record dead-lettered");
        }
        // After the write: a database outage then never sends the same dead letters twice.
        if let Err(e) = sink.send(&decoded.dead_letters).await {
            let failure = match &e {
                DeadLetterError::Store(se) if se.is_retryable() => self.store_failed(Failure::store(se)),
                _ => Failure::new(FailReason::DeadLetterFailed, contrail_shared::telemetry::ErrorChain(&e).to_string()),
            };
            return Outcome::Failed(failure);
        }
        Outcome::Replayed(Counts {
            records,
            stored: written.stored,
            duplicates: written.duplicates,
            dead_lettered: decoded.dead_letters.len() as u64,
        })
    }

    fn store_failed(&mut self, failure: Failure) -> Failure {
        if failure.reason == FailReason::StoreUnavailable {
            self.unavailable = Some(failure.clone());
        }
        failure
    }
}
