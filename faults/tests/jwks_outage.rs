//! Fault case 3: the JWKS endpoint down (connection refused), hanging longer than `JWKS_TIMEOUT_MS`, and
//! serving garbage, under the real authorizer handler and a real HTTP server on loopback.
//!
//! The contract: when the keys cannot be had, the invocation fails with an error whose message is not
//! `Unauthorized` (API Gateway answers 500, the client keeps its token and retries), the reason is
//! logged, and the call returns within the fetch timeout; a token that is really bad is still a 401.
//! Once the endpoint is back, the same warm state accepts valid tokens again without a restart.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use contrail_authorizer::{AuthorizerError, State, handle};
use contrail_shared::auth::{AuthConfig, Es256Key, KeySources, MintRequest, SigningKey, mint};
use lambda_runtime::{Context, LambdaEvent};
use tracing_subscriber::util::SubscriberInitExt as _;

const ISSUER: &str = "https://idp.faults.contrail.test/";
const AUDIENCE: &str = "contrail-api";
const METHOD_ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/prod/GET/flights";
const JWKS_PATH: &str = "/.well-known/jwks.json";
/// `JWKS_TIMEOUT_MS` for these cases: a hang must cost at most this, plus scheduling.
const JWKS_TIMEOUT: Duration = Duration::from_millis(400);
/// How long the hanging endpoint keeps a request waiting: far past the timeout.
const HANG: Duration = Duration::from_secs(30);
/// Bound on any one authorizer call in this file.
const PROMPT: Duration = Duration::from_secs(3);

/// What the endpoint does with a request.
#[derive(Clone)]
enum Behaviour {
    Serve(String),
    Hang,
    /// `200 OK` with this body.
    Garbage(&'static str),
}

/// A JWKS endpoint on a fixed loopback port that can change behaviour, stop listening, and come back.
struct Endpoint {
    addr: SocketAddr,
    behaviour: Arc<Mutex<Behaviour>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// While stopped: the port held bound but not listening, so connections are refused and no other
    /// process can take the port before [`Endpoint::restart`] listens on this same socket.
    held: Option<tokio::net::TcpSocket>,
}

impl Endpoint {
    async fn start(behaviour: Behaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let mut endpoint =
            Self { addr, behaviour: Arc::new(Mutex::new(behaviour)), stop: None, task: None, held: None };
        endpoint.serve(listener);
        endpoint
    }

    fn url(&self) -> String {
        format!("http://{}{JWKS_PATH}", self.addr)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let behaviour = self.behaviour.clone();
        let app = axum::Router::new().route(
            JWKS_PATH,
            axum::routing::get(move || {
                let behaviour = behaviour.lock().expect("behaviour lock").clone();
                async move {
                    match behaviour {
                        Behaviour::Serve(doc) => doc,
                        Behaviour::Hang => {
                            tokio::time::sleep(HANG).await;
                            String::new()
                        }
                        Behaviour::Garbage(body) => body.to_owned(),
                    }
                }
            }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        }));
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("behaviour lock") = behaviour;
    }

    /// Closes the listening socket: connections are refused from now on.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.addr).expect("hold the endpoint's port");
        self.held = Some(socket);
        let refused = tokio::net::TcpStream::connect(self.addr).await;
        assert!(refused.is_err(), "the endpoint still accepts connections after stopping");
    }

    /// Listens again on the same port, on the socket that held it.
    async fn restart(&mut self) {
        let socket = self.held.take().expect("restart follows stop");
        let listener = socket.listen(1024).expect("listen on the endpoint's port");
        self.serve(listener);
    }
}

/// A signing key and the JWKS that publishes it.
struct Signer {
    key: Es256Key,
    kid: String,
}

impl Signer {
    fn new(kid: &str) -> Self {
        Self { key: Es256Key::generate().expect("a P-256 key"), kid: kid.to_owned() }
    }

    fn jwks(&self) -> String {
        self.key.jwks(&self.kid).expect("the JWKS of a fresh key")
    }

    fn token(&self, ttl: Duration) -> String {
        let request = MintRequest {
            sub: "user-42".into(),
            scope: "flights:read".into(),
            ttl,
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            kid: Some(self.kid.clone()),
            client_id: Some("app-client-7".into()),
        };
        mint(&SigningKey::Es256(self.key.clone()), &request).expect("mint")
    }

    fn valid(&self) -> String {
        self.token(Duration::from_secs(300))
    }
}

/// A cold start against `url`: the state the Lambda builds once, its JWKS loaded during init.
async fn cold_start(url: &str) -> State {
    let keys = KeySources { jwks_url: Some(url.parse().expect("URL")), jwks_inline: None, hs256_secret: None };
    let mut config = AuthConfig::new(ISSUER, AUDIENCE, keys);
    config.jwks_timeout = JWKS_TIMEOUT;
    // Exact expiry, so a token minted with no lifetime is expired (a bad token, judged with cached keys).
    config.leeway = Duration::ZERO;
    // No spacing between fetches: every call that needs the endpoint asks it, so no case waits for a
    // rate-limit window (the spacing itself is tested with the authorizer).
    config.jwks_retry_interval = Duration::ZERO;
    config.jwks_refresh_interval = Duration::ZERO;
    let state = State::new(config).expect("valid configuration");
    state.verifier().prefetch().await;
    state
}

