//! Cold starts, as Lambda sees them: the time from `exec` of a function's binary to its first poll of the
//! Runtime API for an event (init done), and to its answer to that first event, for each function against a
//! hello-world `lambda_runtime` binary built with the same profile and measured in the same rounds.
//!
//! Run by `bash bench/init.sh` (which builds the binaries); see docs/operations.md, "Cold starts".
//! The Runtime API here is a minimal stand-in of this benchmark's own, serving one event per process and
//! timing the requests as they arrive: enough for a stopwatch, not a conformance check (scripts/check-build
//! runs the shipped binaries against cargo-lambda's emulator for that).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::sync::Notify;

/// The issue's target for the authorizer and the query function: init at most this many times hello world's.
const TARGET_RATIO: f64 = 1.5;
/// How long one process may take to answer its event before the run is called failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// One function under one configuration.
struct Case {
    name: &'static str,
    binary: &'static str,
    env: Vec<(&'static str, String)>,
    event: Bytes,
    /// Whether the issue's target applies.
    targeted: bool,
}

/// What the Runtime API saw of the process of the current run. Each run's process talks to a base path of its
/// own (`/{run}`), so that a late request of an earlier, stopped process never counts for a later one.
#[derive(Default)]
struct Run {
    number: u64,
    started: Option<Instant>,
    event: Bytes,
    delivered: bool,
    first_poll: Option<Duration>,
    answered: Option<(Duration, &'static str)>,
}

#[derive(Clone)]
struct Api {
    run: Arc<Mutex<Run>>,
    done: Arc<Notify>,
}

impl Api {
    fn elapsed(run: &Run) -> Duration {
        run.started.map(|s| s.elapsed()).unwrap_or_default()
    }

    fn answer(&self, number: u64, kind: &'static str) -> StatusCode {
        if let Ok(mut run) = self.run.lock()
            && run.number == number
        {
            let at = Self::elapsed(&run);
            run.answered.get_or_insert((at, kind));
        }
        self.done.notify_one();
        StatusCode::ACCEPTED
    }
}

async fn next(State(api): State<Api>, Path(number): Path<u64>) -> (StatusCode, HeaderMap, Bytes) {
    let event = api.run.lock().ok().and_then(|mut run| {
        if run.number != number {
            return None;
        }
        let at = Api::elapsed(&run);
        run.first_poll.get_or_insert(at);
        let first = !run.delivered;
        run.delivered = true;
        first.then(|| run.event.clone())
    });
    // One event per process: a second poll (or one of a stopped run) waits until its process is stopped.
    let Some(event) = event else { return std::future::pending().await };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned()),
        ("lambda-runtime-deadline-ms", deadline.as_millis().to_string()),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:eu-west-1:123456789012:function:bench".to_owned()),
        (
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
        ),
        ("content-type", "application/json".to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, event)
}

async fn response(State(api): State<Api>, Path((number, _id)): Path<(u64, String)>) -> StatusCode {
    api.answer(number, "response")
}

async fn error(State(api): State<Api>, Path((number, _id)): Path<(u64, String)>) -> StatusCode {
    api.answer(number, "error")
}

async fn init_error(State(api): State<Api>, Path(number): Path<u64>) -> StatusCode {
    api.answer(number, "init error")
}

/// A JWKS for the authorizer's prefetch: one RSA public key, which the sample token (HS256) does not use.
async fn jwks() -> ([(&'static str, &'static str); 1], &'static str) {
    ([("content-type", "application/json")], JWKS)
}

const JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"bench","use":"sig","alg":"RS256","e":"AQAB","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"}]}"#;

fn binaries_dir() -> PathBuf {
    std::env::var_os("INIT_BENCH_BINARIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| contrail_testkit::workspace_root().join("target/release"))
}

fn spawn(dir: &std::path::Path, case: &Case, api: &str) -> std::io::Result<Child> {
    let mut command = Command::new(dir.join(case.binary));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", case.binary)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in &case.env {
        command.env(key, value);
    }
    command.spawn()
}

