//! Logging and metrics. Logs are `tracing` events (JSON in Lambda, readable text in a terminal);
//! metrics are CloudWatch Embedded Metric Format lines on stdout, which CloudWatch turns into metrics
//! without any API call from the function.

use std::io::Write as _;

use serde_json::{Map, Value, json};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::Env;

/// The CloudWatch namespace of every Contrail metric.
pub const METRICS_NAMESPACE: &str = "Contrail";

/// How logs are written, from the variables Lambda and a terminal set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The filter's directives: a level, and `target=level` pairs (see [`log_filter`]).
    pub level: String,
    /// JSON lines (Lambda's JSON log format) rather than text.
    pub json: bool,
}

impl LogSettings {
    /// What [`LogSettings::from_vars`] reads.
    pub const VARIABLES: &[&str] =
        &["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_LOG_FORMAT"];

    /// Level from `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` (default `info`); JSON when
    /// `AWS_LAMBDA_LOG_FORMAT=JSON` or inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set).
    pub fn from_vars(env: &Env) -> Self {
        let level = env
            .var("RUST_LOG")
            .or_else(|| env.var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()))
            .unwrap_or_else(|| "info".to_owned());
        let in_lambda = env.var("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let json = env.var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) || in_lambda;
        Self { level, json }
    }
}

/// Installs the global subscriber once per process, as [`LogSettings::from_vars`] says from the
/// process environment.
pub fn init_tracing() {
    let LogSettings { level, json } = LogSettings::from_vars(&Env::process());
    let filter = log_filter(Some(&level), "info");
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr);
    // try_init: a second call (tests, the local stack hosting several handlers) keeps the first subscriber.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_target(false)
            .without_time()
            .finish()
            .with(filter)
            .try_init()
    } else {
        builder.with_target(false).finish().with(filter).try_init()
    };
}

/// The log filter for `directives` (`RUST_LOG`'s simple form: `info`, `warn,sqlx=error`), or for `default`
/// when they are absent or unreadable. Lambda's `fatal` is `error`. Targets and levels only, no span or
/// field filters: they would bring a regular-expression engine into every function.
pub fn log_filter(directives: Option<&str>, default: &str) -> Targets {
    let parse = |d: &str| d.replace("fatal", "error").parse::<Targets>().ok();
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

    #[test]
    fn the_log_filter_reads_levels_and_targets_and_falls_back_to_the_default() {
        use tracing::Level;
        let filter = log_filter(Some("warn,sqlx=error"), "info");
        assert!(filter.would_enable("contrail_query", &Level::WARN));
        assert!(!filter.would_enable("contrail_query", &Level::INFO));
        assert!(!filter.would_enable("sqlx::query", &Level::WARN));
        assert!(filter.would_enable("sqlx::query", &Level::ERROR));
        let fatal = log_filter(Some("fatal"), "info");
        assert!(
            fatal.would_enable("contrail_ingest", &Level::ERROR)
                && !fatal.would_enable("contrail_ingest", &Level::WARN)
        );
        let unreadable = log_filter(Some("contrail=verbose"), "debug");
        assert!(unreadable.would_enable("contrail_ingest", &Level::DEBUG));
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
