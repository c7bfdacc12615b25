//! The ingest benchmark (run it with `bash bench/ingest.sh`); a `cargo bench` target, so nothing of it is
//! in the function's binary or its dependencies. Two feeds (`--feed`), each in 10,000-record MSK batches
//! through `ingest` (the handler's code path, dead letters to the store table) into a local PostgreSQL:
//!
//! 5. The realistic feed (the simulator's mix: positions while airborne, gate and time changes, rare status
//!    changes), 200,000 events: records/s, the share of HOT state updates, the ratio to a binary `COPY` of
//!    the same history rows (target >= 0.45) and to the Python sink a user would write (target >= 1.5).
//! 1. The worst case, every snapshot a status change: records/s. The digest behind `conflicting_duplicate`
//!    is timed on its own as a share of that; then the same batches are redelivered (all duplicates).
//! 2. In the same run, a binary `COPY` of the same history rows into the same table on another empty
//!    database: the physical limit (target >= 0.30), and the ceiling any ingest that keeps state has.
//! 3. The worst-case ingest into a database already holding 5,000,000 events (`--preload`, loaded by
//!    `COPY`): the rate ratio against the empty database (target >= 0.9).
//! 4. Peak RSS of a child process that parses and ingests one 10,000-record, ~6 MB batch (target <= 40 MiB).
//! 6. The consistency ledger's cost (`--feed ledger` alone): the realistic feed decoded and written batch by
//!    batch into two fresh databases in alternation, with and without its ledger rows, and the checksum
//!    timed on its own: the rate with the ledger against the rate without it (target >= 0.97).

use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Duration, TimeZone, Utc};
use contrail_ingest::{MskEvent, MskRecord, State, decode_batch, ingest};
use contrail_shared::config::DbConfig;
use contrail_shared::domain::{FlightId, Snapshot};
use contrail_shared::ledger::RecordHasher;
use contrail_shared::sink::DeadLetterSink;
use contrail_shared::storage::copy::{self, CopyBuffer};
use contrail_shared::storage::{Store, state};
use contrail_shared::time_bounds::TimeBounds;
use contrail_testkit::flight::FlightEvent;
use serde_json::json;
use sqlx::Connection as _;

const TOPIC: &str = "flight-data";
const PARTITIONS: i64 = 4;
/// Concurrent writers of the concurrency phase.
const WRITERS: u32 = 3;
const CARRIERS: [&str; 8] = ["UA", "AA", "DL", "WN", "B6", "AS", "NK", "F9"];
const AIRPORTS: [&str; 12] = ["EWR", "JFK", "LGA", "SFO", "LAX", "ORD", "ATL", "DFW", "DEN", "SEA", "BOS", "MIA"];
const STATUSES: [&str; 7] = ["scheduled", "delayed", "boarding", "departed", "airborne", "landed", "arrived"];

#[path = "ingest/realistic.rs"]
mod realistic;

/// Which feeds to measure.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Feeds {
    /// Every snapshot changes status (an indexed column): the worst case for current state.
    Status,
    /// The simulator's mix: positions while airborne, gate and time changes, rare status changes.
    Realistic,
    Both,
    /// Only the ledger's cost (phase 6), on the realistic feed.
    Ledger,
}

/// `bash bench/ingest.sh [--events N] [--batch N] [--preload N] [--feed status|realistic|both|ledger]`.
#[derive(clap::Parser)]
struct Options {
    /// The feeds to measure.
    #[arg(long, value_enum, default_value = "both")]
    feed: Feeds,
    /// Events of the measured feed.
    #[arg(long, default_value = "200000", value_parser = count)]
    events: usize,
    /// Records per MSK batch.
    #[arg(long, default_value = "10000", value_parser = count)]
    batch: usize,
    /// Events already in history for the growth run (0 skips it).
    #[arg(long, default_value = "5000000", value_parser = count)]
    preload: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// The peak-RSS child: `--rss-child URL FILE` ingests one batch file and reports its RSS.
    #[arg(long, num_args = 2, value_names = ["URL", "FILE"], hide = true)]
    rss_child: Option<Vec<String>>,
}

/// A count, `_` allowed as a digit separator (`5_000_000`).
fn count(raw: &str) -> Result<usize, std::num::ParseIntError> {
    raw.replace('_', "").parse()
}

fn main() -> Result<()> {
    let options = <Options as clap::Parser>::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some([url, file]) = options.rss_child.as_deref() {
        return rt.block_on(rss_child(url, file));
    }
    rt.block_on(run(options))
}

