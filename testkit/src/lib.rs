//! Test harness for Contrail's suites: real components, started on demand, torn down with the process.
//!
//! - [`postgres`]: a throwaway PostgreSQL cluster from the binaries on the machine (or `TEST_DATABASE_URL`),
//!   and a fresh database per test.
//! - [`moto`]: an S3/SQS-compatible server (moto's server mode) on a port of the kernel's choosing.
//! - [`flight`]: flight-event/v1 values.
//! - [`store`]: migrated, empty stores of either engine.
//! - [`skip`]: when a component cannot be had, say so loudly; under `CI` fail instead.
//! - [`ClosedPort`]: a port nobody answers on, for outage tests.

pub mod flight;
pub mod moto;
pub mod postgres;
pub mod store;

use std::net::TcpListener;
use std::path::PathBuf;

/// True when running under CI (`CI` set to anything but `false`/`0`): nothing may be skipped there.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Reports a test that cannot run here. Outside CI it prints a banner and returns (the caller returns
/// early); under CI it panics, so a missing component fails the run instead of passing silently.
pub fn skip(component: &str, why: &str) {
    let msg = format!("SKIPPED: {component} unavailable: {why}");
    if ci() {
        panic!("{msg} (CI is set, so nothing may skip)");
    }
    eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! {msg}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
}

/// A TCP port that was free a moment ago on 127.0.0.1. Another process may take it before the caller
/// binds it: a server started on it must prove it is the one listening (see [`moto`], [`postgres`]),
/// and a test that needs a port nobody answers on takes a [`ClosedPort`] instead.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// A loopback port held bound but never listening, for "the server is down" tests: a connection to
/// it is refused at once, and no other process can start listening on it while the value lives.
pub struct ClosedPort {
    _socket: tokio::net::TcpSocket,
    pub port: u16,
}

impl ClosedPort {
    /// Binds a new socket on `127.0.0.1:0` without listening. Panics when the machine has no loopback.
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket.bind(([127, 0, 0, 1], 0).into()).expect("binding a loopback port");
        let port = socket.local_addr().expect("the bound address").port();
        Self { _socket: socket, port }
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// The workspace root (where `Cargo.toml`, `events/` and `api/` live).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Reads a file under `events/`, panicking with the path when it is missing (a test fixture bug).
pub fn event_file(name: &str) -> String {
    let path = workspace_root().join("events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A short random suffix for names (databases, queues, buckets).
pub fn unique_suffix() -> String {
    use rand::Rng as _;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}
