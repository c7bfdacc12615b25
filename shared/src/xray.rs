//! X-Ray subsegments for what a function calls: the database, SQS, S3, the JWKS endpoint.
//!
//! Lambda writes the function's own segment; each call the code makes becomes an independent subsegment
//! under it, sent to the X-Ray daemon Lambda runs beside the function (`AWS_XRAY_DAEMON_ADDRESS`, its UDP
//! format: a JSON header line, then the document). The trace and the parent come from the invocation's
//! trace header (`_X_AMZN_TRACE_ID`, which the runtime sets before each invocation); an invocation that
//! is not sampled, or a process without a daemon address, sends nothing and pays one variable lookup per
//! call. The local stack runs a request inside [`collect`] instead, and prints what it gathered.
//!
//! A subsegment never carries a value, a token or a password: SQL subsegments name the store operation and
//! the database (URL without credentials, user, engine and version), AWS ones the operation and request id,
//! HTTP ones the method, the URL without its query and the status.

use std::future::Future;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The invocation's trace header: `Root=1-…;Parent=…;Sampled=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: String,
    pub sampled: bool,
}

impl TraceHeader {
    /// A new sampled trace with a new root and parent, as API Gateway or the event source mapping would
    /// start one (the local stack's traces).
    pub fn fresh() -> Self {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Self { root: format!("1-{epoch:08x}-{}{}", &new_id()[..8], new_id()), parent: new_id(), sampled: true }
    }

    /// Parses the header; `None` without a root or a parent (nothing to attach a subsegment to).
    pub fn parse(header: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) if !v.is_empty() => root = Some(v.to_owned()),
                Some(("Parent", v)) if !v.is_empty() => parent = Some(v.to_owned()),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        Some(Self { root: root?, parent: parent?, sampled })
    }
}

/// What a subsegment says about the call it times.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// A store operation: one statement, or one transaction of a batch write.
    Sql(SqlCall),
    /// An AWS API call: `service` (`SQS`, `S3`, `Glue`) and `operation` (`SendMessageBatch`).
    Aws { service: &'static str, operation: &'static str, request_id: Option<String> },
    /// An HTTP request to a third party (the JWKS endpoint): the URL without query or credentials.
    Http { method: &'static str, url: String, status: Option<u16> },
}

impl Call {
    /// An AWS call, with the request id of its answer or of its error when AWS gave one.
    pub fn aws<T: aws_types::request_id::RequestId, E: aws_types::request_id::RequestId>(
        service: &'static str,
        operation: &'static str,
        result: &Result<T, E>,
    ) -> Self {
        let request_id = match result {
            Ok(out) => out.request_id(),
            Err(e) => e.request_id(),
        };
        Self::Aws { service, operation, request_id: request_id.map(str::to_owned) }
    }
}

/// The `sql` block of a database subsegment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlCall {
    /// The store operation (`list_flights`, `write_snapshots`): the statement's name.
    pub statement: &'static str,
    /// `postgresql://host:port/database`, never with a password.
    pub url: String,
    /// `PostgreSQL` or `SQLite`.
    pub database_type: &'static str,
    pub database_version: Option<String>,
    pub user: Option<String>,
    /// The subsegment's name: `database@host`, as X-Ray names databases.
    pub name: String,
}

/// A subsegment as sent: the X-Ray document.
pub type Document = Value;

/// Where the subsegments of the current task go.
#[derive(Clone)]
enum Sink {
    Daemon,
    Collector(Arc<Mutex<Vec<Document>>>),
}

tokio::task_local! {
    static SCOPE: (TraceHeader, Sink);
}

/// Runs `fut` with its calls recorded under `header` and gathered in memory (the local stack's traces),
/// whatever the process environment says; returns them with the result, in the order they ended.
pub async fn collect<F: Future>(header: TraceHeader, fut: F) -> (F::Output, Vec<Document>) {
    let documents = Arc::new(Mutex::new(Vec::new()));
    let out = SCOPE.scope((header, Sink::Collector(documents.clone())), fut).await;
    let documents = std::mem::take(&mut *documents.lock().unwrap_or_else(PoisonError::into_inner));
    (out, documents)
}