/// One generated flight event, keyed and valued as the producer would send it.
fn flight_event(flight: usize, step: usize, day: DateTime<Utc>, tag: &str) -> (String, String) {
    let carrier = CARRIERS[flight % CARRIERS.len()];
    let number = 1 + flight / CARRIERS.len() % 9_000;
    let origin = AIRPORTS[flight % AIRPORTS.len()];
    let destination = AIRPORTS[(flight / AIRPORTS.len() + 1 + flight % AIRPORTS.len()) % AIRPORTS.len()];
    let destination = if destination == origin { AIRPORTS[(flight + 5) % AIRPORTS.len()] } else { destination };
    // Several departure days so flight ids stay unique; day offset from the flight index.
    let date = day + Duration::days((flight / (CARRIERS.len() * 9_000)) as i64);
    let dep = date + Duration::minutes(300 + (flight % 960) as i64);
    let arr = dep + Duration::minutes(60 + (flight % 300) as i64);
    let t = dep - Duration::minutes(600) + Duration::minutes(step as i64 * 55);
    let status = STATUSES[step.min(STATUSES.len() - 1)];
    let f = |t: DateTime<Utc>| json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let mut event = FlightEvent::new(&format!("{tag}-{flight}-{step}"), &format!("{carrier}{number}"), status, "")
        .date(&date.format("%Y-%m-%d").to_string())
        .route(origin, destination)
        .with("event_time", f(t))
        .with("scheduled_departure", f(dep))
        .with("scheduled_arrival", f(arr))
        .with("estimated_departure", f(dep + Duration::minutes(4)))
        .with("tail_number", json!(format!("N{:05}", flight % 99_999)))
        .with("gate", json!(format!("B{}", flight % 60)))
        .with("terminal", json!(["A", "B", "C", "D"][flight % 4]));
    if step >= 3 {
        event = event.with("actual_departure", f(dep + Duration::minutes(4)));
    }
    let key =
        FlightId::from_codes(carrier, &number.to_string(), date.date_naive(), origin).expect("valid codes").to_string();
    let value = event.to_string();
    (key, value)
}

/// `events` events over `events / 10` flights, ten snapshots each, grouped in MSK batches.
fn batches(events: usize, batch: usize, tag: &str, first_offset: i64) -> Vec<MskEvent> {
    let flights = (events / STATUSES.len()).max(1);
    let day = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).single().unwrap_or_default();
    let base_ms = day.timestamp_millis();
    (0..events)
        .collect::<Vec<_>>()
        .chunks(batch)
        .map(|chunk| {
            let records = chunk.iter().map(|&k| {
                let (key, value) = flight_event(k % flights, k / flights, day, tag);
                let partition = (k as i64) % PARTITIONS;
                let offset = first_offset + k as i64 / PARTITIONS;
                MskRecord::new(
                    TOPIC,
                    partition,
                    offset,
                    base_ms + k as i64,
                    Some(key.as_bytes()),
                    Some(value.as_bytes()),
                )
            });
            MskEvent::from_records("arn:aws:kafka:us-east-1:123456789012:cluster/bench/1", records.collect::<Vec<_>>())
        })
        .collect()
}

async fn database() -> Result<String> {
    contrail_testkit::postgres::fresh_database().context("no PostgreSQL available (set TEST_DATABASE_URL)")
}

async fn state_for(url: &str) -> Result<State> {
    let mut config = DbConfig::from_url(url);
    // One connection, as a Lambda instance uses.
    config.max_connections = 1;
    let store = Store::connect(&config).await?;
    store.migrate().await?;
    Ok(State::new(store.clone(), DeadLetterSink::Store(store)))
}

struct Run {
    records: u64,
    secs: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.records as f64 / self.secs
    }
}

/// Ingests `events` a second time into the database that holds them, as a redelivered batch arrives:
/// every record must come back a duplicate, each one compared with the stored digest.
async fn redeliver_all(state: &State, events: &[MskEvent]) -> Result<Run> {
    let started = Instant::now();
    let mut records = 0;
    for ev in events {
        let s = ingest(state, ev).await?;
        if s.duplicates as usize != ev.record_count() {
            bail!("expected every redelivered record to be a duplicate, got {s:?}");
        }
        records += s.records;
    }
    Ok(Run { records, secs: started.elapsed().as_secs_f64() })
}

/// The CPU cost of the `conflicting_duplicate` digest on the common path, in seconds for all `events`:
/// (the canonical JSON of every event, SHA-256 of those same strings made beforehand). The JSON is made for
/// the history row anyway, so the hash is the digest's own cost. Each is timed on a second pass, warm.
fn digest_cost(events: &[MskEvent]) -> (f64, f64) {
    let snapshots: Vec<Snapshot> =
        events.iter().flat_map(|e| decode_batch(e, &TimeBounds::UNBOUNDED, Utc::now()).snapshots).collect();
    let canonical = || -> Vec<String> {
        snapshots
            .iter()
            .filter_map(|s| if let Snapshot::Event(e) = s { Some(e.to_canonical_json()) } else { None })
            .collect()
    };
    std::hint::black_box(canonical());
    let started = Instant::now();
    let payloads = std::hint::black_box(canonical());
    let json = started.elapsed().as_secs_f64();
    let hash_all = || {
        for p in &payloads {
            std::hint::black_box(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, p.as_bytes()));
        }
    };
    hash_all();
    let started = Instant::now();
    hash_all();
    (json, started.elapsed().as_secs_f64())
}

