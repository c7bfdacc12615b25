//! Throwaway PostgreSQL for tests.
//!
//! [`fresh_database`] returns the URL of a new, empty database. The server comes from
//! `TEST_DATABASE_URL` (any reachable server whose user may create databases) or, failing that, from a
//! cluster this process starts once with the PostgreSQL binaries found on the machine (`PG_BIN`,
//! `/usr/lib/postgresql/<version>/bin`, `pg_config --bindir`, or `PATH`). A cluster this process
//! starts is stopped and deleted by a watchdog when the process exits.
//!
//! [`PgServer::start`] starts a dedicated cluster a test may stop and restart (the database going away
//! mid-batch).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{free_port, skip, unique_suffix};

/// The superuser the harness creates in its clusters.
pub const USER: &str = "contrail";
/// How many ports a new cluster tries before giving up.
const START_ATTEMPTS: u32 = 5;

/// A PostgreSQL cluster started by this process.
pub struct PgServer {
    bindir: PathBuf,
    datadir: PathBuf,
    /// Owner of the data directory (the `postgres` account when running as root).
    run_as: Option<String>,
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// A fresh empty database on the shared server, as a `postgres://` URL; `None` when no PostgreSQL can
/// be had here (already reported with [`skip`]; under `CI` this panics instead).
pub fn fresh_database() -> Option<String> {
    let base = shared_server_url()?;
    let name = format!("t_{}", unique_suffix());
    create_database(&base, &name).unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    Some(with_database(&base, &name))
}

/// The URL of the shared server's `postgres` database, starting the server on first use.
pub fn shared_server_url() -> Option<String> {
    static SHARED: OnceLock<Result<String, String>> = OnceLock::new();
    let result = SHARED.get_or_init(|| {
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            return Ok(url);
        }
        let server = PgServer::start()?;
        let url = server.url("postgres");
        // The shared server lives as long as the process; its watchdog cleans up after exit.
        std::mem::forget(server);
        Ok(url)
    });
    match result {
        Ok(url) => Some(url.clone()),
        Err(why) => {
            skip("PostgreSQL", why);
            None
        }
    }
}

/// Replaces the database name of a `postgres://` URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let after_scheme = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[after_scheme..].find('/') {
        Some(i) => &head[..after_scheme + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn create_database(base_url: &str, name: &str) -> Result<(), String> {
    let psql = find_bindir().map(|b| b.join("psql")).unwrap_or_else(|| PathBuf::from("psql"));
    let out = Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", base_url, "-c", &format!("CREATE DATABASE \"{name}\"")])
        .output()
        .map_err(|e| format!("running psql: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// Finds a directory holding `initdb`, `pg_ctl` and `psql`.
pub fn find_bindir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Ok(dir) = std::env::var("PG_BIN") {
        let d = PathBuf::from(dir);
        if has_tools(&d) {
            return Some(d);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, d)| has_tools(d))
        .collect();
    versions.sort();
    if let Some((_, d)) = versions.pop() {
        return Some(d);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_tools(&d) {
            return Some(d);
        }
    }
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find(|d| has_tools(d)))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl PgServer {
    /// Starts a new cluster on a free loopback port (about two seconds). Tuned for tests: no fsync.
    ///
    /// The port is free when chosen, but another process may bind it before the postmaster does; the
    /// postmaster then fails to start and the cluster is started again on a new port, a bounded number
    /// of times. Readiness is proved by asking the server on that port for its data directory.
    pub fn start() -> Result<Self, String> {
        let bindir = find_bindir().ok_or("no PostgreSQL binaries found (set PG_BIN or install postgresql)")?;
        let dir = tempfile::Builder::new().prefix("contrail-pg-").tempdir().map_err(|e| e.to_string())?;
        let datadir = dir.path().join("data");
        let run_as = if is_root() { Some("postgres".to_owned()) } else { None };
        if let Some(user) = &run_as {
            let ok = Command::new("chown").args(["-R", user]).arg(dir.path()).status().is_ok_and(|s| s.success());
            if !ok {
                return Err(format!("running as root but cannot hand the data directory to the {user} account"));
            }
        }
        let mut server = Self { bindir, datadir, run_as, port: 0, _dir: dir };
        let datadir = server.datadir.to_string_lossy().into_owned();
        server.run("initdb", &["-D", &datadir, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"])?;
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            server.port = free_port();
            match server.start_again() {
                Ok(()) => {
                    server.spawn_watchdog();
                    return Ok(server);
                }
                Err(why) => failures.push(format!("attempt {attempt} on port {}: {why}", server.port)),
            }
        }
        Err(format!("PostgreSQL did not start:\n{}", failures.join("\n")))
    }

    /// The URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server at once, as a crash or a failover would.
    pub fn stop(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", &self.datadir.to_string_lossy(), "-m", "immediate", "-w", "stop"])
    }

    /// Starts the (stopped) server again on the same port, and proves the server answering there is
    /// this cluster. Fails with the server's log when it does not come up (the port taken meanwhile).
    pub fn start_again(&self) -> Result<(), String> {
        let sock = self.datadir.parent().unwrap_or(&self.datadir).to_string_lossy().into_owned();
        let opts = format!(
            "-p {} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port
        );
        let datadir = self.datadir.to_string_lossy().into_owned();
        let log = self.log_path();
        let started =
            self.run("pg_ctl", &["-D", &datadir, "-l", &log.to_string_lossy(), "-o", &opts, "-w", "-t", "60", "start"]);
        if let Err(why) = started {
            return Err(format!("{why}\nserver log:\n{}", self.log_tail()));
        }
        // pg_ctl waited on this cluster's own socket directory; over TCP, ask whoever answers on the
        // port which data directory it serves.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.query("SHOW data_directory") {
                Ok(dir) if Path::new(&dir) == self.datadir => return Ok(()),
                Ok(dir) => {
                    let _ = self.stop();
                    return Err(format!("another cluster ({dir}) answers on port {}", self.port));
                }
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "PostgreSQL did not answer on port {} within 30 s: {last}\nserver log:\n{}",
            self.port,
            self.log_tail()
        ))
    }

    /// Runs one statement over TCP as the harness superuser and returns its first value.
    fn query(&self, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bindir.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    fn log_path(&self) -> PathBuf {
        self.datadir.parent().unwrap_or(&self.datadir).join("server.log")
    }

    /// The last lines of the server's log, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bindir.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).stdin(Stdio::null()).output().map_err(|e| format!("running {tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// A shell loop that outlives nothing: when this process exits, it stops the server and removes its files.
    fn spawn_watchdog(&self) {
        let pg_ctl = self.bindir.join("pg_ctl");
        let stop = match &self.run_as {
            Some(user) => {
                format!("runuser -u {user} -- {} -D {} -m immediate stop", pg_ctl.display(), self.datadir.display())
            }
            None => format!("{} -D {} -m immediate stop", pg_ctl.display(), self.datadir.display()),
        };
        let parent = self.datadir.parent().unwrap_or(&self.datadir).display().to_string();
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {parent}",
            pid = std::process::id()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
