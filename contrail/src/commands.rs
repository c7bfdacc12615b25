//! What each command does. Every command returns an error instead of exiting, so `main` prints one
//! line and sets the exit code.

use std::io::{BufRead as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use contrail_shared::auth::{AuthConfig, MintRequest, SigningKey, mint};
use tokio::sync::{mpsc, watch};

use crate::cli::{AuditArgs, Cli, Command, DlqCommand, InvokeArgs, RedriveArgs, ReplayArgs, TokenArgs, UpArgs};
use crate::esm::{Batching, LocalLog, PendingRecord, deliver, event_for, next_batch, place};
use crate::functions::{Functions, IngestCounts};
use crate::gateway::origin::LocalOrigin;
use crate::gateway::{self, Gateway};
use crate::progress::Progress;
use crate::settings::{DEFAULT_TOPIC, Settings};
use crate::simulator::{Positions, Simulator, flight_id_of};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up(args).await,
        Command::Invoke(args) => invoke(args).await,
        Command::Token(args) => token(args),
        Command::Replay(args) => replay(args).await,
        Command::Migrate(db) => {
            let settings = Settings::load(db.database_url)?;
            let functions = open_migrated(&settings).await?;
            drop(functions);
            println!("database schema is up to date ({})", settings.database());
            Ok(())
        }
        Command::Dlq { command: DlqCommand::List { limit, db } } => dlq_list(db.database_url, limit).await,
        Command::Redrive(args) => redrive(args).await,
        Command::Audit(args) => audit(args).await,
    }
}

async fn open_migrated(settings: &Settings) -> anyhow::Result<Functions> {
    let functions = Functions::open(settings).await?;
    functions.store.migrate().await.context("migrating the database")?;
    functions.apply_retention().await;
    Ok(functions)
}

/// Refuses `--kafka` before anything starts when this build has no Kafka client (the `kafka` feature,
/// on by default, brings librdkafka).
fn require_kafka(wanted: bool) -> anyhow::Result<()> {
    if wanted && !cfg!(feature = "kafka") {
        bail!("--kafka needs contrail built with its `kafka` feature (on by default)");
    }
    Ok(())
}

/// Sets the flag on the first Ctrl-C (or SIGTERM); a second one exits at once.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing the batch in flight (Ctrl-C again to exit now)");
        let _ = tx.send(true);
        wait_for_signal().await;
        std::process::exit(130);
    });
    rx
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The signing key for local tokens; an error when tokens come from an identity provider.
fn signing_key(config: &AuthConfig) -> anyhow::Result<SigningKey> {
    match &config.keys.hs256_secret {
        Some(secret) => Ok(SigningKey::Hs256(secret.clone())),
        None => bail!("JWKS_URL is set and JWT_HS256_SECRET is not: get tokens from your identity provider"),
    }
}

