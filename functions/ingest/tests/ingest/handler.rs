//! The ingest handler on real databases: every scenario runs on PostgreSQL and on SQLite, with dead
//! letters kept in the store's table (the local configuration).

use std::collections::BTreeSet;

use crate::common::{Ev, ToRecord, event, local_state, ms, sample, tombstone, utc};
use contrail_ingest::{IngestSummary, MskEvent, MskRecord, OffsetRange, State, handle, ingest};
use contrail_shared::codec::{MAX_VALUE_BYTES, RejectReason};
use contrail_shared::domain::FlightId;
use contrail_shared::storage::Store;
use contrail_testkit::store::TestStore;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

contrail_testkit::on_both_engines!(
    the_sample_batch_gives_the_exact_summary,
    the_self_managed_kafka_sample_gives_the_same_summary,
    replaying_a_batch_stores_nothing_new,
    the_newest_snapshot_wins_whatever_the_delivery_order,
    tombstones_remove_flights_by_the_same_newest_wins_rule,
    every_poison_kind_is_dead_lettered_with_its_reason,
    a_batch_at_the_ten_thousand_record_limit_is_counted_exactly,
    every_record_is_accounted_for_once_in_mixed_batches,
);

fn sample_event() -> MskEvent {
    serde_json::from_str(&contrail_testkit::event_file(sample::FILE)).unwrap()
}

fn fid(s: &str) -> FlightId {
    FlightId::parse(s).unwrap()
}

async fn status_of(store: &Store, flight: &str) -> Option<String> {
    store.get_flight(&fid(flight)).await.unwrap().map(|f| f.status.to_string())
}

async fn history_ids(store: &Store, flight: &str) -> Vec<String> {
    store.flight_history(&fid(flight), None, 1000).await.unwrap().into_iter().map(|h| h.event_id).collect()
}

fn assert_accounts_for(summary: &IngestSummary, event: &MskEvent) {
    assert!(summary.is_balanced(), "{summary:?}");
    assert_eq!(summary.records as usize, event.record_count());
    for (key, recs) in &event.records {
        let first = recs.iter().map(|r| r.offset).min().unwrap();
        let last = recs.iter().map(|r| r.offset).max().unwrap();
        assert_eq!(summary.partitions[key], OffsetRange { first_offset: first, last_offset: last }, "{key}");
    }
    assert_eq!(summary.partitions.len(), event.records.len());
}

async fn the_sample_batch_gives_the_exact_summary(db: TestStore) {
    ingests_the_sample(db, sample_event()).await;
}

/// The same records from a self-managed Kafka (`eventSource` `SelfManagedKafka`, no ARN): the same result.
async fn the_self_managed_kafka_sample_gives_the_same_summary(db: TestStore) {
    let event = serde_json::from_str(&contrail_testkit::event_file(sample::SELF_MANAGED_FILE)).unwrap();
    ingests_the_sample(db, event).await;
}

async fn ingests_the_sample(db: TestStore, event: MskEvent) {
    let store = db.store.clone();
    let state = local_state(store.clone());
    let summary = handle(&state, LambdaEvent::new(event.clone(), Context::default())).await.unwrap();

    let expected = IngestSummary {
        records: sample::RECORDS,
        stored: sample::STORED,
        duplicates: sample::DUPLICATES,
        superseded: sample::SUPERSEDED,
        dead_lettered: sample::DEAD_LETTERED,
        partitions: [("flight-data-0", 1041, 1046), ("flight-data-1", 877, 881), ("flight-data-2", 2210, 2214)]
            .into_iter()
            .map(|(k, first_offset, last_offset)| (k.to_owned(), OffsetRange { first_offset, last_offset }))
            .collect(),
        duration_ms: summary.duration_ms,
    };
    assert_eq!(summary, expected);
    assert_accounts_for(&summary, &event);

    assert_eq!(status_of(&store, sample::UA).await.as_deref(), Some("departed"));
    let aa = store.get_flight(&fid(sample::AA)).await.unwrap().unwrap();
    assert_eq!(aa.status.as_str(), "airborne", "the late, older 'delayed' snapshot must not win");
    assert_eq!(aa.updated_at, utc("2026-11-25T14:32:00Z"));
    assert!(aa.position.is_some());
    assert_eq!(status_of(&store, sample::B6).await, None, "the tombstone removed B6615");

    assert_eq!(history_ids(&store, sample::UA).await.len(), 3, "the duplicate is kept once");
    assert_eq!(
        history_ids(&store, sample::AA).await,
        ["aa100-20261125-0001", "aa100-20261125-0002", "aa100-20261125-0003"],
        "history is ordered by event time and keeps the out-of-order snapshot"
    );
    assert_eq!(history_ids(&store, sample::B6).await.len(), 3, "removal is part of the history");

    let letters = store.list_dead_letters(100).await.unwrap();
    let reasons: BTreeSet<&str> = letters.iter().map(|l| l.letter.reason.as_str()).collect();
    assert_eq!(
        reasons,
        BTreeSet::from([
            "invalid_base64",
            "invalid_json",
            "invalid_utf8",
            "schema_violation",
            "unsupported_schema_version",
            "key_mismatch"
        ])
    );
    let schema = letters.iter().find(|l| l.letter.reason == RejectReason::SchemaViolation).unwrap();
    assert_eq!(schema.letter.field.as_deref(), Some("status"));
    assert_eq!((schema.letter.partition, schema.letter.offset), (1, 881));
    let original = &event.records["flight-data-1"].iter().find(|r| r.offset == 881).unwrap();
    assert_eq!(schema.letter.value, original.value, "the original value travels base64 as received");
    assert_eq!(schema.letter.key, original.key);
    assert_eq!(schema.letter.timestamp, Some(original.timestamp));
}

