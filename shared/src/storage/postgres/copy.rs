//! PostgreSQL's binary `COPY` format, in which the write path sends a batch's new history rows: the
//! cheapest way the server takes rows (no planner, no per-row executor setup, no text to parse). The ingest
//! benchmark's baseline encodes with the same code, so the two differ only in what the server does.

use std::ops::DerefMut;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use sqlx::postgres::PgCopyIn;

use crate::domain::Snapshot;
use crate::storage::batch::payload_and_digest;
use crate::storage::state;

/// The statement [`send_history`] and [`history_rows`] feed; `received_at` takes its default.
pub const COPY_HISTORY: &str =
    "COPY flight_events (event_id, event_time, flight_id, removed, payload, digest) FROM STDIN (FORMAT binary)";

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01), the origin of binary timestamps.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A binary `COPY` stream under construction: the header, then rows of fields, then the trailer.
pub struct CopyBuffer(Vec<u8>);

impl CopyBuffer {
    /// A stream with its header, room reserved for `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut b = Vec::with_capacity(bytes.max(32));
        b.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        b.extend_from_slice(&0i32.to_be_bytes()); // flags
        b.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self(b)
    }

    /// Starts a row of `fields` fields.
    pub fn row(&mut self, fields: i16) {
        self.0.extend_from_slice(&fields.to_be_bytes());
    }

    /// A field of raw bytes: `text`, `json` and `bytea` travel as themselves.
    pub fn bytes(&mut self, v: &[u8]) {
        // A field is at most 1 GB on the server; a longer one fails there, not here.
        self.0.extend_from_slice(&(v.len() as i32).to_be_bytes());
        self.0.extend_from_slice(v);
    }

    /// A text field, or NULL.
    pub fn text(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.bytes(v.as_bytes()),
            None => self.null(),
        }
    }

    pub fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }

    pub fn bool(&mut self, v: bool) {
        self.bytes(&[u8::from(v)]);
    }

    /// A `timestamptz`, or NULL.
    pub fn time(&mut self, t: Option<DateTime<Utc>>) {
        match t {
            Some(t) => self.bytes(&(t.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes()),
            None => self.null(),
        }
    }

    /// A `date`, or NULL.
    pub fn date(&mut self, d: Option<NaiveDate>) {
        const PG_EPOCH_DAYS: i32 = 730_120; // 2000-01-01 in days from 0001-01-01 (CE)
        match d {
            Some(d) => self.bytes(&(chrono::Datelike::num_days_from_ce(&d) - PG_EPOCH_DAYS).to_be_bytes()),
            None => self.null(),
        }
    }

    /// A `float8`, or NULL.
    pub fn float(&mut self, x: Option<f64>) {
        match x {
            Some(x) => self.bytes(&x.to_be_bytes()),
            None => self.null(),
        }
    }

    /// The bytes encoded so far, to send as one part of the stream; the buffer starts over, empty.
    pub fn take(&mut self) -> Vec<u8> {
        let capacity = self.0.capacity();
        std::mem::replace(&mut self.0, Vec::with_capacity(capacity))
    }

    /// The finished stream.
    pub fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

/// A state row in `COPY` form, for a table shaped like `flights` (the ingest benchmark's floor).
impl<'a> state::Sink<'a> for CopyBuffer {
    fn text(&mut self, v: Option<&'a str>) {
        CopyBuffer::text(self, v);
    }
    fn date(&mut self, v: Option<NaiveDate>) {
        CopyBuffer::date(self, v);
    }
    fn time(&mut self, v: Option<DateTime<Utc>>) {
        CopyBuffer::time(self, v);
    }
    fn float(&mut self, v: Option<f64>) {
        CopyBuffer::float(self, v);
    }
    /// `jsonb`'s binary form: a version byte, then the text.
    fn json(&mut self, v: Option<String>) {
        match v {
            Some(text) => {
                let mut field = Vec::with_capacity(text.len() + 1);
                field.push(1);
                field.extend_from_slice(text.as_bytes());
                self.bytes(&field);
            }
            None => self.null(),
        }
    }
    fn flag(&mut self, v: bool) {
        self.bool(v);
    }
}

/// Appends the history row of `s` for [`COPY_HISTORY`]: id, time, flight, removal flag, canonical payload
/// and digest, as the write path stores them.
fn history_row(buf: &mut CopyBuffer, s: &Snapshot) {
    let (payload, digest) = payload_and_digest(s);
    buf.row(6);
    buf.bytes(s.event_id().as_bytes());
    buf.time(Some(s.event_time()));
    buf.bytes(s.flight_id().as_str().as_bytes());
    buf.bool(matches!(s, Snapshot::Removal(_)));
    buf.text(payload.as_deref());
    buf.bytes(&digest);
}

/// The history rows of `snapshots` as one finished stream (for loading data in one piece).
pub fn history_rows<'a>(snapshots: impl ExactSizeIterator<Item = &'a Snapshot>) -> Vec<u8> {
    // About 600 bytes a row for the simulator's events: one allocation for the usual batch.
    let mut buf = CopyBuffer::with_capacity(snapshots.len() * 640);
    for s in snapshots {
        history_row(&mut buf, s);
    }
    buf.finish()
}

/// Rows per message of [`send_history`]: about 300 KB, enough that the server is busy with one part while the
/// next is encoded, and a batch of 10,000 still goes in about 20 messages.
const ROWS_PER_SEND: usize = 500;

/// Encodes and sends the history rows of `snapshots` into an open [`COPY_HISTORY`], part by part: the server
/// parses and inserts each part while the next is encoded, instead of waiting for the whole batch. The stream
/// is complete when this returns; the caller ends the `COPY` with `finish`, and may do other work first
/// while the server writes the last part.
pub async fn send_history<C: DerefMut<Target = PgConnection>>(
    copy_in: &mut PgCopyIn<C>,
    snapshots: &[&Snapshot],
) -> Result<(), sqlx::Error> {
    let mut buf = CopyBuffer::with_capacity(ROWS_PER_SEND * 640);
    for (i, s) in snapshots.iter().enumerate() {
        history_row(&mut buf, s);
        if (i + 1) % ROWS_PER_SEND == 0 {
            copy_in.send(buf.take()).await?;
        }
    }
    copy_in.send(buf.finish()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_count_from_the_postgres_epoch() {
        let mut buf = CopyBuffer::with_capacity(0);
        let header = buf.0.len();
        buf.date(NaiveDate::from_ymd_opt(2000, 1, 2));
        buf.time(DateTime::from_timestamp(946_684_801, 0));
        let out = buf.finish();
        assert_eq!(&out[header..header + 8], &[0, 0, 0, 4, 0, 0, 0, 1]);
        assert_eq!(&out[header + 8..header + 20], &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40]);
        assert_eq!(&out[header + 20..], &[0xff, 0xff]);
    }
}