/// A token the local authorizer accepts: signed with its HS256 secret, for its issuer and audience.
fn mint_token(settings: &Settings, sub: &str, scope: &str, ttl: Duration) -> anyhow::Result<String> {
    let config = settings.auth_config()?;
    let request = MintRequest {
        sub: sub.to_owned(),
        scope: scope.to_owned(),
        ttl,
        issuer: config.issuer.clone(),
        audience: config.audience.clone(),
        kid: None,
        client_id: Some("contrail-local".to_owned()),
    };
    Ok(mint(&signing_key(&config)?, &request)?)
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let settings = Settings::load(None)?;
    println!("{}", mint_token(&settings, &args.sub, &args.scope, Duration::from_secs(args.ttl))?);
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    require_kafka(args.kafka.kafka.is_some())?;
    let settings = Settings::load(args.db.database_url.clone())?;
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow!("cannot listen on {}: the port is taken (choose another with --listen)", args.listen)
        } else {
            anyhow!("cannot listen on {}: {e}", args.listen)
        }
    })?;
    let addr = listener.local_addr().unwrap_or(args.listen);
    let local = LocalOrigin::new(addr);
    // Without ALLOWED_ORIGINS, only the board's own pages may read the API from a browser.
    let settings = settings.or_allowed_origins(local.board_origins());
    let functions = open_migrated(&settings).await?.traced(args.trace);
    let dev_token = mint_token(&settings, "local-developer", "flights:read", Duration::from_secs(12 * 3600)).ok();
    let shutdown = shutdown_signal();

    let gateway = Arc::new(Gateway::new(functions.clone(), dev_token.clone(), local));
    let mut server_shutdown = shutdown.clone();
    let server = tokio::spawn(gateway::serve(listener, gateway, async move {
        let _ = server_shutdown.wait_for(|s| *s).await;
    }));

    print_banner(&addr.to_string(), dev_token.as_deref(), &settings, &args);

    let batching =
        Batching { batch_size: args.batch.batch_size as usize, window: Duration::from_millis(args.batch.batch_window) };
    let started = Instant::now();
    let fed = match &args.kafka.kafka {
        #[cfg(feature = "kafka")]
        Some(brokers) => {
            let stats = crate::kafka::consume(
                &functions,
                brokers,
                &args.kafka.topic,
                &args.kafka.group,
                batching,
                shutdown.clone(),
                |_| {},
            )
            .await;
            match stats {
                Ok(s) => Some(s.counts),
                Err(e) => {
                    // Stop serving too: a stack that silently stopped reading is worse than one that exits.
                    return Err(e);
                }
            }
        }
        _ if args.no_simulate => None,
        _ => Some(simulate(&functions, &args, batching, shutdown.clone()).await),
    };
    let mut wait = shutdown.clone();
    let _ = wait.wait_for(|s| *s).await;
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e).context("the HTTP server failed"),
        Err(e) => return Err(e).context("the HTTP server crashed"),
    }
    if let Some(c) = fed {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "fed {} records in {:.1} s ({:.0} records/s): stored {} (superseded {}), duplicates {}, dead-lettered {}",
            c.records,
            secs,
            c.records as f64 / secs.max(1e-9),
            c.stored,
            c.superseded,
            c.duplicates,
            c.dead_lettered
        );
    }
    Ok(())
}

fn print_banner(addr: &str, token: Option<&str>, settings: &Settings, args: &UpArgs) {
    let url = format!("http://{addr}");
    let source = match (&args.kafka.kafka, args.no_simulate) {
        (Some(b), _) => format!("Kafka {b}, topic {}, group {}", args.kafka.topic, args.kafka.group),
        (None, true) => "nothing (--no-simulate)".to_owned(),
        (None, false) => format!("flight simulator at {} events/s", args.rate),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "contrail is up: {url}/");
    let _ = writeln!(out, "  database  {}", settings.database());
    let _ = writeln!(out, "  feeding   {source}");
    match token {
        Some(t) => {
            let _ = writeln!(out, "  dev token {t}");
            let _ = writeln!(out, "\ntry:");
            let _ = writeln!(out, "  curl {url}/health");
            let _ = writeln!(out, "  curl -H \"Authorization: Bearer {t}\" '{url}/flights?limit=5'");
            let _ = writeln!(out, "  curl -H \"Authorization: Bearer {t}\" '{url}/stats?date=$(date -u +%F)'");
        }
        None => {
            let _ = writeln!(out, "  tokens    from your identity provider (JWKS_URL is set)");
        }
    }
    let _ = writeln!(out, "\nCtrl-C stops (the batch in flight is finished first).");
    let _ = out.flush();
}