async fn ingest_all(state: &State, events: &[MskEvent]) -> Result<Run> {
    // One unmeasured batch of other events first: connection, partition creation and caches are warm.
    for warm in batches(events.first().map_or(0, MskEvent::record_count), usize::MAX, "warm", 0) {
        ingest(state, &warm).await?;
    }
    ingest_timed(state, events).await
}

/// Ingests `events`, timed; every record must be stored (the feeds have no faults).
async fn ingest_timed(state: &State, events: &[MskEvent]) -> Result<Run> {
    let started = Instant::now();
    let mut records = 0;
    for ev in events {
        let s = ingest(state, ev).await?;
        if s.stored as usize != ev.record_count() {
            bail!("expected every record stored, got {s:?}");
        }
        records += s.records;
    }
    Ok(Run { records, secs: started.elapsed().as_secs_f64() })
}

async fn ensure_partitions(conn: &mut sqlx::PgConnection, snapshots: &[Snapshot]) -> Result<()> {
    let mut months: Vec<String> =
        snapshots.iter().map(|s| s.event_time().format("%Y-%m-01T00:00:00Z").to_string()).collect();
    months.sort();
    months.dedup();
    for m in months {
        let t = DateTime::parse_from_rfc3339(&m)?.to_utc();
        sqlx::query("SELECT contrail_ensure_event_partition($1)").bind(t).execute(&mut *conn).await?;
    }
    Ok(())
}

/// COPY of the same history rows; decoding happens before the clock starts (COPY gets no validation).
async fn copy_all(url: &str, events: &[MskEvent]) -> Result<Run> {
    state_for(url).await?;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let decoded: Vec<Vec<Snapshot>> =
        events.iter().map(|e| decode_batch(e, &TimeBounds::UNBOUNDED, Utc::now()).snapshots).collect();
    for d in &decoded {
        ensure_partitions(&mut conn, d).await?;
    }
    let started = Instant::now();
    let mut records = 0;
    for snapshots in &decoded {
        let mut copy = conn.copy_in_raw(copy::COPY_HISTORY).await?;
        let rows: Vec<&Snapshot> = snapshots.iter().collect();
        copy::send_history(&mut copy, &rows).await?;
        records += copy.finish().await?;
    }
    Ok(Run { records, secs: started.elapsed().as_secs_f64() })
}

/// The floor under keeping current state: a binary COPY of every record's state row (the row the upsert
/// writes) into a table with the same columns and the same indexes as `flights`, the primary key made
/// non-unique so every row is appended. Appending is the cheapest way to put those index entries in place,
/// and in this data every snapshot changes an indexed column (`status`), so no upsert can do with less.
/// Runs on the database `copy_all` filled, after it.
async fn copy_state_floor(url: &str, events: &[MskEvent]) -> Result<Run> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query("CREATE TABLE state_floor (LIKE flights INCLUDING DEFAULTS) WITH (fillfactor = 80)")
        .execute(&mut conn)
        .await?;
    let definitions: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'flights'")
            .fetch_all(&mut conn)
            .await?;
    for (i, def) in definitions.iter().enumerate() {
        let (_, rest) = def.split_once(" ON public.flights ").context("unexpected index definition")?;
        let sql = format!("CREATE INDEX state_floor_{i} ON public.state_floor {rest}");
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await?;
    }
    let decoded: Vec<Vec<Snapshot>> =
        events.iter().map(|e| decode_batch(e, &TimeBounds::UNBOUNDED, Utc::now()).snapshots).collect();
    let copy_state_floor = format!("COPY state_floor ({}) FROM STDIN (FORMAT binary)", state::column_list());
    let started = Instant::now();
    let mut records = 0;
    for snapshots in &decoded {
        let mut copy = conn.copy_in_raw(&copy_state_floor).await?;
        copy.send(state_rows(snapshots)).await?;
        records += copy.finish().await?;
    }
    Ok(Run { records, secs: started.elapsed().as_secs_f64() })
}

