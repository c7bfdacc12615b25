//! The progress line of long commands on stderr: indicatif's bar on a terminal; where stderr is not
//! a terminal (a CI log, a pipe) indicatif draws nothing, so a plain line every few seconds instead.

use std::time::{Duration, Instant};

use indicatif::{FormattedDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often the plain line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    label: &'static str,
    bar: ProgressBar,
    last_plain: Option<Instant>,
}

impl Progress {
    /// A bar for `total` records, redrawn at most ten times a second.
    pub fn new(label: &'static str, total: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {pos}/{len} {rate} ETA {eta}")
            .expect("the template is a constant that parses")
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} rec/s", state.per_sec());
            })
            .progress_chars("#>.");
        bar.set_style(style);
        bar.set_prefix(label);
        Self { label, bar, last_plain: None }
    }

    pub fn advance(&mut self, n: u64) {
        self.bar.inc(n);
        if self.bar.is_hidden() && self.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            self.plain_line();
        }
    }

    /// Records per second over the whole run (indicatif's own rate is a recent average).
    pub fn rate(&self) -> f64 {
        self.bar.position() as f64 / self.elapsed().as_secs_f64().max(1e-9)
    }

    pub fn elapsed(&self) -> Duration {
        self.bar.elapsed()
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        if self.bar.is_hidden() {
            self.plain_line();
        } else {
            self.bar.finish();
            // indicatif leaves the cursor at the end of the bar; the summary goes on a line of its own.
            eprintln!();
        }
    }

    fn plain_line(&mut self) {
        self.last_plain = Some(Instant::now());
        let (done, total) = (self.bar.position(), self.bar.length().unwrap_or(0));
        eprintln!(
            "{} {done}/{total} records {:.0} rec/s elapsed {}",
            self.label,
            self.rate(),
            FormattedDuration(self.elapsed())
        );
    }
}