/// Runs the simulator at `rate` events/s into ESM batches until shutdown.
async fn simulate(
    functions: &Functions,
    args: &UpArgs,
    batching: Batching,
    mut shutdown: watch::Receiver<bool>,
) -> IngestCounts {
    let (rate, positions) = (args.rate, args.positions_every.map_or(Positions::Cruise, Positions::Every));
    let now = chrono::Utc::now();
    let (seed, start) = match args.seed {
        Some(s) => (s, now.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now)),
        None => (now.timestamp_nanos_opt().unwrap_or_default() as u64, now - chrono::Duration::hours(3)),
    };
    let (tx, mut rx) = mpsc::channel::<PendingRecord>(batching.batch_size * 4);
    let mut gen_shutdown = shutdown.clone();
    // The simulated clock runs faster than the wall clock (at 50 events/s about 100 times), and ingest
    // dead-letters events dated beyond INGEST_MAX_FUTURE_SKEW_SECONDS. So the feed runs at `rate` until
    // its clock is a minute short of that bound, then waits for the wall clock: live from then on.
    let lead = chrono::Duration::from_std(functions.max_future_skew().saturating_sub(Duration::from_secs(60)))
        .unwrap_or(chrono::Duration::MAX);
    tokio::spawn(async move {
        let mut sim = Simulator::new(seed, start).with_positions(positions);
        let tick = Duration::from_millis(10);
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last = Instant::now();
        let mut owed = 0.0f64;
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = gen_shutdown.wait_for(|s| *s) => return,
            }
            let now = Instant::now();
            owed = (owed + rate * now.duration_since(last).as_secs_f64()).min(rate.max(1.0));
            last = now;
            let ahead_limit = chrono::Utc::now().checked_add_signed(lead);
            while owed >= 1.0 {
                if ahead_limit.is_some_and(|limit| sim.clock() >= limit) {
                    owed = 0.0;
                    break;
                }
                owed -= 1.0;
                let r = sim.next_record();
                let record =
                    PendingRecord { key: r.key, value: r.value, timestamp_ms: chrono::Utc::now().timestamp_millis() };
                if tx.send(record).await.is_err() {
                    return;
                }
            }
        }
    });
    let log = LocalLog::new(DEFAULT_TOPIC);
    let mut total = IngestCounts::default();
    loop {
        let batch = next_batch(&mut rx, batching, &mut shutdown).await;
        if batch.is_empty() {
            break;
        }
        let Some(records) = place(&log, &functions.store, &batch, &mut shutdown).await else { break };
        let event = event_for(records);
        match deliver(functions, &event, &mut shutdown).await {
            Some(c) => total.add(c),
            None => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
    total
}

async fn invoke(args: InvokeArgs) -> anyhow::Result<()> {
    let event = std::fs::read_to_string(&args.event).with_context(|| format!("reading {}", args.event.display()))?;
    let settings = Settings::load(args.db.database_url)?;
    let functions = open_migrated(&settings).await?;
    let response = functions.invoke(args.function, &event).await?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(())
}

/// Reads the JSON Lines file into (key, value) pairs; the key is the flight id the event names.
fn read_lines(path: &std::path::Path) -> anyhow::Result<Vec<(Option<String>, String)>> {
    let reader: Box<dyn std::io::BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut out = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {} of {}", n + 1, path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let key = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .as_ref()
            .and_then(flight_id_of)
            .map(|id| id.to_string());
        out.push((key, line));
    }
    Ok(out)
}

