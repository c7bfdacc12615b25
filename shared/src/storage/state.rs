//! The current-state table, defined once: its columns, how a snapshot fills them, and the upsert's conflict
//! clause. Both engines' writes, the reads' column list and the ingest benchmark's baseline take their
//! columns from here, so a new column is added in one place (and in the migrations).

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{FlightId, Snapshot};

/// What a state column holds, as the write path hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Date,
    Time,
    Float,
    /// The position: JSON text of [`crate::domain::Position`].
    Json,
    Flag,
}

/// The columns of `flights` in the order [`fill`] writes them: the id, the details a removal keeps, then
/// the order key and the removal flag.
pub const COLUMNS: [(&str, Kind); 22] = [
    ("flight_id", Kind::Text),
    ("carrier", Kind::Text),
    ("number", Kind::Text),
    ("date", Kind::Date),
    ("origin", Kind::Text),
    ("destination", Kind::Text),
    ("status", Kind::Text),
    ("scheduled_departure", Kind::Time),
    ("scheduled_arrival", Kind::Time),
    ("estimated_departure", Kind::Time),
    ("estimated_arrival", Kind::Time),
    ("actual_departure", Kind::Time),
    ("actual_arrival", Kind::Time),
    ("departure_delay_minutes", Kind::Float),
    ("arrival_delay_minutes", Kind::Float),
    ("tail_number", Kind::Text),
    ("gate", Kind::Text),
    ("terminal", Kind::Text),
    ("position", Kind::Json),
    ("event_time", Kind::Time),
    ("event_id", Kind::Text),
    ("removed", Kind::Flag),
];

/// The details a removal leaves as they were: every column between the id and the order key.
const DETAILS: std::ops::Range<usize> = 1..19;

/// The index of `event_time` in [`COLUMNS`]; reads select the columns before it and it, as the flight's
/// `updated_at`.
const EVENT_TIME: usize = 19;

/// The names of `columns`, comma-separated: a column list for `INSERT`, `COPY` or `SELECT`.
pub fn names(columns: &[(&str, Kind)]) -> String {
    columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

/// Every state column, in [`COLUMNS`] order.
pub fn column_list() -> String {
    names(&COLUMNS)
}

/// The columns a read of a whole flight selects, in the order [`crate::storage::read`] maps them.
pub fn flight_columns() -> String {
    names(&COLUMNS[..=EVENT_TIME])
}

/// Receives one state row, column by column in [`COLUMNS`] order: each engine binds, or encodes, the
/// values its own way, and a removal's absent details arrive as `None` like any other null.
pub trait Sink<'a> {
    fn text(&mut self, v: Option<&'a str>);
    fn date(&mut self, v: Option<NaiveDate>);
    fn time(&mut self, v: Option<DateTime<Utc>>);
    fn float(&mut self, v: Option<f64>);
    fn json(&mut self, v: Option<String>);
    fn flag(&mut self, v: bool);
}

/// Writes the state row of `id` as snapshot `s` leaves it into `sink`. A removal sends no details: the
/// conflict clause keeps the stored ones (see [`conflict_clause`]).
pub fn fill<'a>(sink: &mut impl Sink<'a>, id: &'a FlightId, s: &'a Snapshot) {
    sink.text(Some(id.as_str()));
    match s {
        Snapshot::Event(e) => {
            sink.text(Some(e.carrier.as_str()));
            sink.text(Some(e.number.as_str()));
            sink.date(Some(e.date));
            sink.text(Some(e.origin.as_str()));
            sink.text(Some(e.destination.as_str()));
            sink.text(Some(e.status.as_str()));
            sink.time(Some(e.scheduled_departure));
            sink.time(Some(e.scheduled_arrival));
            sink.time(e.estimated_departure);
            sink.time(e.estimated_arrival);
            sink.time(e.actual_departure);
            sink.time(e.actual_arrival);
            sink.float(e.departure_delay_minutes());
            sink.float(e.arrival_delay_minutes());
            sink.text(e.tail_number.as_deref());
            sink.text(e.gate.as_deref());
            sink.text(e.terminal.as_deref());
            sink.json(e.position.as_ref().and_then(|p| serde_json::to_string(p).ok()));
        }
        Snapshot::Removal(_) => {
            for (_, kind) in &COLUMNS[DETAILS] {
                match kind {
                    Kind::Text => sink.text(None),
                    Kind::Date => sink.date(None),
                    Kind::Time => sink.time(None),
                    Kind::Float => sink.float(None),
                    Kind::Json => sink.json(None),
                    Kind::Flag => sink.flag(false),
                }
            }
        }
    }
    sink.time(Some(s.event_time()));
    sink.text(Some(s.event_id()));
    sink.flag(matches!(s, Snapshot::Removal(_)));
}