async fn replaying_a_batch_stores_nothing_new(db: TestStore) {
    let store = db.store.clone();
    let state = local_state(store.clone());
    let event = sample_event();
    ingest(&state, &event).await.unwrap();
    for _ in 0..2 {
        let again = ingest(&state, &event).await.unwrap();
        assert_eq!(
            (again.records, again.stored, again.duplicates, again.dead_lettered),
            (sample::RECORDS, 0, sample::STORED + sample::DUPLICATES, sample::DEAD_LETTERED)
        );
        assert_accounts_for(&again, &event);
    }
    assert_eq!(history_ids(&store, sample::UA).await.len(), 3);
    assert_eq!(store.list_dead_letters(100).await.unwrap().len(), 6, "dead letters are idempotent on coordinates");
    assert_eq!(status_of(&store, sample::UA).await.as_deref(), Some("departed"));
}

async fn the_newest_snapshot_wins_whatever_the_delivery_order(db: TestStore) {
    let store = db.store.clone();
    let state = local_state(store.clone());
    let flight = "DL88-2026-11-25-ATL";
    let snap = |id: &str, status: &str, t: &str| Ev::new(id, "DL88", status, t).route("ATL", "LAX");
    let scheduled = snap("dl88-1", "scheduled", "2026-11-25T08:00:00Z");
    let boarding = snap("dl88-2", "boarding", "2026-11-25T13:30:00Z");
    let departed = snap("dl88-3", "departed", "2026-11-25T14:05:00Z");
    // Same event time as departed, greater event id: it is the newer of the two.
    let tie = snap("dl88-4", "airborne", "2026-11-25T14:05:00Z");

    let batches = [vec![departed.record(0, 10, 0)], vec![scheduled.record(0, 11, 0)], vec![boarding.record(1, 3, 0)]];
    for b in batches {
        let s = ingest(&state, &event(b)).await.unwrap();
        assert_eq!((s.stored, s.duplicates), (1, 0));
        assert_eq!(status_of(&store, flight).await.as_deref(), Some("departed"));
    }
    ingest(&state, &event([tie.record(0, 12, 0)])).await.unwrap();
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("airborne"));
    // A redelivery of an old snapshot is a duplicate and moves nothing.
    let s = ingest(&state, &event([scheduled.record(0, 11, 0)])).await.unwrap();
    assert_eq!((s.stored, s.duplicates), (0, 1));
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("airborne"));
    assert_eq!(history_ids(&store, flight).await, ["dl88-1", "dl88-2", "dl88-3", "dl88-4"]);

    // Within one batch, out of order across partitions: the newest still wins.
    let other = "WN7-2026-11-25-DAL";
    let w = |id: &str, status: &str, t: &str| Ev::new(id, "WN7", status, t).route("DAL", "HOU");
    let s = ingest(
        &state,
        &event([
            w("wn7-3", "landed", "2026-11-25T16:00:00Z").record(0, 20, 0),
            w("wn7-1", "scheduled", "2026-11-25T09:00:00Z").record(1, 20, 0),
            w("wn7-2", "airborne", "2026-11-25T15:00:00Z").record(2, 20, 0),
        ]),
    )
    .await
    .unwrap();
    assert_eq!((s.stored, s.duplicates), (3, 0));
    assert_eq!(status_of(&store, other).await.as_deref(), Some("landed"));
}