async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    require_kafka(args.kafka.is_some())?;
    let lines = read_lines(&args.file)?;
    let total = lines.len() as u64;
    let batch_size = args.batch_size as usize;
    let mut progress = Progress::new("replay", total);
    #[cfg(feature = "kafka")]
    if let Some(brokers) = &args.kafka {
        let producer = crate::kafka::producer(brokers, &args.topic).await?;
        for chunk in lines.chunks(batch_size) {
            crate::kafka::produce_all(&producer, &args.topic, chunk).await?;
            progress.advance(chunk.len() as u64);
        }
        progress.finish();
        println!(
            "{}",
            serde_json::json!({"records": total, "produced": total, "topic": args.topic, "brokers": brokers,
                "duration_ms": progress.elapsed().as_millis() as u64})
        );
        return Ok(());
    }
    let settings = Settings::load(args.database_url)?;
    let functions = open_migrated(&settings).await?;
    let (_never, mut shutdown) = watch::channel(false);
    let log = LocalLog::new(DEFAULT_TOPIC);
    let mut counts = IngestCounts::default();
    let now = chrono::Utc::now().timestamp_millis();
    for chunk in lines.chunks(batch_size) {
        let records: Vec<PendingRecord> = chunk
            .iter()
            .map(|(k, v)| PendingRecord {
                key: k.as_ref().map(|k| k.as_bytes().to_vec()),
                value: Some(v.as_bytes().to_vec()),
                timestamp_ms: now,
            })
            .collect();
        let placed = log.place(&functions.store, &records).await.context("reserving offsets in the local log")?;
        let event = event_for(placed);
        let c = deliver(&functions, &event, &mut shutdown).await.ok_or_else(|| anyhow!("replay interrupted"))?;
        counts.add(c);
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    println!(
        "{}",
        serde_json::json!({
            "records": counts.records, "stored": counts.stored, "duplicates": counts.duplicates,
            "superseded": counts.superseded, "dead_lettered": counts.dead_lettered, "duration_ms": progress.elapsed().as_millis() as u64,
            "records_per_second": (progress.rate() * 10.0).round() / 10.0,
        })
    );
    Ok(())
}

async fn dlq_list(database_url: Option<String>, limit: u32) -> anyhow::Result<()> {
    let settings = Settings::load(database_url)?;
    let functions = open_migrated(&settings).await?;
    let rows = contrail_redrive::list_local(&functions.store, limit).await.context("listing dead letters")?;
    let mut out = std::io::stdout().lock();
    for row in &rows {
        let mut v = serde_json::to_value(&row.letter)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("id".into(), row.id.into());
        }
        writeln!(out, "{v}")?;
    }
    eprintln!("{} dead letter(s)", rows.len());
    Ok(())
}

async fn redrive(args: RedriveArgs) -> anyhow::Result<()> {
    let settings = Settings::load(args.db.database_url)?;
    let functions = open_migrated(&settings).await?;
    let report =
        contrail_redrive::redrive_local(&functions.store, args.dry_run, args.max).await.context("redrive failed")?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    require_kafka(args.kafka.is_some())?;
    // Read only: no migration and no retention, which would drop ledger rows before they are audited.
    let mut settings = Settings::load(args.db.database_url)?;
    settings.db.create_if_missing = false;
    let store = crate::functions::open_store(&settings.db, &settings.database()).await?;
    let filter =
        contrail_shared::storage::LedgerFilter { topic: Some(args.topic.clone()), partitions: args.partitions.clone() };
    let rows = store
        .ledger_rows(&filter)
        .await
        .context("reading the ledger (a database without it needs `contrail migrate` first)")?;
    #[cfg(feature = "kafka")]
    let topic = match &args.kafka {
        Some(brokers) => Some(crate::kafka::read_topic(brokers, &args.topic, &args.partitions).await?),
        None => None,
    };
    #[cfg(not(feature = "kafka"))]
    let topic = None;
    let audits = contrail_shared::ledger::audit(&rows, topic.as_ref(), args.since);
    let mut out = std::io::stdout().lock();
    for a in &audits {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(a)?)?;
        } else {
            writeln!(out, "{}", crate::audit::describe(a))?;
        }
    }
    let gaps: u64 = audits.iter().map(|a| a.gaps.len() as u64).sum();
    let mismatches: u64 = audits.iter().map(|a| a.mismatches.len() as u64).sum();
    if audits.is_empty() {
        eprintln!("the ledger has no rows for {} (nothing ingested yet, or all past retention)", args.topic);
    }
    if gaps + mismatches > 0 {
        bail!("audit failed: {gaps} gap(s) and {mismatches} mismatch(es)");
    }
    eprintln!("audit passed: {} partition(s), no gap, no mismatch", audits.len());
    Ok(())
}