/// Every snapshot's state row, encoded by the state table's one definition (the write path binds the same).
fn state_rows(snapshots: &[Snapshot]) -> Vec<u8> {
    let ids: Vec<FlightId> = snapshots.iter().map(Snapshot::flight_id).collect();
    let mut buf = CopyBuffer::with_capacity(snapshots.len() * 300);
    for (id, s) in ids.iter().zip(snapshots) {
        buf.row(state::COLUMNS.len() as i16);
        state::fill(&mut buf, id, s);
    }
    buf.finish()
}

/// Loads `count` events of other flights into history by COPY, in the same month partition the
/// benchmark writes to, and their current state: a database that has been running for weeks.
async fn preload(url: &str, count: usize) -> Result<f64> {
    state_for(url).await?;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let started = Instant::now();
    let chunk = 50_000;
    let flights = (count / STATUSES.len()).max(1);
    let day = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().unwrap_or_default();
    let mut done = 0;
    while done < count {
        let n = chunk.min(count - done);
        let snapshots: Vec<Snapshot> = (done..done + n)
            .filter_map(|k| {
                let (_, value) = flight_event(k % flights, k / flights, day, "pre");
                contrail_shared::codec::parse_event(&value).ok().map(|e| Snapshot::Event(Box::new(e)))
            })
            .collect();
        ensure_partitions(&mut conn, &snapshots).await?;
        let mut copy = conn.copy_in_raw(copy::COPY_HISTORY).await?;
        copy.send(copy::history_rows(snapshots.iter())).await?;
        copy.finish().await?;
        done += n;
        if done % 1_000_000 == 0 {
            eprintln!("  preloaded {done} events");
        }
    }
    eprintln!("  history loaded by COPY in {:.0} s", started.elapsed().as_secs_f64());
    // Current state of the preloaded flights, derived from their newest snapshot.
    sqlx::query(
        "INSERT INTO flights (flight_id, carrier, number, date, origin, destination, status, scheduled_departure,
             scheduled_arrival, estimated_departure, estimated_arrival, actual_departure, tail_number, gate, terminal,
             position, event_time, event_id, removed)
         SELECT DISTINCT ON (flight_id) flight_id, payload->>'carrier', payload->>'number', (payload->>'date')::date,
             payload->>'origin', payload->>'destination', payload->>'status', (payload->>'scheduled_departure')::timestamptz,
             (payload->>'scheduled_arrival')::timestamptz, (payload->>'estimated_departure')::timestamptz,
             (payload->>'estimated_arrival')::timestamptz, (payload->>'actual_departure')::timestamptz,
             payload->>'tail_number', payload->>'gate', payload->>'terminal', (payload->'position')::jsonb,
             event_time, event_id, false
         FROM flight_events ORDER BY flight_id, event_time DESC, event_id DESC",
    )
    .execute(&mut conn)
    .await?;
    sqlx::query("VACUUM ANALYZE").execute(&mut conn).await?;
    Ok(started.elapsed().as_secs_f64())
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child: reads one batch's JSON as the runtime receives it, parses it, ingests it, prints VmHWM.
async fn rss_child(url: &str, event_file: &str) -> Result<()> {
    let state = state_for(url).await?;
    let before = peak_rss_kib().unwrap_or(0);
    let body = std::fs::read(event_file)?;
    let event: MskEvent = serde_json::from_slice(&body)?;
    drop(body);
    let s = ingest(&state, &event).await?;
    println!("rss-child {} {} {}", before, peak_rss_kib().unwrap_or(0), s.stored);
    Ok(())
}

