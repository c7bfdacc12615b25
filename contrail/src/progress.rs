//! A progress line on stderr: done/total, rate and ETA, redrawn at most ten times a second (one line
//! every few seconds when stderr is not a terminal).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

pub struct Progress {
    label: &'static str,
    total: Option<u64>,
    done: u64,
    started: Instant,
    last_draw: Option<Instant>,
    tty: bool,
}

impl Progress {
    pub fn new(label: &'static str, total: Option<u64>) -> Self {
        Self { label, total, done: 0, started: Instant::now(), last_draw: None, tty: std::io::stderr().is_terminal() }
    }

    pub fn advance(&mut self, n: u64) {
        self.done += n;
        let every = if self.tty { Duration::from_millis(100) } else { Duration::from_secs(5) };
        if self.last_draw.is_none_or(|t| t.elapsed() >= every) {
            self.draw();
        }
    }

    /// Records per second so far.
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        self.draw();
        if self.tty {
            eprintln!();
        }
    }

    fn draw(&mut self) {
        self.last_draw = Some(Instant::now());
        let rate = self.rate();
        let line = match self.total {
            Some(total) if total > 0 => {
                let frac = (self.done as f64 / total as f64).min(1.0);
                let filled = (frac * 30.0).round() as usize;
                let eta = if rate > 0.0 { (total.saturating_sub(self.done)) as f64 / rate } else { 0.0 };
                format!(
                    "{} [{}{}] {:>3.0}% {}/{} {:.0} rec/s ETA {}",
                    self.label,
                    "#".repeat(filled),
                    ".".repeat(30 - filled),
                    frac * 100.0,
                    self.done,
                    total,
                    rate,
                    clock(eta)
                )
            }
            _ => format!(
                "{} {} records {:.0} rec/s {}",
                self.label,
                self.done,
                rate,
                clock(self.elapsed().as_secs_f64())
            ),
        };
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
}

/// Seconds as `m:ss` or `h:mm:ss`.
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(super::clock(5.4), "0:05");
        assert_eq!(super::clock(3725.0), "1:02:05");
    }
}