/// One cold start: the first poll and the first answer, from just before `exec`.
async fn once(
    api: &Api,
    dir: &std::path::Path,
    case: &Case,
    addr: &str,
    number: u64,
) -> Result<(Duration, Duration), String> {
    if let Ok(mut run) = api.run.lock() {
        *run = Run { number, event: case.event.clone(), ..Run::default() };
        run.started = Some(Instant::now());
    }
    let base = format!("http://{addr}/{number}");
    let mut child = spawn(dir, case, &base).map_err(|e| format!("{}: {e}", case.binary))?;
    let waited = tokio::time::timeout(RUN_TIMEOUT, async {
        loop {
            // An init error comes without a poll: its time stands for both.
            let answered = api.run.lock().ok().and_then(|r| r.answered.map(|a| (a, r.first_poll.unwrap_or(a.0))));
            if let Some(found) = answered {
                return found;
            }
            api.done.notified().await;
        }
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let ((answered, kind), first_poll) = waited.map_err(|_| format!("{}: no answer in {RUN_TIMEOUT:?}", case.name))?;
    if kind != "response" {
        return Err(format!("{}: the first event got an {kind}", case.name));
    }
    Ok((first_poll, answered))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn arg(args: &[String], flag: &str, default: usize) -> usize {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn cases(database_url: &str, api_addr: &str) -> Vec<Case> {
    let event = |name: &str| Bytes::from(contrail_testkit::event_file(name));
    let auth = || {
        vec![
            ("JWT_ISSUER", "contrail-local".to_owned()),
            ("JWT_AUDIENCE", "contrail-api".to_owned()),
            ("JWT_HS256_SECRET", "contrail-sample-secret-for-events-and-tests-only".to_owned()),
        ]
    };
    let query = |connect_on_start: &str| {
        vec![
            ("DATABASE_URL", database_url.to_owned()),
            ("CURSOR_SECRET", "bench-cursor-secret-bench-cursor-secret".to_owned()),
            ("DB_CONNECT_ON_START", connect_on_start.to_owned()),
        ]
    };
    vec![
        Case { name: "hello world", binary: "hello", env: vec![], event: Bytes::from_static(b"{}"), targeted: false },
        Case {
            name: "authorizer (HS256)",
            binary: "authorizer",
            env: auth(),
            event: event("authorizer-token.json"),
            targeted: true,
        },
        Case {
            name: "authorizer (JWKS loaded while polling; HS256)",
            binary: "authorizer",
            env: [auth(), vec![("JWKS_URL", format!("http://{api_addr}/jwks"))]].concat(),
            event: event("authorizer-token.json"),
            targeted: true,
        },
        Case {
            name: "query, connect lazily",
            binary: "query",
            env: query("false"),
            event: event("apigw-health-ready.json"),
            targeted: true,
        },
        Case {
            name: "query, connect at start",
            binary: "query",
            env: query("true"),
            event: event("apigw-health-ready.json"),
            targeted: true,
        },
        Case {
            name: "ingest",
            binary: "ingest",
            // Without DLQ_URL the sample's dead letters go to the store's table: no queue to stand up.
            env: vec![("DATABASE_URL", database_url.to_owned())],
            event: event("msk-flight-batch.json"),
            targeted: false,
        },
    ]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = arg(&args, "--runs", 50).max(1);
    let warmup = arg(&args, "--warmup", 3);
    let dir = binaries_dir();

    let Some(database_url) = contrail_testkit::postgres::fresh_database() else { return };
    // Migrated once here, so that no cold start pays for the schema.
    drop(contrail_testkit::store::open(&database_url).await);

    let api = Api { run: Arc::new(Mutex::new(Run::default())), done: Arc::new(Notify::new()) };
    let app = Router::new()
        .route("/{run}/2018-06-01/runtime/invocation/next", get(next))
        .route("/{run}/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/{run}/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/{run}/2018-06-01/runtime/init/error", post(init_error))
        .route("/jwks", get(jwks))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let api_addr = listener.local_addr().expect("the bound address").to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let cases = cases(&database_url, &api_addr);
    println!(
        "cold starts of the binaries in {}: {runs} runs each, in turn, after {warmup} warm-up runs",
        dir.display()
    );
    let mut polls: BTreeMap<usize, Vec<Duration>> = BTreeMap::new();
    let mut answers: BTreeMap<usize, Vec<Duration>> = BTreeMap::new();
    let mut number = 0;
    for round in 0..warmup + runs {
        for (i, case) in cases.iter().enumerate() {
            number += 1;
            match once(&api, &dir, case, &api_addr, number).await {
                Ok((poll, answer)) if round >= warmup => {
                    polls.entry(i).or_default().push(poll);
                    answers.entry(i).or_default().push(answer);
                }
                Ok(_) => {}
                Err(why) => {
                    eprintln!("FAILED: {why}");
                    std::process::exit(1);
                }
            }
        }
    }

    let summary = |samples: &mut Vec<Duration>| {
        samples.sort();
        (percentile(samples, 0.5), percentile(samples, 0.9))
    };
    let mut rows = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (poll_median, poll_p90) = summary(polls.entry(i).or_default());
        let (answer_median, answer_p90) = summary(answers.entry(i).or_default());
        rows.push((case, poll_median, poll_p90, answer_median, answer_p90));
    }
    let hello_poll = rows[0].1;
    println!(
        "\n| function | init: exec to first poll, median | p90 | vs hello world | first answer, median | p90 | target |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut missed = 0;
    for (case, poll_median, poll_p90, answer_median, answer_p90) in &rows {
        let ratio = ms(*poll_median) / ms(hello_poll).max(f64::MIN_POSITIVE);
        let target = if !case.targeted {
            "".to_owned()
        } else if ratio <= TARGET_RATIO {
            format!("<= {TARGET_RATIO}x met")
        } else {
            missed += 1;
            format!("<= {TARGET_RATIO}x MISSED")
        };
        println!(
            "| {} | {:.2} ms | {:.2} ms | {ratio:.2}x | {:.2} ms | {:.2} ms | {target} |",
            case.name,
            ms(*poll_median),
            ms(*poll_p90),
            ms(*answer_median),
            ms(*answer_p90)
        );
    }
    if missed > 0 {
        println!("\n{missed} target(s) missed");
    }
}