async fn measure_rss(batch: &MskEvent) -> Result<(u64, u64, usize)> {
    let url = database().await?;
    state_for(&url).await?;
    let json = serde_json::to_vec(batch)?;
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), &json)?;
    let out =
        std::process::Command::new(std::env::current_exe()?).arg("--rss-child").arg(&url).arg(file.path()).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find(|l| l.starts_with("rss-child ")) else {
        bail!("child failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    let nums: Vec<u64> = line.split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect();
    if nums.len() != 3 || nums[2] as usize != batch.record_count() {
        bail!("unexpected child output: {line}");
    }
    Ok((nums[0], nums[1], json.len()))
}

/// `flights`' row counters (inserted, updated, of which HOT) once every other session of the database has
/// ended: a backend reports its counts when it exits, so the figures are complete.
async fn state_updates(url: &str) -> Result<(i64, i64, i64)> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    let mut waited = 0;
    while sqlx::query_scalar::<_, i64>(others).fetch_one(&mut conn).await? > 0 {
        if waited == 100 {
            bail!("another session still holds the database after 10 s: its row counters would be missing");
        }
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sqlx::query("SELECT pg_stat_clear_snapshot()").execute(&mut conn).await?;
    Ok(sqlx::query_as("SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'flights'")
        .fetch_one(&mut conn)
        .await?)
}

/// CPU time of a process tree, read from `/proc`: what PostgreSQL's own processes spent, without the client.
struct ServerCpu {
    postmaster: u32,
    tick: f64,
}

impl ServerCpu {
    /// The server behind `url`, when it runs on this machine (its postmaster is the parent of our backend).
    async fn find(url: &str) -> Result<Option<Self>> {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut conn).await?;
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{backend}/stat")) else { return Ok(None) };
        // A server elsewhere (another host, a container) has its own pids: a local process of the same pid
        // is someone else.
        if !stat.contains("(postgres) ") {
            return Ok(None);
        }
        let Some(postmaster) = proc_fields(&stat).and_then(|f| f.get(1)?.parse().ok()) else { return Ok(None) };
        let tick = std::process::Command::new("getconf").arg("CLK_TCK").output().ok();
        let Some(tick) = tick.and_then(|t| String::from_utf8_lossy(&t.stdout).trim().parse::<f64>().ok()) else {
            return Ok(None);
        };
        Ok(Some(Self { postmaster, tick }))
    }

    /// CPU seconds used so far by the postmaster, its live children, and the children it has reaped (a
    /// backend's time is added to its parent's when it exits, so a finished session still counts).
    fn secs(&self) -> Result<f64> {
        let mut ticks = 0u64;
        for entry in std::fs::read_dir("/proc")? {
            let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let Some(f) = proc_fields(&stat) else { continue };
            let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            if pid == self.postmaster {
                ticks += field(11) + field(12) + field(13) + field(14);
            } else if f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(self.postmaster) {
                ticks += field(11) + field(12);
            }
        }
        Ok(ticks as f64 / self.tick)
    }
}

/// The fields of a `/proc/<pid>/stat` line after the command name, from the state on (so `[1]` is the
/// parent, `[11]`..`[14]` utime, stime, cutime, cstime).
fn proc_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(") ")?;
    Some(rest.split_whitespace().collect())
}

/// This process's own CPU seconds (the ingest handler's side of the work).
fn own_cpu_secs(tick: f64) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f = proc_fields(&stat).unwrap_or_default();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (field(11) + field(12)) as f64 / tick
}

/// The server's current WAL position.
async fn wal_lsn(url: &str) -> Result<String> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    Ok(sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(&mut conn).await?)
}

/// WAL bytes the server has written since `before` (every database of the server: the others are idle).
async fn wal_since(url: &str, before: &str) -> Result<f64> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    Ok(sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8")
        .bind(before)
        .fetch_one(&mut conn)
        .await?)
}

/// Bytes on disk (tables, indexes, TOAST) and rows of history and of current state.
async fn table_sizes(url: &str) -> Result<(f64, i64, f64, i64)> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    Ok(sqlx::query_as(
        "SELECT (SELECT sum(pg_total_relation_size(relid))::float8 FROM pg_partition_tree('flight_events')), \
                (SELECT count(*) FROM flight_events), \
                pg_total_relation_size('flights')::float8, (SELECT count(*) FROM flights)",
    )
    .fetch_one(&mut conn)
    .await?)
}

/// [6] `writers` ingest instances at once on the realistic feed, one per partition, each with its own
/// connection, on an empty database that first receives the warm-up: records/s of them all together.
async fn concurrent_run(feed: &realistic::Feed, writers: u32) -> Result<(Run, f64, f64)> {
    let url = database().await?;
    let state = state_for(&url).await?;
    for ev in &feed.warm_up {
        ingest(&state, ev).await?;
    }
    drop(state);
    let mut states = Vec::new();
    for _ in 0..writers {
        let state = state_for(&url).await?;
        state.store.ping().await?;
        states.push(state);
    }
    let streams = realistic::per_partition(feed, writers);
    let batches: Vec<&MskEvent> = streams.iter().flatten().collect();
    let per_batch = batches.iter().map(|e| e.record_count()).sum::<usize>() as f64 / batches.len().max(1) as f64;
    let flights =
        batches.iter().map(|e| realistic::distinct_keys(e)).sum::<usize>() as f64 / batches.len().max(1) as f64;
    let started = Instant::now();
    let tasks: Vec<_> = states
        .into_iter()
        .zip(streams)
        .map(|(state, stream)| tokio::spawn(async move { ingest_timed(&state, &stream).await }))
        .collect();
    let mut records = 0;
    for task in tasks {
        records += task.await??.records;
    }
    Ok((Run { records, secs: started.elapsed().as_secs_f64() }, per_batch, flights))
}

