//! Drives the built `contrail` binary as a user would: processes, real HTTP, real tokens.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contrail_testkit::flight::FlightEvent;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_contrail");

/// Every variable the four functions read (their own lists), cleared so the developer's shell cannot
/// change a test.
pub fn function_variables() -> Vec<&'static str> {
    let mut all = [
        contrail_ingest::environment(),
        contrail_query::environment(),
        contrail_authorizer::environment(),
        contrail_redrive::environment(),
    ]
    .concat();
    all.sort_unstable();
    all.dedup();
    all
}

/// A `contrail` command run in `dir`.
pub fn contrail(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).stdin(Stdio::null());
    for v in function_variables() {
        cmd.env_remove(v);
    }
    cmd
}

/// Runs a command to completion.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    contrail(dir).args(args).output().expect("running contrail")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A token from `contrail token` in `dir`.
pub fn token(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["token"];
    args.extend_from_slice(extra);
    let out = run(dir, &args);
    assert!(out.status.success(), "contrail token failed: {}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// What the banner of `contrail up` tells a test.
enum Banner {
    Base(String),
    Token(String),
    End,
}

/// A running `contrail up`; killed when dropped.
pub struct Stack {
    pub child: Child,
    pub base: String,
    pub dev_token: Option<String>,
    pub stderr: Arc<Mutex<String>>,
    /// Everything printed on stdout, the banner included.
    pub stdout: Arc<Mutex<String>>,
}

impl Stack {
    /// Starts `contrail up` on a port the kernel picks and waits until `/health` answers 200. The address
    /// comes from the child's own banner, so the server asked is the one this test started.
    pub fn start(dir: &Path, extra: &[&str]) -> Stack {
        Self::start_with_env(dir, extra, &[])
    }

    /// [`Stack::start`] with these variables set for the child.
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Stack {
        let mut child = contrail(dir)
            .envs(env.iter().copied())
            .args(["up", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting contrail up");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let err_buf = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&err_buf);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out_buf = Arc::new(Mutex::new(String::new()));
        let out_sink = Arc::clone(&out_buf);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut s) = out_sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
                let line = line.trim();
                let banner = if let Some(url) = line.strip_prefix("contrail is up: ") {
                    Banner::Base(url.trim_end_matches('/').to_owned())
                } else if let Some(t) = line.strip_prefix("dev token ") {
                    Banner::Token(t.trim().to_owned())
                } else if line.starts_with("Ctrl-C stops") {
                    Banner::End
                } else {
                    continue;
                };
                let _ = tx.send(banner);
            }
        });
        let mut base = None;
        let mut dev_token = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            match line {
                Banner::Base(url) => base = Some(url),
                Banner::Token(t) => dev_token = Some(t),
                Banner::End => break,
            }
        }
        let mut stack = Stack { child, base: base.unwrap_or_default(), dev_token, stderr: err_buf, stdout: out_buf };
        if stack.base.is_empty() {
            let _ = stack.child.kill();
            panic!("contrail up printed no address: {}", stack.stderr_text());
        }
        loop {
            if let Ok(Some(status)) = stack.child.try_wait() {
                panic!("contrail up exited with {status}: {}", stack.stderr_text());
            }
            if let Ok(r) = blocking_get(&format!("{}/health", stack.base), None)
                && r.0 == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "contrail up did not become healthy: {}", stack.stderr_text());
            std::thread::sleep(Duration::from_millis(100));
        }
        stack
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn stdout_text(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET with a bearer token: (status, headers-less body as JSON or text).
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let (status, body) = blocking_get(&self.url(path), token).expect("request failed");
        (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }

    /// Stops the stack the way Ctrl-C does and waits for it to exit; returns its stderr.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "contrail up exited with {status}: {}", self.stderr_text());
                std::thread::sleep(Duration::from_millis(100));
                return self.stderr_text();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("contrail up did not stop on Ctrl-C: {}", self.stderr_text());
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET on a fresh runtime (tests are synchronous): (status, body).
pub fn blocking_get(url: &str, token: Option<&str>) -> Result<(u16, String), String> {
    request("GET", url, token, &[])
}

/// Any request: (status, body), or the headers instead of the body for OPTIONS and HEAD.
pub fn request(
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut all = headers.to_vec();
    if let Some(b) = &bearer {
        all.push(("Authorization", b.as_str()));
    }
    let (status, hdrs, body) = exchange(method, url, &all)?;
    Ok((status, if method == "OPTIONS" || method == "HEAD" { hdrs } else { body }))
}

/// Polls until `check` returns `Some`, or panics after `secs`.
pub fn eventually<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A temporary working directory for one test.
pub fn workdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("contrail-e2e-").tempdir().expect("tempdir")
}

