//! Logging and metrics. Logs are `tracing` events (JSON in Lambda, readable text in a terminal);
//! metrics are CloudWatch Embedded Metric Format lines on stdout, which CloudWatch turns into metrics
//! without any API call from the function.

use std::io::Write as _;

use serde_json::{Map, Value, json};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::Env;

/// The CloudWatch namespace of every Contrail metric.
pub const METRICS_NAMESPACE: &str = "Contrail";

/// How logs are written, from the variables Lambda and a terminal set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The filter's directives: a level, and `target=level` pairs (see [`log_filter`]).
    pub level: Option<String>,
    /// The directives used when `level` is absent or unreadable.
    pub default: &'static str,
    /// JSON lines (Lambda's JSON log format) rather than text.
    pub json: bool,
    /// Coloured text, for a terminal (never in JSON).
    pub ansi: bool,
}

impl LogSettings {
    /// What [`LogSettings::from_vars`] reads.
    pub const VARIABLES: &[&str] =
        &["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_LOG_FORMAT"];

    /// Level from `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` (default `info`); JSON when
    /// `AWS_LAMBDA_LOG_FORMAT=JSON` or inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set); no colours, as
    /// CloudWatch would show their escape codes.
    pub fn from_vars(env: &Env) -> Self {
        let level = env.var("RUST_LOG").or_else(|| env.var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()));
        let in_lambda = env.var("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let json = env.var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) || in_lambda;
        Self { level, default: "info", json, ansi: false }
    }
}

/// Installs the global subscriber once per process, as [`LogSettings::from_vars`] says from the
/// process environment.
pub fn init_tracing() {
    // A second call (tests, the local stack hosting several handlers) keeps the first subscriber.
    let _ = subscriber(&LogSettings::from_vars(&Env::process()), std::io::stderr).try_init();
}

/// The subscriber [`init_tracing`] installs, writing to `writer`.
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = log_filter(settings.level.as_deref(), settings.default);
    // The formatter's own cap is INFO: lifted, so that the filter alone decides and DEBUG and TRACE get through.
    let builder = tracing_subscriber::fmt().with_max_level(LevelFilter::TRACE).with_writer(writer);
    if settings.json {
        let builder = builder.json().flatten_event(true).with_current_span(false).with_target(false).without_time();
        Box::new(builder.finish().with(filter))
    } else {
        Box::new(builder.with_ansi(settings.ansi).with_target(false).finish().with(filter))
    }
}

/// The log filter for `directives` (`RUST_LOG`'s simple form: `info`, `warn,sqlx=error`), or for `default`
/// when they are absent, empty or unreadable. Lambda's `fatal` is `error`; empty directives are skipped.
/// Targets and levels only: a span or field filter (`[span]=debug`) makes the directives unreadable, since
/// those filters would bring a regular-expression engine into every function.
pub fn log_filter(directives: Option<&str>, default: &str) -> Targets {
    let parse = |d: &str| {
        if d.contains('[') || d.contains('{') {
            return None;
        }
        let directives = d.split(',').map(str::trim).filter(|directive| !directive.is_empty());
        let directives = directives.map(|directive| match directive.rsplit_once('=') {
            Some((target, level)) if level.eq_ignore_ascii_case("fatal") => format!("{target}=error"),
            None if directive.eq_ignore_ascii_case("fatal") => "error".to_owned(),
            _ => directive.to_owned(),
        });
        let directives = directives.collect::<Vec<_>>();
        if directives.is_empty() {
            return None;
        }
        directives.join(",").parse::<Targets>().ok()
    };
    directives
        .and_then(parse)
        .or_else(|| parse(default))
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// An error and its causes on one line (`a: b: c`), for logs and Lambda's `errorMessage`: error types
/// keep their causes as `#[source]` and do not repeat them in their own message.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

static METRICS_ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns EMF lines off for the whole process: the local stack has no CloudWatch agent, and its stdout
/// carries command output (`contrail invoke` prints the handler's response there).
/// Tests and benchmarks that read stdout themselves switch them off the same way.
pub fn disable_metrics() {
    METRICS_ENABLED.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// Whether EMF lines are written; callers skip building a document nobody will see.
pub fn metrics_enabled() -> bool {
    METRICS_ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// A unit CloudWatch understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Percent,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Percent => "Percent",
        }
    }
}

/// What a function emits, as data: its `Function` dimension and every metric name it can write. Each
/// function crate exports one and holds its documents to it in a test; the template's dashboard and
/// alarms are held to the sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSet {
    pub function: &'static str,
    pub names: &'static [&'static str],
}

/// One EMF document: a set of metrics sharing dimensions, written as a single stdout line.
#[derive(Debug, Clone)]
pub struct Metrics {
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, Unit, f64)>,
    properties: Map<String, Value>,
}