/// [5] The realistic feed: our ingest, a binary COPY of the same history rows and the Python sink, each on
/// an empty database that first receives the same warm-up prefix, untimed.
async fn realistic_run(o: &Options) -> Result<()> {
    let feed = realistic::feed(o.events, o.batch);
    let warm_records: usize = feed.warm_up.iter().map(MskEvent::record_count).sum();

    let url = database().await?;
    let state = state_for(&url).await?;
    for ev in &feed.warm_up {
        ingest(&state, ev).await?;
    }
    drop(state);
    let before = state_updates(&url).await?;
    let server = ServerCpu::find(&url).await?;
    let state = state_for(&url).await?;
    state.store.ping().await?;
    let wal_before = wal_lsn(&url).await?;
    let cpu_before = server.as_ref().map(ServerCpu::secs).transpose()?;
    let own_before = server.as_ref().map(|s| own_cpu_secs(s.tick));
    let run = ingest_timed(&state, &feed.measured).await?;
    let own_cpu = server.as_ref().zip(own_before).map(|(s, before)| own_cpu_secs(s.tick) - before);
    drop(state);
    // Once the writer's session has ended (its time is then the postmaster's), before anything else runs.
    let after = state_updates(&url).await?;
    let server_cpu = match (&server, cpu_before) {
        (Some(s), Some(before)) => Some(s.secs()? - before),
        _ => None,
    };
    let wal_bytes = wal_since(&url, &wal_before).await?;
    let (history_bytes, history_rows, state_bytes, state_rows) = table_sizes(&url).await?;
    let (inserted, updated, hot) = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    let (concurrent, concurrent_batch, concurrent_flights) = concurrent_run(&feed, WRITERS).await?;
    let started = Instant::now();
    let decoded: usize =
        feed.measured.iter().map(|e| decode_batch(e, &TimeBounds::UNBOUNDED, Utc::now()).snapshots.len()).sum();
    let decode_secs = started.elapsed().as_secs_f64();

    let copy_url = database().await?;
    copy_all(&copy_url, &feed.warm_up).await?;
    let copy_run = copy_all(&copy_url, &feed.measured).await?;

    let peer_url = database().await?;
    state_for(&peer_url).await?;
    {
        let mut conn = sqlx::PgConnection::connect(&peer_url).await?;
        for e in feed.warm_up.iter().chain(&feed.measured) {
            ensure_partitions(&mut conn, &decode_batch(e, &TimeBounds::UNBOUNDED, Utc::now()).snapshots).await?;
        }
    }
    let peer = realistic::peer(&peer_url, &feed)?;

    println!(
        "\n[5] the realistic feed (simulator, {} departures/h, a position a minute while airborne): {} events \
         after a warm-up of {warm_records} (the newest event of every flight of the first seven hours)",
        realistic::FLIGHTS_PER_HOUR,
        run.records
    );
    println!(
        "    {:.1}% of events change their flight's status; {:.0} distinct flights per {}-record batch",
        100.0 * feed.status_changes,
        feed.flights_per_batch,
        o.batch
    );
    println!("    ingest {:>10.0} records/s  ({} records in {:.2} s)", run.rate(), run.records, run.secs);
    let hot_share = if updated > 0 { hot as f64 / updated as f64 } else { 0.0 };
    println!("    state rows: {inserted} inserted, {updated} updated, of which HOT {hot} ({:.1}%)", 100.0 * hot_share);
    println!(
        "    COPY   {:>10.0} records/s  ({} records in {:.2} s)",
        copy_run.rate(),
        copy_run.records,
        copy_run.secs
    );
    let ratio = run.rate() / copy_run.rate();
    println!("    ratio ingest/COPY = {ratio:.2}  (target >= 0.45) {}", verdict(ratio >= 0.45));
    match (server_cpu, own_cpu) {
        (Some(server_cpu), Some(own_cpu)) => {
            let per_million = server_cpu * 1e6 / run.records as f64;
            println!(
                "    database cost: {server_cpu:.2} CPU s of PostgreSQL's processes for {} records = {per_million:.1} \
                 CPU s per million events, {:.0} events/s per fully used core; the ingest process {own_cpu:.2} CPU s",
                run.records,
                1e6 / per_million,
            );
        }
        _ => println!("    database cost: NOT MEASURED (the server does not run on this machine)"),
    }
    let simulated = feed.simulated.num_milliseconds() as f64 / 1e3;
    println!(
        "    the feed's own rate: {} events over {:.0} simulated minutes = {:.0} events/s; WAL {:.0} bytes per event",
        run.records,
        simulated / 60.0,
        run.records as f64 / simulated,
        wal_bytes / run.records as f64
    );
    println!(
        "    stored: history {:.0} bytes per event ({history_rows} rows, indexes included), state {:.0} bytes per \
         flight ({state_rows} rows)",
        history_bytes / history_rows.max(1) as f64,
        state_bytes / state_rows.max(1) as f64
    );
    println!(
        "    of which decoding alone (base64, JSON, validation; no database): {decode_secs:.2} s for {decoded} records, \
         {:.0}% of the ingest time",
        100.0 * decode_secs / run.secs
    );
    match peer {
        Some(peer) => {
            let ratio = run.rate() / peer.rate();
            println!(
                "    Python sink (psycopg, executemany per batch) {:>10.0} records/s  ({} records in {:.2} s)",
                peer.rate(),
                peer.records,
                peer.secs
            );
            println!("    ratio ingest/Python sink = {ratio:.2}  (target >= 1.50) {}", verdict(ratio >= 1.5));
        }
        None => println!(
            "    Python sink: NOT RUN (BENCH_PYTHON, a python with psycopg, is not set; bench/ingest.sh sets it)"
        ),
    }
    let ratio = concurrent.rate() / run.rate();
    println!(
        "[6] {WRITERS} writers at once (one per partition, the feed keyed over {WRITERS} partitions) {:>10.0} records/s \
         ({} records in {:.2} s)",
        concurrent.rate(),
        concurrent.records,
        concurrent.secs
    );
    println!(
        "    each batch split by partition: {concurrent_batch:.0} records and {concurrent_flights:.0} distinct flights per \
         batch (one writer: {} and {:.0})",
        o.batch, feed.flights_per_batch
    );
    println!("    ratio {WRITERS} writers/one writer = {ratio:.2}  (target >= 1.50) {}", verdict(ratio >= 1.5));
    Ok(())
}

