//! Test support: real key pairs generated per run, tokens signed with them, and a JWKS endpoint served
//! over real HTTP on loopback, or HTTPS with the test-only CA of `tests/fixtures/tls`.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents as RsaPublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
    RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RSA_PSS_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contrail_shared::auth::{AuthConfig, KeySources, Secret};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://idp.test.contrail.dev/";
pub const AUDIENCE: &str = "contrail-api";
pub const METHOD_ARN: &str =
    "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/prod/GET/flights/LH400-2026-11-25-FRA";
pub const STAGE_GET_WILDCARD: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/prod/GET/*";
pub const SECRET: &[u8] = b"an-hs256-secret-that-is-long-enough-for-tests";

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Standard valid claims, to be tweaked per test.
pub fn claims(scope: &str) -> Value {
    let now = now();
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "scope": scope, "iat": now, "nbf": now,
            "exp": now + 300, "client_id": "app-client-7" })
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A freshly generated key pair of one type.
pub enum Material {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

pub struct TestKey {
    pub kid: String,
    pub material: Material,
}

impl TestKey {
    pub fn rsa(kid: &str) -> Self {
        Self { kid: kid.into(), material: Material::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap()) }
    }
    pub fn p256(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        Self { kid: kid.into(), material: Material::P256(pair) }
    }
    pub fn p384(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        Self { kid: kid.into(), material: Material::P384(pair) }
    }
    pub fn ed25519(kid: &str) -> Self {
        Self { kid: kid.into(), material: Material::Ed25519(Ed25519KeyPair::generate().unwrap()) }
    }

    /// The public JWK, without an `alg` member.
    pub fn jwk(&self) -> Value {
        match &self.material {
            Material::Rsa(pair) => {
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                json!({ "kty": "RSA", "kid": self.kid, "use": "sig", "n": b64(&c.n), "e": b64(&c.e) })
            }
            Material::P256(pair) | Material::P384(pair) => {
                let point = pair.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if half == 32 { "P-256" } else { "P-384" };
                json!({ "kty": "EC", "crv": crv, "kid": self.kid, "use": "sig",
                        "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..]) })
            }
            Material::Ed25519(pair) => {
                json!({ "kty": "OKP", "crv": "Ed25519", "kid": self.kid, "use": "sig", "x": b64(pair.public_key().as_ref()) })
            }
        }
    }

    /// The public JWK with its `alg` member set.
    pub fn jwk_with_alg(&self, alg: &str) -> Value {
        let mut jwk = self.jwk();
        jwk["alg"] = json!(alg);
        jwk
    }

    /// Signs `claims` with `alg` and this key's kid in the header.
    pub fn sign(&self, alg: &str, claims: &Value) -> String {
        self.sign_with_header(&json!({ "alg": alg, "typ": "JWT", "kid": self.kid }), claims)
    }

    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let alg = header["alg"].as_str().unwrap();
        let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let rng = SystemRandom::new();
        let signature = match (&self.material, alg) {
            (Material::Rsa(pair), _) => {
                let padding: &'static dyn aws_lc_rs::signature::RsaEncoding = match alg {
                    "RS256" => &RSA_PKCS1_SHA256,
                    "RS384" => &RSA_PKCS1_SHA384,
                    "RS512" => &RSA_PKCS1_SHA512,
                    "PS256" => &RSA_PSS_SHA256,
                    other => panic!("no RSA padding for {other}"),
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, message.as_bytes(), &mut sig).unwrap();
                sig
            }
            (Material::P256(pair) | Material::P384(pair), _) => {
                pair.sign(&rng, message.as_bytes()).unwrap().as_ref().to_vec()
            }
            (Material::Ed25519(pair), _) => pair.sign(message.as_bytes()).as_ref().to_vec(),
        };
        format!("{message}.{}", b64(&signature))
    }
}

/// Signs with HMAC-SHA256 over an arbitrary secret (for HS256 and key-confusion tokens).
pub fn sign_hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    format!("{message}.{}", b64(tag.as_ref()))
}

pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// A JWKS endpoint on 127.0.0.1 that counts fetches and can be rotated, broken or stopped.
pub struct JwksServer {
    pub url: String,
    document: Arc<Mutex<String>>,
    failing: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
    #[allow(dead_code, reason = "read by the jwks_tls test binary only")]
    handshakes_failed: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Where the test-only CA, the server's certificate and its key are (see `regenerate.sh` there).
pub fn tls_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// A loopback listener that completes a TLS handshake (rustls, the fixture certificate for 127.0.0.1) before
/// handing the connection to axum. A failed handshake (a client that refuses the certificate) is counted.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handshakes_failed: Arc<AtomicUsize>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            match tokio::time::timeout(PROMPT, self.acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(_)) | Err(_) => {
                    self.handshakes_failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(tls_fixture("server.pem")).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_fixture("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

impl JwksServer {
    /// Serves `document` over plain HTTP.
    pub async fn start(document: String) -> Self {
        Self::serve(document, false).await
    }

    /// Serves `document` over HTTPS at `https://127.0.0.1:port/`, with the fixture certificate.
    #[allow(dead_code, reason = "used by the jwks_tls test binary only")]
    pub async fn start_tls(document: String) -> Self {
        Self::serve(document, true).await
    }

    async fn serve(document: String, tls: bool) -> Self {
        let document = Arc::new(Mutex::new(document));
        let failing = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (d, f, n) = (document.clone(), failing.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (d, f, n) = (d.clone(), f.clone(), n.clone());
                async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    if f.load(Ordering::SeqCst) {
                        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::from("down"));
                    }
                    (axum::http::StatusCode::OK, d.lock().unwrap().clone())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let handshakes_failed = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        let task = if tls {
            let listener =
                TlsListener { tcp: listener, acceptor: tls_acceptor(), handshakes_failed: handshakes_failed.clone() };
            tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stopped).await.unwrap() })
        } else {
            tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stopped).await.unwrap() })
        };
        Self { url, document, failing, fetches, handshakes_failed, stop: Some(stop), task: Some(task) }
    }

    /// TLS handshakes that failed (the client refused the certificate, for one); always 0 over plain HTTP.
    #[allow(dead_code, reason = "used by the jwks_tls test binary only")]
    pub fn handshakes_failed(&self) -> usize {
        self.handshakes_failed.load(Ordering::SeqCst)
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn publish(&self, document: String) {
        *self.document.lock().unwrap() = document;
    }

    /// Answers 503 from now on.
    pub fn fail(&self) {
        self.failing.store(true, Ordering::SeqCst);
    }

    /// Closes the listening socket: connections are refused from now on.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

pub fn jwks_config(url: &str) -> AuthConfig {
    let keys = KeySources { jwks_url: Some(url.parse().unwrap()), jwks_inline: None, hs256_secret: None };
    AuthConfig::new(ISSUER, AUDIENCE, keys)
}

pub fn secret_config() -> AuthConfig {
    let keys = KeySources { jwks_url: None, jwks_inline: None, hs256_secret: Some(Secret::new(SECRET).unwrap()) };
    AuthConfig::new(ISSUER, AUDIENCE, keys)
}

/// How long to wait for something that must not hang.
pub const PROMPT: Duration = Duration::from_secs(5);