/// One invocation of the real handler; `Ok` is a policy (Allow or Deny).
async fn invoke(state: &State, token: &str) -> Result<bool, AuthorizerError> {
    let mut request = ApiGatewayCustomAuthorizerRequest::default();
    request.type_ = Some("TOKEN".into());
    request.authorization_token = Some(format!("Bearer {token}"));
    request.method_arn = Some(METHOD_ARN.into());
    let started = Instant::now();
    let answer = handle(state, LambdaEvent::new(request, Context::default())).await;
    assert!(started.elapsed() < PROMPT, "an authorizer call took {:?}", started.elapsed());
    answer.map(|response| {
        let statements = serde_json::to_value(&response.policy_document).expect("policy JSON")["Statement"].clone();
        statements.as_array().into_iter().flatten().any(|s| s["Effect"] == "Allow")
    })
}

/// The invocation failed the way API Gateway turns into a 500: not the exact message `Unauthorized`.
fn assert_fails_the_invocation(answer: Result<bool, AuthorizerError>, case: &str) {
    let err = answer.expect_err(case);
    assert_eq!(err, AuthorizerError::KeysUnavailable, "{case}");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_ne!(diagnostic.error_message, "Unauthorized", "{case}: a 401 would make the client drop a valid token");
}

fn assert_unauthorized(answer: Result<bool, AuthorizerError>, case: &str) {
    let err = answer.expect_err(case);
    assert_eq!(err, AuthorizerError::Unauthorized, "{case}");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_message, "Unauthorized", "{case}");
}

/// Log lines written while the guard lives.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Self, tracing::dispatcher::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let guard =
            tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish().set_default();
        (logs, guard)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

#[tokio::test]
async fn a_stopped_jwks_endpoint_fails_the_invocation_and_a_bad_token_is_still_unauthorized() {
    let (logs, _guard) = Logs::capture();
    let signer = Signer::new("key-1");
    let mut endpoint = Endpoint::start(Behaviour::Serve(signer.jwks())).await;
    let warm = cold_start(&endpoint.url()).await;
    assert_eq!(invoke(&warm, &signer.valid()).await, Ok(true), "baseline: the endpoint serves the key");

    endpoint.stop().await;
    let cold = cold_start(&endpoint.url()).await;
    assert_fails_the_invocation(invoke(&cold, &signer.valid()).await, "no keys cached, endpoint refused");
    let text = logs.text();
    assert!(text.contains("cannot verify tokens") && text.contains(&endpoint.addr.to_string()), "{text}");

    // The warm instance still has the key: valid tokens pass, bad ones are judged as before.
    assert_eq!(invoke(&warm, &signer.valid()).await, Ok(true), "cached keys outlive the outage");
    assert_unauthorized(invoke(&warm, &signer.token(Duration::ZERO)).await, "expired");
    let impostor = Signer { key: Es256Key::generate().expect("key"), kid: signer.kid.clone() };
    assert_unauthorized(invoke(&warm, &impostor.valid()).await, "known kid, wrong signature");
    // A kid the cache lacks may be a rotated-in key: the outage is reported, not the token refused.
    let rotated = Signer::new("key-2");
    assert_fails_the_invocation(invoke(&warm, &rotated.valid()).await, "unknown kid, refresh refused");

    // Back up: both instances recover without a restart; an unknown kid after a good refresh is a 401.
    endpoint.restart().await;
    assert_eq!(invoke(&cold, &signer.valid()).await, Ok(true), "the cold instance recovers on its next call");
    assert_unauthorized(invoke(&warm, &rotated.valid()).await, "unknown kid after a successful refresh");
    assert_unauthorized(invoke(&cold, &impostor.valid()).await, "wrong signature after recovery");
}

#[tokio::test]
async fn a_jwks_endpoint_that_hangs_past_its_timeout_fails_the_invocation_within_the_timeout() {
    let (logs, _guard) = Logs::capture();
    let signer = Signer::new("key-1");
    let endpoint = Endpoint::start(Behaviour::Hang).await;
    let started = Instant::now();
    let state = cold_start(&endpoint.url()).await;
    assert!(started.elapsed() < JWKS_TIMEOUT + Duration::from_millis(600), "init waited {:?}", started.elapsed());

    let started = Instant::now();
    assert_fails_the_invocation(invoke(&state, &signer.valid()).await, "hanging endpoint");
    let took = started.elapsed();
    assert!(took >= JWKS_TIMEOUT, "the call did fetch (and wait for) the endpoint: {took:?}");
    assert!(took < JWKS_TIMEOUT + Duration::from_millis(600), "the timeout bounds the call: {took:?}");
    let text = logs.text();
    assert!(text.contains("cannot verify tokens") && text.contains("timed out"), "{text}");

    endpoint.set(Behaviour::Serve(signer.jwks()));
    assert_eq!(invoke(&state, &signer.valid()).await, Ok(true), "recovers once the endpoint answers");
}

#[tokio::test]
async fn a_jwks_endpoint_serving_garbage_fails_the_invocation() {
    let (logs, _guard) = Logs::capture();
    let signer = Signer::new("key-1");
    let endpoint = Endpoint::start(Behaviour::Garbage("<html>maintenance</html>")).await;
    let state = cold_start(&endpoint.url()).await;
    assert_fails_the_invocation(invoke(&state, &signer.valid()).await, "HTML instead of JSON");
    assert!(logs.text().contains("not a JWKS document"), "{}", logs.text());

    for garbage in ["{\"keys\": [", "{\"keys\": []}", "{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}]}"] {
        endpoint.set(Behaviour::Garbage(garbage));
        assert_fails_the_invocation(invoke(&state, &signer.valid()).await, garbage);
    }
    assert_unauthorized(invoke(&state, "not-a-jwt").await, "a malformed token is judged without keys");

    endpoint.set(Behaviour::Serve(signer.jwks()));
    assert_eq!(invoke(&state, &signer.valid()).await, Ok(true), "recovers once the endpoint serves keys");
}