async fn run(o: Options) -> Result<()> {
    println!("ingest benchmark: {} events in {}-record batches", o.events, o.batch);
    if o.feed == Feeds::Ledger {
        return ledger_run(&o).await;
    }
    if o.feed != Feeds::Status {
        realistic_run(&o).await?;
    }
    if o.feed != Feeds::Realistic {
        status_run(&o).await?;
    }
    ledger_run(&o).await?;
    let rss_batch = batches(o.batch, o.batch, "rss", 9_000_000).remove(0);
    let (base_kib, peak_kib, size) = measure_rss(&rss_batch).await?;
    let peak_mib = peak_kib as f64 / 1024.0;
    println!(
        "[4] peak RSS, one {}-record batch of {:.2} MB parsed and ingested in a fresh process",
        rss_batch.record_count(),
        size as f64 / 1e6
    );
    println!(
        "    {peak_mib:.1} MiB (before the batch: {:.1} MiB)  (target <= 40 MiB) {}",
        base_kib as f64 / 1024.0,
        verdict(peak_mib <= 40.0)
    );
    Ok(())
}

/// [1] to [3]: the feed in which every snapshot changes status.
async fn status_run(o: &Options) -> Result<()> {
    println!("\n-- the worst case: every snapshot changes status --");
    let events = batches(o.events, o.batch, "ev", 1_000_000);
    let bytes: usize = events.iter().map(|e| serde_json::to_vec(e).map(|v| v.len()).unwrap_or(0)).sum();
    println!("  event JSON per batch: {:.2} MB", bytes as f64 / events.len() as f64 / 1e6);

    let decode_started = Instant::now();
    for e in &events {
        std::hint::black_box(decode_batch(e, &TimeBounds::UNBOUNDED, Utc::now()));
    }
    let decode_secs = decode_started.elapsed().as_secs_f64();

    let empty_url = database().await?;
    let state = state_for(&empty_url).await?;
    let ingest_run = ingest_all(&state, &events).await?;
    let redelivery_run = redeliver_all(&state, &events).await?;
    let (json_secs, digest_secs) = digest_cost(&events);
    let copy_url = database().await?;
    let copy_run = copy_all(&copy_url, &events).await?;
    let floor_run = copy_state_floor(&copy_url, &events).await?;

    println!("\n[1] ingest (decode + validate + one transaction: history + state), empty database");
    println!("    {:>10.0} records/s  ({} records in {:.2} s)", ingest_run.rate(), ingest_run.records, ingest_run.secs);
    println!(
        "    of which decode+validate alone: {:.2} s ({:.0} records/s); database and the rest: {:.2} s",
        decode_secs,
        o.events as f64 / decode_secs,
        ingest_run.secs - decode_secs
    );
    let per_record_us = |secs: f64| secs * 1e6 / o.events as f64;
    println!(
        "    of which the event digest (SHA-256 of the canonical payload, for conflicting_duplicate): {:.2} us/record \
         = {:.1}% of the {:.1} us an ingested record takes (canonical JSON {:.2} us, made for the history row anyway)",
        per_record_us(digest_secs),
        100.0 * digest_secs / ingest_run.secs,
        per_record_us(ingest_run.secs),
        per_record_us(json_secs)
    );
    println!("[1b] the same batches redelivered (every record a duplicate, compared by digest)");
    println!(
        "    {:>10.0} records/s  ({} records in {:.2} s); ratio redelivered/first = {:.2}",
        redelivery_run.rate(),
        redelivery_run.records,
        redelivery_run.secs,
        redelivery_run.rate() / ingest_run.rate()
    );
    println!("[2] binary COPY of the same history rows (physical limit)");
    println!("    {:>10.0} records/s  ({} records in {:.2} s)", copy_run.rate(), copy_run.records, copy_run.secs);
    let ratio = ingest_run.rate() / copy_run.rate();
    println!("    ratio ingest/COPY = {ratio:.2}  (target >= 0.30) {}", verdict(ratio >= 0.3));
    let ceiling = copy_run.secs / (copy_run.secs + floor_run.secs);
    println!("[2b] binary COPY of every record's current-state row into a table with the state's indexes");
    println!("    {:>10.0} records/s  ({} records in {:.2} s)", floor_run.rate(), floor_run.records, floor_run.secs);
    println!(
        "    history and state both by COPY: {:.0} records/s = {ceiling:.2}x COPY, the most any ingest that keeps \
         current state can reach here",
        copy_run.records as f64 / (copy_run.secs + floor_run.secs)
    );

    if o.preload > 0 {
        let big_url = database().await?;
        eprintln!("  preloading {} events (COPY) ...", o.preload);
        let load_secs = preload(&big_url, o.preload).await?;
        let big_state = state_for(&big_url).await?;
        let big_run = ingest_all(&big_state, &events).await?;
        let ratio = big_run.rate() / ingest_run.rate();
        println!("[3] ingest with {} events already in history (loaded in {load_secs:.0} s)", o.preload);
        println!("    {:>10.0} records/s  ({} records in {:.2} s)", big_run.rate(), big_run.records, big_run.secs);
        println!("    ratio full/empty = {ratio:.2}  (target >= 0.90) {}", verdict(ratio >= 0.9));
    }

    Ok(())
}