/// The trace and sink calls of this task belong to, if it is traced and sampled.
fn current() -> Option<(TraceHeader, Sink)> {
    if let Ok(scope) = SCOPE.try_with(Clone::clone) {
        return scope.0.sampled.then_some(scope);
    }
    daemon()?;
    let header = TraceHeader::parse(&std::env::var("_X_AMZN_TRACE_ID").ok()?)?;
    header.sampled.then_some((header, Sink::Daemon))
}

/// The daemon's UDP address and a socket to it, resolved once per process.
fn daemon() -> Option<&'static (UdpSocket, String)> {
    static DAEMON: OnceLock<Option<(UdpSocket, String)>> = OnceLock::new();
    DAEMON
        .get_or_init(|| {
            let raw = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
            let address = udp_address(&raw)?;
            let socket = UdpSocket::bind(("0.0.0.0", 0)).ok()?;
            Some((socket, address))
        })
        .as_ref()
}

/// `host:port`, or the `udp:` part of `tcp:host:port udp:host:port`.
fn udp_address(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let address = raw.split_whitespace().find_map(|p| p.strip_prefix("udp:")).unwrap_or(raw);
    (!address.is_empty() && !address.contains(' ')).then(|| address.to_owned())
}

/// Times `fut` as a subsegment of the current invocation; `describe` says what was called (it sees the
/// result, for a request id or a status), and runs only for a sampled invocation. The result passes
/// through untouched; an error adds its message as the cause and marks the subsegment as a fault, except
/// an HTTP answer, which its status flags (4xx an error, 429 a throttle too, 5xx a fault).
pub async fn record<T, E, F>(describe: impl FnOnce(&Result<T, E>) -> Call, fut: F) -> Result<T, E>
where
    E: std::error::Error + 'static,
    F: Future<Output = Result<T, E>>,
{
    let Some((header, sink)) = current() else { return fut.await };
    let start = now();
    let result = fut.await;
    let end = now();
    let fault = result.as_ref().err().map(|e| crate::telemetry::ErrorChain(e).to_string());
    emit(&sink, document(&header, &describe(&result), start, end, fault.as_deref()));
    result
}

/// An HTTP call's URL as a subsegment shows it: no query, fragment or credentials.
pub fn without_query(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_password(None);
    let _ = url.set_username("");
    url.to_string()
}

/// Seconds since the epoch, as X-Ray's documents give times.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// A 64-bit subsegment id, 16 hex digits.
fn new_id() -> String {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Only an id: the time keeps it unique enough should the system's random source fail.
        bytes = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1).to_be_bytes();
    }
    crate::codec::encode_hex(bytes)
}

/// The subsegment document X-Ray expects.
pub fn document(header: &TraceHeader, call: &Call, start: f64, end: f64, fault: Option<&str>) -> Document {
    let mut doc = json!({
        "type": "subsegment",
        "id": new_id(),
        "trace_id": header.root,
        "parent_id": header.parent,
        "start_time": start,
        "end_time": end,
    });
    let fields = doc.as_object_mut().expect("an object");
    match call {
        Call::Sql(sql) => {
            fields.insert("name".into(), json!(sql.name));
            fields.insert("namespace".into(), json!("remote"));
            let mut block = json!({
                "url": sql.url,
                "database_type": sql.database_type,
                "sanitized_query": sql.statement,
            });
            if let Some(version) = &sql.database_version {
                block["database_version"] = json!(version);
            }
            if let Some(user) = &sql.user {
                block["user"] = json!(user);
            }
            fields.insert("sql".into(), block);
            fields.insert("annotations".into(), json!({ "statement": sql.statement }));
        }
        Call::Aws { service, operation, request_id } => {
            fields.insert("name".into(), json!(service));
            fields.insert("namespace".into(), json!("aws"));
            let mut block = json!({ "operation": operation });
            if let Some(id) = request_id {
                block["request_id"] = json!(id);
            }
            fields.insert("aws".into(), block);
        }
        Call::Http { method, url, status } => {
            let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
            fields.insert("name".into(), json!(host));
            fields.insert("namespace".into(), json!("remote"));
            let mut http = json!({ "request": { "method": method, "url": url } });
            if let Some(status) = status {
                http["response"] = json!({ "status": status });
                match status {
                    429 => {
                        fields.insert("throttle".into(), json!(true));
                        fields.insert("error".into(), json!(true));
                    }
                    400..=499 => {
                        fields.insert("error".into(), json!(true));
                    }
                    500.. => {
                        fields.insert("fault".into(), json!(true));
                    }
                    _ => {}
                }
            }
            fields.insert("http".into(), http);
        }
    }
    if let Some(message) = fault {
        // An HTTP answer was already flagged by its status (a 404 is an error, not a fault); a failure
        // without an answer (unreachable, timed out) is a fault.
        let answered = matches!(call, Call::Http { status: Some(_), .. });
        if !answered {
            fields.insert("fault".into(), json!(true));
        }
        fields.insert("cause".into(), json!({ "exceptions": [{ "id": new_id(), "message": message }] }));
    }
    doc
}