async fn tombstones_remove_flights_by_the_same_newest_wins_rule(db: TestStore) {
    let store = db.store.clone();
    let state = local_state(store.clone());
    let flight = "F9100-2026-11-25-DEN";
    let snap = |id: &str, status: &str, t: &str| Ev::new(id, "F9100", status, t).route("DEN", "LAS");

    ingest(&state, &event([snap("f9-1", "scheduled", "2026-11-25T08:00:00Z").record(0, 1, 0)])).await.unwrap();
    // A tombstone older than the current snapshot changes nothing.
    let s = ingest(&state, &event([tombstone(flight, 0, 2, ms("2026-11-25T07:00:00Z"))])).await.unwrap();
    assert_eq!((s.stored, s.duplicates, s.dead_lettered), (1, 0, 0));
    assert_eq!(s.superseded, 1, "the tombstone that lost is visible in the summary");
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("scheduled"));

    // A newer tombstone removes the flight; its redelivery is a duplicate.
    ingest(&state, &event([tombstone(flight, 0, 3, ms("2026-11-25T09:00:00Z"))])).await.unwrap();
    assert_eq!(status_of(&store, flight).await, None);
    let s = ingest(&state, &event([tombstone(flight, 0, 3, ms("2026-11-25T09:00:00Z"))])).await.unwrap();
    assert_eq!((s.stored, s.duplicates), (0, 1));

    // A late snapshot older than the removal does not bring the flight back; a newer one does.
    ingest(&state, &event([snap("f9-2", "delayed", "2026-11-25T08:30:00Z").record(0, 4, 0)])).await.unwrap();
    assert_eq!(status_of(&store, flight).await, None);
    ingest(&state, &event([snap("f9-3", "boarding", "2026-11-25T09:30:00Z").record(0, 5, 0)])).await.unwrap();
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("boarding"));
    assert_eq!(history_ids(&store, flight).await.len(), 5, "every distinct snapshot and removal stays in history");

    // A tombstone without a key, or without a timestamp, cannot be ordered: dead-lettered.
    let mut no_key = tombstone(flight, 0, 6, ms("2026-11-25T10:00:00Z"));
    no_key.key = None;
    let no_time = tombstone(flight, 0, 7, -1);
    let s = ingest(&state, &event([no_key, no_time])).await.unwrap();
    assert_eq!((s.stored, s.dead_lettered), (0, 2));
    assert_eq!(status_of(&store, flight).await.as_deref(), Some("boarding"));
}

async fn every_poison_kind_is_dead_lettered_with_its_reason(db: TestStore) {
    let store = db.store.clone();
    let state = local_state(store.clone());
    let good = Ev::new("ok-1", "UA1", "scheduled", "2026-11-25T08:00:00Z");
    let key = Some(good.flight_id());
    let rec = |offset: i64, value: &[u8]| {
        MskRecord::new(
            crate::common::TOPIC,
            3,
            offset,
            1_764_057_600_000,
            key.as_deref().map(str::as_bytes),
            Some(value),
        )
    };
    let mut bad_base64 = rec(1, b"");
    bad_base64.value = Some("%%%".into());
    let mut bad_key_base64 = good.record(3, 2, 1_764_057_600_000);
    bad_key_base64.key = Some("not base64!".into());
    let too_large = {
        let mut v = good.to_json();
        v["gate"] = json!("x".repeat(MAX_VALUE_BYTES));
        rec(9, v.to_string().as_bytes())
    };
    let records = vec![
        bad_base64,
        bad_key_base64,
        rec(3, b"caf\xe9"),
        rec(4, b"{\"event_id\": "),
        rec(5, good.clone().with("carrier", json!("united")).to_json().to_string().as_bytes()),
        rec(6, good.clone().with("schema_version", json!(2)).to_json().to_string().as_bytes()),
        MskRecord::new(
            crate::common::TOPIC,
            3,
            7,
            0,
            Some(b"UA2-2026-11-25-EWR"),
            Some(good.to_json().to_string().as_bytes()),
        ),
        rec(8, good.to_json().to_string().as_bytes()),
        too_large,
    ];
    let ev = event(records);
    let s = ingest(&state, &ev).await.unwrap();
    assert_eq!((s.records, s.stored, s.duplicates, s.dead_lettered), (9, 1, 0, 8));

    let letters = store.list_dead_letters(100).await.unwrap();
    let by_offset = |o: i64| &letters.iter().find(|l| l.letter.offset == o).unwrap().letter;
    let expect = [
        (1, RejectReason::InvalidBase64, Some("value")),
        (2, RejectReason::InvalidBase64, Some("key")),
        (3, RejectReason::InvalidUtf8, Some("value")),
        (4, RejectReason::InvalidJson, Some("value")),
        (5, RejectReason::SchemaViolation, Some("carrier")),
        (6, RejectReason::UnsupportedSchemaVersion, Some("schema_version")),
        (7, RejectReason::KeyMismatch, Some("key")),
        (9, RejectReason::TooLarge, Some("value")),
    ];
    for (offset, reason, field) in expect {
        let l = by_offset(offset);
        assert_eq!((l.reason, l.field.as_deref()), (reason, field), "offset {offset}");
        assert_eq!(l.topic, crate::common::TOPIC);
        assert_eq!(l.partition, 3);
        assert!(!l.detail.is_empty());
    }
    let big = by_offset(9);
    assert!(big.value_omitted && big.value.is_none(), "an over-limit value is not copied into the letter");
    assert_eq!(by_offset(3).value, ev.records["flight-data-3"][2].value);
    assert_eq!(status_of(&store, &good.flight_id()).await.as_deref(), Some("scheduled"));
}