/// Phase 6: the ledger's cost. Each batch is decoded (the checksum included) and written with its ledger
/// rows into one database and without them into another, in alternation, so drift of the machine falls on
/// both; the checksum is then timed alone and taken off the run without the ledger.
async fn ledger_run(o: &Options) -> Result<()> {
    let feed = realistic::feed(o.events, o.batch);
    let with = state_for(&database().await?).await?;
    let without = state_for(&database().await?).await?;
    for warm in &feed.warm_up {
        for state in [&with, &without] {
            let batch = decode_batch(warm, &TimeBounds::UNBOUNDED, Utc::now());
            state.store.write_batch(&batch.snapshots, &batch.ledger).await?;
        }
    }
    let (mut with_secs, mut without_secs, mut records) = (0.0, 0.0, 0u64);
    for (i, event) in feed.measured.iter().enumerate() {
        // Which of the two goes first alternates too.
        let order = if i % 2 == 0 { [true, false] } else { [false, true] };
        for ledger in order {
            let started = Instant::now();
            let batch = decode_batch(event, &TimeBounds::UNBOUNDED, Utc::now());
            let (state, rows) = if ledger { (&with, batch.ledger.as_slice()) } else { (&without, &[][..]) };
            let w = state.store.write_batch(&batch.snapshots, rows).await?;
            if w.stored as usize != event.record_count() {
                bail!("expected every record stored, got {} of {}", w.stored, event.record_count());
            }
            let secs = started.elapsed().as_secs_f64();
            if ledger { with_secs += secs } else { without_secs += secs }
        }
        records += event.record_count() as u64;
    }
    let checksum = || {
        let started = Instant::now();
        for event in &feed.measured {
            for records in event.records.values() {
                let mut h = RecordHasher::default();
                for r in records {
                    h.add_base64(r.offset, r.key.as_deref(), r.value.as_deref());
                }
                std::hint::black_box(h.finish());
            }
        }
        started.elapsed().as_secs_f64()
    };
    checksum();
    let checksum_secs = checksum();
    let bare_secs = without_secs - checksum_secs;
    println!("\n[6] the consistency ledger, realistic feed: {records} events, batches in alternation");
    println!("    with the ledger      {:>10.0} records/s  ({with_secs:.2} s)", records as f64 / with_secs);
    println!(
        "    without its rows     {:>10.0} records/s  ({without_secs:.2} s; the checksum still computed)",
        records as f64 / without_secs
    );
    println!(
        "    the checksum alone   {checksum_secs:.3} s ({:.2}% of the run with the ledger)",
        100.0 * checksum_secs / with_secs
    );
    let ratio = bare_secs / with_secs;
    println!("    ratio with/without the ledger = {ratio:.3}  (target >= 0.97) {}", verdict(ratio >= 0.97));
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}