/// Known flight events: three flights over one day with a full life each, as JSON Lines.
pub struct Fixture {
    pub lines: Vec<String>,
    pub flights: Vec<String>,
    pub date: &'static str,
}

pub fn fixture() -> Fixture {
    let date = "2026-11-20";
    let mut lines = Vec::new();
    let mut flights = Vec::new();
    let specs = [("UA", "1545", "EWR", "SFO", 6u32), ("DL", "88", "ATL", "JFK", 9), ("BA", "117", "LHR", "JFK", 11)];
    for (carrier, number, origin, dest, hour) in specs {
        let id = format!("{carrier}{number}-{date}-{origin}");
        let sd = format!("{date}T{hour:02}:00:00Z");
        let sa = format!("{date}T{:02}:00:00Z", hour + 5);
        for (i, status) in ["scheduled", "boarding", "departed", "airborne", "landed", "arrived"].iter().enumerate() {
            let t = format!("{date}T{:02}:{:02}:00Z", hour - 1 + (i as u32 * 50) / 60, (i as u32 * 50) % 60);
            let actual_dep = (i >= 2).then(|| format!("{date}T{hour:02}:07:00Z"));
            let actual_arr = (i >= 5).then(|| format!("{date}T{:02}:12:00Z", hour + 5));
            let event = FlightEvent::new(&format!("e2e-{id}-{i}"), &format!("{carrier}{number}"), status, &t)
                .date(date)
                .route(origin, dest)
                .with("scheduled_departure", json!(sd))
                .with("scheduled_arrival", json!(sa))
                .with("actual_departure", json!(actual_dep))
                .with("actual_arrival", json!(actual_arr))
                .with("gate", json!(format!("B{i}")))
                .with("terminal", json!("B"));
            lines.push(event.to_string());
        }
        flights.push(id);
    }
    Fixture { lines, flights, date }
}

/// Writes lines to a file in `dir`.
pub fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("writing fixture");
    path
}

/// Any request, everything back: (status, headers as `name: value` lines with lower-case names, body).
pub fn exchange(method: &str, url: &str, headers: &[(&str, &str)]) -> Result<(u16, String, String), String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().map_err(|e| e.to_string())?;
        let mut req = client.request(method.parse().map_err(|_| "bad method".to_owned())?, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let mut hdrs = String::new();
        for (k, v) in resp.headers() {
            hdrs.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("")));
        }
        let body = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, hdrs, body))
    })
}

/// A one-broker mock cluster (librdkafka's, in this process) holding `topic` with 3 partitions, and its
/// bootstrap servers; the cluster lives as long as the value.
#[cfg(feature = "kafka")]
pub fn mock_topic(
    topic: &str,
) -> (rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>, String) {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    cluster.create_topic(topic, 3, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    (cluster, brokers)
}

/// `contrail audit --json` with `args` in `dir`: its exit success, one JSON object per partition, and stderr.
pub fn audit_json(dir: &Path, args: &[&str]) -> (bool, Vec<Value>, String) {
    let mut all = vec!["audit", "--json"];
    all.extend_from_slice(args);
    let out = run(dir, &all);
    let partitions = stdout(&out).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    (out.status.success(), partitions, stderr(&out))
}

/// The sum of the offsets `group` committed on partitions `0..partitions` of `topic` (0 where none).
#[cfg(feature = "kafka")]
pub fn committed_offsets(brokers: &str, topic: &str, group: &str, partitions: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let total = {
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
        let sum = committed.elements().iter().map(|e| e.offset().to_raw().unwrap_or(0).max(0)).sum();
        // Dropped before the consumer (a consumer dropped while a committed list lives hangs).
        drop(committed);
        sum
    };
    drop(consumer);
    total
}
