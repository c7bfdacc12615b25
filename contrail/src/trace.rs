//! `contrail up --trace`: the local X-Ray. Each request and each batch runs under a trace of its own, and
//! the subsegments its handler recorded (database calls, AWS calls, JWKS fetches) are printed on stdout as
//! one indented block when it ends, with their offsets from its start and their durations.

use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;

use contrail_shared::xray::{self, Document, TraceHeader};

/// Runs `fut`; when `on`, under a fresh trace whose block is printed at the end. `what` names the request
/// or batch, `outcome` says how it ended (a status, counts).
pub async fn run<F: Future>(on: bool, what: String, outcome: impl FnOnce(&F::Output) -> String, fut: F) -> F::Output {
    if !on {
        return fut.await;
    }
    let header = TraceHeader::fresh();
    let start = xray::now();
    let root = header.root.clone();
    let (out, docs) = xray::collect(header, fut).await;
    let block = render(&root, &what, &outcome(&out), start, xray::now(), &docs);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(block.as_bytes());
    let _ = stdout.flush();
    out
}

/// The block: a line for the request or batch, then one per subsegment.
pub fn render(root: &str, what: &str, outcome: &str, start: f64, end: f64, docs: &[Document]) -> String {
    let ms = |s: f64| s * 1000.0;
    let mut out = format!("trace {root}  {what} -> {outcome}  {:.1} ms\n", ms(end - start));
    for doc in docs {
        let (s, e) = (doc["start_time"].as_f64().unwrap_or(start), doc["end_time"].as_f64().unwrap_or(start));
        let name = doc["name"].as_str().unwrap_or("?");
        let detail = if let Some(statement) = doc["sql"]["sanitized_query"].as_str() {
            statement.to_owned()
        } else if let Some(operation) = doc["aws"]["operation"].as_str() {
            operation.to_owned()
        } else if let Some(method) = doc["http"]["request"]["method"].as_str() {
            let status =
                doc["http"]["response"]["status"].as_u64().map(|s| s.to_string()).unwrap_or_else(|| "-".into());
            format!("{method} {} {status}", doc["http"]["request"]["url"].as_str().unwrap_or(""))
        } else {
            String::new()
        };
        let _ = write!(out, "  +{:>7.1} ms {:>7.1} ms  {name}  {detail}", ms(s - start), ms(e - s));
        if doc["fault"] == true {
            let cause = doc["cause"]["exceptions"][0]["message"].as_str().unwrap_or("");
            let _ = write!(out, "  FAULT {cause}");
        } else if doc["error"] == true {
            out.push_str("  ERROR");
        }
        out.push('\n');
    }
    out
}