async fn a_batch_at_the_ten_thousand_record_limit_is_counted_exactly(db: TestStore) {
    let store = db.store.clone();
    let state = local_state(store.clone());
    let statuses = ["scheduled", "delayed", "boarding", "departed", "airborne", "landed", "arrived"];
    let mut records = Vec::with_capacity(10_000);
    let mut poison = 0;
    let mut duplicates = 0;
    for i in 0..10_000i64 {
        let partition = i % 4;
        let offset = 50_000 + i / 4;
        let flight = i % 1_500;
        let step = (i / 1_500) as usize;
        let ev = Ev::new(
            &format!("big-{flight}-{step}"),
            &format!("AS{flight}"),
            statuses[step],
            &format!("2026-11-25T{:02}:00:00Z", 6 + step),
        )
        .route("SEA", "ANC");
        if i % 200 == 7 {
            poison += 1;
            records.push(MskRecord::new(crate::common::TOPIC, partition, offset, 0, None, Some(b"[1, 2")));
        } else if i % 200 == 11 {
            duplicates += 1;
            // The previous record (always valid here) delivered again on another offset: a redelivery.
            let mut r = records.last().cloned().unwrap_or_else(|| ev.record(partition, offset, 0));
            r.partition = partition;
            r.offset = offset;
            records.push(r);
        } else {
            records.push(ev.record(partition, offset, 0));
        }
    }
    let ev = event(records);
    assert_eq!(ev.record_count(), 10_000);
    let s = ingest(&state, &ev).await.unwrap();
    assert_eq!(s.records, 10_000);
    assert_eq!(s.dead_lettered, poison);
    assert_eq!(s.duplicates, duplicates);
    assert_eq!(s.stored, 10_000 - poison - duplicates);
    assert_accounts_for(&s, &ev);
    // Flight 0 got records i = 0, 1500, ..., 9000: its last step (6) is the newest.
    assert_eq!(status_of(&store, "AS0-2026-11-25-SEA").await.as_deref(), Some("arrived"));
    assert_eq!(history_ids(&store, "AS0-2026-11-25-SEA").await.len(), 7);

    let again = ingest(&state, &ev).await.unwrap();
    assert_eq!((again.stored, again.duplicates, again.dead_lettered), (0, 10_000 - poison, poison));
}

async fn every_record_is_accounted_for_once_in_mixed_batches(db: TestStore) {
    let store = db.store.clone();
    let state: State = local_state(store.clone());
    // A small deterministic generator: records drawn from a few flights, with repeats, poison and tombstones.
    let mut seed: u64 = 0x5eed_cafe;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut seen = BTreeSet::new();
    for round in 0..6 {
        let mut records = Vec::new();
        let mut expected_new = 0u64;
        for i in 0..150i64 {
            let flight = next(12);
            let step = next(8);
            let partition = next(3) as i64;
            let offset = round * 1_000 + i;
            let ev = Ev::new(
                &format!("mix-{flight}-{step}"),
                &format!("HA{flight}"),
                "scheduled",
                &format!("2026-11-25T{:02}:00:00Z", 8 + step),
            )
            .route("HNL", "OGG");
            match next(10) {
                0 => records.push(MskRecord::new(crate::common::TOPIC, partition, offset, 0, None, Some(b"\xff"))),
                1 => {
                    let t = ms("2026-11-25T12:00:00Z") + next(1000) as i64;
                    records.push(tombstone(&ev.flight_id(), partition, offset, t));
                    if seen.insert(format!("tombstone:flight-data-{partition}@{offset}")) {
                        expected_new += 1;
                    }
                }
                _ => {
                    if seen.insert(ev.event_id.clone()) {
                        expected_new += 1;
                    }
                    records.push(ev.record(partition, offset, 0));
                }
            }
        }
        let ev = event(records);
        let s = ingest(&state, &ev).await.unwrap();
        assert_accounts_for(&s, &ev);
        assert_eq!(s.stored, expected_new, "round {round}");
    }
}
