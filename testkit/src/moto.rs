//! An S3- and SQS-compatible server for tests: moto's server mode (PyPI `moto[server]`) on loopback,
//! killed on drop. Found as `MOTO_SERVER` (a path), `.venv-test/bin/moto_server` in the workspace, or
//! `moto_server` on `PATH`.
//!
//! Race-free start: the child binds port 0, so the kernel hands it a port no other process holds, and
//! reports it on its output (`Running on http://127.0.0.1:<port>`); the server counts as ready only
//! when that child is still alive and answers an HTTP request on that port. A child that dies is
//! started again a bounded number of times, then reported with everything it printed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{skip, workspace_root};

/// How many children are started before giving up.
const ATTEMPTS: u32 = 3;
/// How long one child may take to report its port and answer.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running moto server; the AWS SDK talks to it through [`MotoServer::endpoint`] with dummy credentials.
pub struct MotoServer {
    child: Child,
    pub port: u16,
    exe: PathBuf,
    /// The child's stdout and stderr, read back when it misbehaves.
    log: tempfile::NamedTempFile,
}

impl MotoServer {
    /// Starts a server on a port of the kernel's choosing, or reports the skip (panicking under CI) and
    /// returns `None`. Panics with the child's output when no child comes up.
    pub fn start() -> Option<Self> {
        let Some(exe) = find() else {
            skip("moto_server (S3/SQS)", "install it with `pip install 'moto[server]'` or run the test script");
            return None;
        };
        Some(Self::start_with(&exe, 0).unwrap_or_else(|why| panic!("{why}")))
    }

    /// Starts a new, empty server on `port` (the port of a server killed before, so clients keep their
    /// endpoint). Fails with the child's output when the port is taken or the child dies.
    pub fn start_on(exe: &Path, port: u16) -> Result<Self, String> {
        Self::start_with(exe, port)
    }

    fn start_with(exe: &Path, port: u16) -> Result<Self, String> {
        let mut failures = Vec::new();
        for attempt in 1..=ATTEMPTS {
            match Self::spawn_once(exe, port) {
                Ok(server) => return Ok(server),
                Err(why) => failures.push(format!("attempt {attempt}: {why}")),
            }
        }
        Err(format!("moto_server ({}) did not come up:\n{}", exe.display(), failures.join("\n")))
    }

    fn spawn_once(exe: &Path, port: u16) -> Result<Self, String> {
        let log =
            tempfile::Builder::new().prefix("contrail-moto-").suffix(".log").tempfile().map_err(|e| e.to_string())?;
        let out = log.reopen().map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let mut server = Self { child, port, exe: exe.to_owned(), log };
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = server.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("exited ({status}) before it was ready; its output:\n{}", server.output()));
            }
            // The banner proves the child bound the port; the answer proves it serves; the second
            // liveness check proves the answer came from this child.
            if let Some(p) = reported_port(&server.output())
                && (port == 0 || p == port)
                && answers_http(p)
                && server.child.try_wait().map_err(|e| e.to_string())?.is_none()
            {
                server.port = p;
                return Ok(server);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not ready within {} s (asked for port {port}); its output:\n{}",
                    READY_WITHIN.as_secs(),
                    server.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port>`, for `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The executable this server runs, to start another one (see [`MotoServer::start_on`]).
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// Everything the child printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        std::fs::read(self.log.path()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// Whether the child is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the server at once (SIGKILL) and waits until it is gone, as a crashed endpoint would be:
    /// its state (queues, messages, buckets) is lost.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The port in werkzeug's `Running on http://127.0.0.1:<port>` line.
fn reported_port(output: &str) -> Option<u16> {
    const MARK: &str = "Running on http://127.0.0.1:";
    let at = output.find(MARK)? + MARK.len();
    let digits: String = output[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|p| *p != 0)
}

/// Whether an HTTP server answers `GET /moto-api/` on the port with a status line.
fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

fn find() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let venv = workspace_root().join(".venv-test/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("moto_server")).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reported_port_is_read_from_werkzeugs_banner() {
        let out =
            "WARNING: This is a development server.\n * Running on http://127.0.0.1:46637\nPress CTRL+C to quit\n";
        assert_eq!(reported_port(out), Some(46637));
        assert_eq!(reported_port(" * Running on http://127.0.0.1:"), None);
        assert_eq!(reported_port("nothing yet"), None);
    }
}