/// The state upsert's `ON CONFLICT` clause. The newest `(event_time, event_id)` wins; a removal marks the row
/// removed and takes the removal's order key (so older snapshots cannot resurrect it) but keeps the details.
/// `current` names the stored row: the table's alias on PostgreSQL, its name on SQLite.
pub(crate) fn conflict_clause(current: &str) -> String {
    let mut sql = String::from("ON CONFLICT (flight_id) DO UPDATE SET\n");
    for (c, _) in &COLUMNS[DETAILS] {
        let _ = writeln!(sql, "    {c} = CASE WHEN excluded.removed THEN {current}.{c} ELSE excluded.{c} END,");
    }
    let _ = write!(
        sql,
        "    event_time = excluded.event_time,\n    event_id = excluded.event_id,\n    removed = excluded.removed\n\
         WHERE ({current}.event_time, {current}.event_id) < (excluded.event_time, excluded.event_id)\n"
    );
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Removal;

    /// Records the kind of each value a row sends.
    #[derive(Default)]
    struct Kinds(Vec<Kind>, usize);

    impl<'a> Sink<'a> for Kinds {
        fn text(&mut self, v: Option<&'a str>) {
            self.0.push(Kind::Text);
            self.1 += usize::from(v.is_none());
        }
        fn date(&mut self, v: Option<NaiveDate>) {
            self.0.push(Kind::Date);
            self.1 += usize::from(v.is_none());
        }
        fn time(&mut self, v: Option<DateTime<Utc>>) {
            self.0.push(Kind::Time);
            self.1 += usize::from(v.is_none());
        }
        fn float(&mut self, v: Option<f64>) {
            self.0.push(Kind::Float);
            self.1 += usize::from(v.is_none());
        }
        fn json(&mut self, v: Option<String>) {
            self.0.push(Kind::Json);
            self.1 += usize::from(v.is_none());
        }
        fn flag(&mut self, _: bool) {
            self.0.push(Kind::Flag);
        }
    }

    #[test]
    fn events_and_removals_fill_every_column_in_the_declared_order() {
        let event = crate::codec::parse_event(
            r#"{"event_id":"e1","event_time":"2026-12-01T10:00:00Z","carrier":"UA","number":"100",
                "date":"2026-12-01","origin":"EWR","destination":"SFO","status":"scheduled",
                "scheduled_departure":"2026-12-01T12:00:00Z","scheduled_arrival":"2026-12-01T18:00:00Z"}"#,
        )
        .unwrap();
        let id = event.flight_id();
        let event = Snapshot::Event(Box::new(event));
        let removal = Snapshot::Removal(Removal {
            flight_id: id.clone(),
            event_id: "e2".into(),
            event_time: DateTime::from_timestamp(1_764_590_400, 0).unwrap(),
        });
        let declared: Vec<Kind> = COLUMNS.iter().map(|(_, k)| *k).collect();
        for (s, nulls) in [(&event, 10), (&removal, DETAILS.len())] {
            let mut kinds = Kinds::default();
            fill(&mut kinds, &id, s);
            assert_eq!(kinds.0, declared, "{s:?}");
            assert_eq!(kinds.1, nulls, "{s:?}");
        }
    }

    #[test]
    fn the_conflict_clause_updates_every_detail_and_orders_by_the_stored_row() {
        let sql = conflict_clause("f");
        assert!(sql.contains("gate = CASE WHEN excluded.removed THEN f.gate ELSE excluded.gate END,"), "{sql}");
        assert!(sql.ends_with("WHERE (f.event_time, f.event_id) < (excluded.event_time, excluded.event_id)\n"));
        assert_eq!(sql.matches("CASE WHEN").count(), 18);
        assert_eq!(COLUMNS[EVENT_TIME].0, "event_time");
    }
}