fn emit(sink: &Sink, doc: Document) {
    match sink {
        Sink::Collector(documents) => documents.lock().unwrap_or_else(PoisonError::into_inner).push(doc),
        Sink::Daemon => {
            let Some((socket, address)) = daemon() else { return };
            let datagram = format!("{{\"format\": \"json\", \"version\": 1}}\n{doc}");
            // Best effort, as the X-Ray SDKs do: a lost subsegment never fails the call it describes.
            if let Err(e) = socket.send_to(datagram.as_bytes(), address.as_str()) {
                tracing::debug!(error = %e, "X-Ray subsegment not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_header_is_read_as_lambda_writes_it() {
        let h = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0",
        )
        .expect("a header");
        assert_eq!(h.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(h.parent, "53995c3f42cd8ad8");
        assert!(h.sampled);
        assert!(
            !TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0")
                .unwrap()
                .sampled
        );
        assert_eq!(TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"), None, "no parent");
        assert_eq!(TraceHeader::parse(""), None);
        let fresh = TraceHeader::fresh();
        let parts: Vec<&str> = fresh.root.split('-').collect();
        assert_eq!((parts.len(), parts[0], parts[1].len(), parts[2].len()), (3, "1", 8, 24), "{}", fresh.root);
        assert_eq!(fresh.parent.len(), 16);
    }

    #[test]
    fn the_daemon_address_is_the_udp_one() {
        assert_eq!(udp_address("169.254.79.129:2000").as_deref(), Some("169.254.79.129:2000"));
        assert_eq!(udp_address("tcp:127.0.0.1:2000 udp:127.0.0.1:2001").as_deref(), Some("127.0.0.1:2001"));
        assert_eq!(udp_address(" "), None);
    }

    #[test]
    fn http_urls_lose_their_query_and_credentials() {
        let url = url::Url::parse("https://user:pw@idp.example/.well-known/jwks.json?x=secret#f").unwrap();
        assert_eq!(without_query(&url), "https://idp.example/.well-known/jwks.json");
    }

    #[test]
    fn http_answers_are_flagged_by_their_status_and_failures_without_one_as_faults() {
        let header = TraceHeader::fresh();
        let http = |status| Call::Http { method: "GET", url: "https://idp.example/jwks.json".into(), status };
        let flags =
            |doc: &Document| (doc.get("error").is_some(), doc.get("throttle").is_some(), doc.get("fault").is_some());
        assert_eq!(flags(&document(&header, &http(Some(200)), 1.0, 2.0, None)), (false, false, false));
        assert_eq!(flags(&document(&header, &http(Some(404)), 1.0, 2.0, Some("404"))), (true, false, false));
        assert_eq!(flags(&document(&header, &http(Some(429)), 1.0, 2.0, Some("429"))), (true, true, false));
        assert_eq!(flags(&document(&header, &http(Some(503)), 1.0, 2.0, Some("503"))), (false, false, true));
        let unreachable = document(&header, &http(None), 1.0, 2.0, Some("connection refused"));
        assert_eq!(flags(&unreachable), (false, false, true));
        assert_eq!(unreachable["cause"]["exceptions"][0]["message"], "connection refused");
    }

    #[test]
    fn ids_are_sixteen_hex_digits() {
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, new_id());
    }
}