impl Metrics {
    /// Starts a document with the `Function` dimension (and any more added with [`Metrics::dimension`]).
    pub fn new(function: &str) -> Self {
        Self {
            dimensions: vec![("Function".to_owned(), function.to_owned())],
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    /// Adds a dimension.
    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a metric value.
    pub fn metric(mut self, name: &str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name.to_owned(), unit, value));
        self
    }

    /// Adds a searchable property that is not a metric (a request id, say).
    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    /// The `Function` dimension's value.
    pub fn function(&self) -> &str {
        self.dimensions.first().map_or("", |(_, v)| v.as_str())
    }

    /// The metric names, in the order they were added.
    pub fn names(&self) -> Vec<&str> {
        self.metrics.iter().map(|(n, _, _)| n.as_str()).collect()
    }

    /// Renders the EMF JSON document at `timestamp_ms`.
    pub fn render(&self, timestamp_ms: i64) -> Value {
        let mut doc = self.properties.clone();
        for (k, v) in &self.dimensions {
            doc.insert(k.clone(), Value::String(v.clone()));
        }
        for (name, _, value) in &self.metrics {
            doc.insert(name.clone(), json!(value));
        }
        let dims: Vec<&str> = self.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let defs: Vec<Value> = self.metrics.iter().map(|(n, u, _)| json!({"Name": n, "Unit": u.as_str()})).collect();
        doc.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": METRICS_NAMESPACE, "Dimensions": [dims], "Metrics": defs}],
            }),
        );
        Value::Object(doc)
    }

    /// Writes the document as one line on stdout, where the Lambda agent picks EMF up.
    pub fn emit(&self) {
        if !metrics_enabled() {
            return;
        }
        let line = self.render(chrono::Utc::now().timestamp_millis()).to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the subscriber under test appends to.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    #[test]
    fn each_level_the_settings_ask_for_reaches_the_log_in_text_and_json() {
        for json in [false, true] {
            for (level, shown, hidden) in [("trace", "trace-line", ""), ("debug", "debug-line", "trace-line")] {
                let out = Captured::default();
                let writer = out.clone();
                let subscriber = subscriber(
                    &LogSettings { level: Some(level.to_owned()), default: "info", json, ansi: false },
                    move || writer.clone(),
                );
                tracing::subscriber::with_default(subscriber, || {
                    tracing::trace!("trace-line");
                    tracing::debug!("debug-line");
                });
                let text = out.text();
                assert!(text.contains(shown), "{level} (json {json}): {text:?}");
                assert!(hidden.is_empty() || !text.contains(hidden), "{level} (json {json}): {text:?}");
            }
        }
    }

    #[test]
    fn the_log_filter_reads_levels_and_targets_and_falls_back_to_the_default() {
        use tracing::Level;
        let filter = log_filter(Some("warn,sqlx=error"), "info");
        assert!(filter.would_enable("contrail_query", &Level::WARN));
        assert!(!filter.would_enable("contrail_query", &Level::INFO));
        assert!(!filter.would_enable("sqlx::query", &Level::WARN));
        assert!(filter.would_enable("sqlx::query", &Level::ERROR));
        let fatal = log_filter(Some("fatal"), "info");
        let named = log_filter(Some("warn,fatalism=debug,sqlx=FATAL"), "info");
        assert!(named.would_enable("fatalism", &Level::DEBUG), "a target's name is left alone");
        assert!(named.would_enable("sqlx", &Level::ERROR) && !named.would_enable("sqlx", &Level::WARN));
        assert!(
            fatal.would_enable("contrail_ingest", &Level::ERROR)
                && !fatal.would_enable("contrail_ingest", &Level::WARN)
        );
        let unreadable = log_filter(Some("contrail=verbose"), "debug");
        assert!(unreadable.would_enable("contrail_ingest", &Level::DEBUG));
        let empty = log_filter(Some("debug,"), "info");
        assert!(empty.would_enable("contrail_ingest", &Level::DEBUG), "an empty directive is skipped");
        let spans = log_filter(Some("[request]=trace"), "warn");
        assert!(spans.would_enable("contrail_ingest", &Level::WARN) && !spans.would_enable("x", &Level::INFO));
        let unset = log_filter(None, "info");
        assert!(
            unset.would_enable("contrail_ingest", &Level::INFO)
                && !unset.would_enable("contrail_ingest", &Level::DEBUG)
        );
    }

    #[test]
    fn an_error_chain_names_every_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(ErrorChain(&e).to_string(), "outer: inner");
    }

    #[test]
    fn emf_document_declares_every_metric_it_carries() {
        let doc = Metrics::new("ingest")
            .metric("records", Unit::Count, 3.0)
            .metric("batch_ms", Unit::Milliseconds, 12.5)
            .render(1);
        assert_eq!(doc["records"], 3.0);
        assert_eq!(doc["Function"], "ingest");
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Contrail");
        assert_eq!(cw["Dimensions"][0][0], "Function");
        assert_eq!(cw["Metrics"][1]["Name"], "batch_ms");
        assert_eq!(cw["Metrics"][1]["Unit"], "Milliseconds");
    }
}
