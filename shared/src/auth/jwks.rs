//! Public keys from a JWKS document: parsed once into verification keys, cached across invocations,
//! refreshed on an unknown key id at most once per interval.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::config::JWKS_ALGORITHMS;
use crate::telemetry::ErrorChain;

/// Bigger JWKS documents are refused: a key set is a few kilobytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// One usable verification key.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    /// The algorithms this key may verify: from its type and curve, narrowed by its own `alg`.
    pub algorithms: Vec<Algorithm>,
    pub decoding: DecodingKey,
}

/// The keys of one JWKS document.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    by_kid: HashMap<String, usize>,
}

/// What a lookup found.
pub enum Lookup<'a> {
    Found(&'a Key),
    UnknownKid,
    /// The token carried no kid and no single key fits its algorithm.
    Ambiguous,
}

/// Why a JWKS document gives no key set.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("not a JWKS document")]
    NotJwks(#[source] serde_json::Error),
    #[error("the JWKS document has no usable signing key")]
    NoUsableKey,
}

/// Why one key of a document is skipped (the others still count).
#[derive(Debug, thiserror::Error)]
enum SkippedKey {
    #[error("not a JWK")]
    NotJwk(#[source] serde_json::Error),
    #[error("key {0:?} is not for signatures")]
    NotForSignatures(Option<String>),
    #[error("key {0:?} has a type or curve this verifier does not use")]
    Unsupported(Option<String>),
    #[error("key {kid:?} is malformed")]
    Malformed {
        kid: Option<String>,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    #[error("key {kid:?} declares alg {alg}, which does not fit its type")]
    AlgorithmMismatch { kid: Option<String>, alg: KeyAlgorithm },
}

/// The document's shape only: each key is read on its own.
#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document. Keys this verifier cannot use (symmetric, encryption, unknown types,
    /// malformed) are skipped with a log line; a document without a single usable key is an error.
    pub fn parse(doc: &[u8]) -> Result<Self, JwksError> {
        // Key by key, not as one `JwkSet`: one key of a type the library cannot read must not hide the rest.
        let raw: RawSet = serde_json::from_slice(doc).map_err(JwksError::NotJwks)?;
        let mut set = KeySet::default();
        for value in raw.keys {
            match serde_json::from_value::<Jwk>(value).map_err(SkippedKey::NotJwk).and_then(|k| usable_key(&k)) {
                Ok(key) => {
                    if let Some(kid) = &key.kid {
                        set.by_kid.insert(kid.clone(), set.keys.len());
                    }
                    set.keys.push(key);
                }
                Err(why) => tracing::warn!(reason = %ErrorChain(&why), "skipping a JWKS key"),
            }
        }
        if set.keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(&i) => Lookup::Found(&self.keys[i]),
                None => Lookup::UnknownKid,
            },
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.algorithms.contains(&alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Lookup::Found(key),
                    _ => Lookup::Ambiguous,
                }
            }
        }
    }
}

/// A key through `jsonwebtoken`'s own JWK reader. Our rule on top, which the library does not have:
/// a key verifies only the asymmetric algorithms of its type and curve, narrowed by its own `alg`.
fn usable_key(jwk: &Jwk) -> Result<Key, SkippedKey> {
    let kid = jwk.common.key_id.clone();
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return Err(SkippedKey::NotForSignatures(kid));
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256],
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => vec![Algorithm::ES256],
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => vec![Algorithm::ES384],
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
        _ => return Err(SkippedKey::Unsupported(kid)),
    };
    let decoding = DecodingKey::from_jwk(jwk).map_err(|source| SkippedKey::Malformed { kid: kid.clone(), source })?;
    let algorithms = match jwk.common.key_algorithm {
        None => family,
        Some(alg) => {
            let fits = Algorithm::try_from(alg).ok().filter(|a| family.contains(a) && JWKS_ALGORITHMS.contains(a));
            vec![fits.ok_or(SkippedKey::AlgorithmMismatch { kid: kid.clone(), alg })?]
        }
    };
    Ok(Key { kid, algorithms, decoding })
}

/// Why a fetch failed, saying which: the log line is the only way an operator learns why.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("GET {0}: timed out")]
    TimedOut(url::Url),
    /// No HTTP client: reqwest refused the settings (it did not recognise the rustls configuration, for one).
    #[error("GET {url}: cannot build the HTTP client")]
    Client {
        url: url::Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url}")]
    Transport {
        url: url::Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url}: HTTP {status}")]
    Status { url: url::Url, status: reqwest::StatusCode },
    #[error("GET {0}: document larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge(url::Url),
    #[error("GET {url}")]
    Document {
        url: url::Url,
        #[source]
        source: JwksError,
    },
}

struct Cache {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// The last failure as a log line: it outlives the fetch and is shown with later rejections.
    last_error: Option<String>,
}

/// The cached key set of one JWKS endpoint (or an inline document that never changes).
pub struct KeyStore {
    source: Source,
    cache: RwLock<Cache>,
    /// Serializes fetches so concurrent requests do not stampede the endpoint.
    fetching: tokio::sync::Mutex<()>,
    refresh_interval: Duration,
    retry_interval: Duration,
    max_age: Duration,
}

enum Source {
    /// The client is built on the first fetch (see [`http_client`]), with these TLS settings.
    Url {
        url: url::Url,
        timeout: Duration,
        tls: Box<rustls::ClientConfig>,
        client: tokio::sync::OnceCell<reqwest::Client>,
    },
    Inline,
}

/// Why a refresh is wanted; each has its own spacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshCause {
    /// Nothing cached yet (or every attempt so far failed).
    Empty,
    /// A token named a kid the cached set lacks.
    UnknownKid,
    /// The cached set is older than the maximum age.
    Stale,
}

impl KeyStore {
    /// A store that fetches `url` over `tls` (see [`super::trust`]) with the given timeout (connect timeout
    /// half of it), no redirects.
    pub fn remote(
        url: url::Url,
        tls: rustls::ClientConfig,
        timeout: Duration,
        refresh_interval: Duration,
        retry_interval: Duration,
        max_age: Duration,
    ) -> Self {
        let source = Source::Url { url, timeout, tls: Box::new(tls), client: tokio::sync::OnceCell::new() };
        Self::with_source(source, None, refresh_interval, retry_interval, max_age)
    }

    /// A store over a fixed JWKS document.
    pub fn inline(doc: &str) -> Result<Self, JwksError> {
        let set = KeySet::parse(doc.as_bytes())?;
        let forever = Duration::from_secs(u64::MAX / 4);
        Ok(Self::with_source(Source::Inline, Some(Arc::new(set)), forever, forever, forever))
    }

    fn with_source(
        source: Source,
        keys: Option<Arc<KeySet>>,
        refresh_interval: Duration,
        retry_interval: Duration,
        max_age: Duration,
    ) -> Self {
        let now = keys.as_ref().map(|_| Instant::now());
        Self {
            source,
            cache: RwLock::new(Cache { keys, fetched_at: now, last_attempt: now, last_error: None }),
            fetching: tokio::sync::Mutex::new(()),
            refresh_interval,
            retry_interval,
            max_age,
        }
    }

    /// The cached keys, if any (never blocks on the network).
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.cache.read().ok().and_then(|c| c.keys.clone())
    }

    /// Whether the cached set is past its maximum age.
    pub fn is_stale(&self) -> bool {
        self.cache.read().ok().and_then(|c| c.fetched_at).is_some_and(|t| t.elapsed() >= self.max_age)
    }

    /// The last fetch error, for the "no keys" log line.
    pub fn last_error(&self) -> Option<String> {
        self.cache.read().ok().and_then(|c| c.last_error.clone())
    }

    /// Fetches the document again unless an attempt happened within the spacing for `cause`. Returns the
    /// keys to use afterwards: new ones on success, the cached ones otherwise.
    pub async fn refresh(&self, cause: RefreshCause) -> Option<Arc<KeySet>> {
        let Source::Url { url, timeout, tls, client } = &self.source else {
            return self.current();
        };
        let _guard = self.fetching.lock().await;
        let spacing = match cause {
            RefreshCause::Empty if self.current().is_none() => self.retry_interval,
            RefreshCause::Empty => return self.current(),
            RefreshCause::UnknownKid | RefreshCause::Stale => self.refresh_interval,
        };
        let recent = self.cache.read().ok().and_then(|c| c.last_attempt).is_some_and(|t| t.elapsed() < spacing);
        if recent {
            return self.current();
        }
        let attempted = Instant::now();
        let result = match client.get_or_try_init(|| async { http_client(url, tls, *timeout) }).await {
            Ok(client) => fetch(client, url).await,
            Err(e) => Err(e),
        };
        let Ok(mut cache) = self.cache.write() else {
            return None;
        };
        cache.last_attempt = Some(attempted);
        match result {
            Ok(set) => {
                tracing::info!(keys = set.len(), ?cause, "JWKS loaded");
                cache.keys = Some(Arc::new(set));
                cache.fetched_at = Some(attempted);
                cache.last_error = None;
            }
            Err(e) => {
                let message = ErrorChain(&e).to_string();
                tracing::warn!(error = %message, ?cause, cached = cache.keys.is_some(), "JWKS fetch failed");
                cache.last_error = Some(message);
            }
        }
        cache.keys.clone()
    }
}

/// The client a store fetches with, built at the first fetch (the prefetch, while the runtime polls) rather
/// than at cold start. Its TLS settings come ready-made, so building it reads no file. A failed build is
/// retried at the next fetch.
fn http_client(url: &url::Url, tls: &rustls::ClientConfig, timeout: Duration) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls.clone())
        .timeout(timeout)
        .connect_timeout(timeout / 2)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|source| FetchError::Client { url: url.clone(), source })
}

fn transport(url: &url::Url, source: reqwest::Error) -> FetchError {
    if source.is_timeout() {
        return FetchError::TimedOut(url.clone());
    }
    FetchError::Transport { url: url.clone(), source }
}

/// One fetch of the document, an X-Ray subsegment with the answer's status.
async fn fetch(client: &reqwest::Client, url: &url::Url) -> Result<KeySet, FetchError> {
    let status = std::sync::atomic::AtomicU16::new(0);
    let describe = |_: &Result<KeySet, FetchError>| crate::xray::Call::Http {
        method: "GET",
        url: crate::xray::without_query(url),
        status: Some(status.load(std::sync::atomic::Ordering::Relaxed)).filter(|s| *s != 0),
    };
    crate::xray::record(describe, fetch_once(client, url, &status)).await
}

async fn fetch_once(
    client: &reqwest::Client,
    url: &url::Url,
    status: &std::sync::atomic::AtomicU16,
) -> Result<KeySet, FetchError> {
    let mut response =
        client.get(url.clone()).header("accept", "application/json").send().await.map_err(|e| transport(url, e))?;
    status.store(response.status().as_u16(), std::sync::atomic::Ordering::Relaxed);
    if !response.status().is_success() {
        return Err(FetchError::Status { url: url.clone(), status: response.status() });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(url, e))? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(FetchError::TooLarge(url.clone()));
        }
        body.extend_from_slice(&chunk);
    }
    KeySet::parse(&body).map_err(|source| FetchError::Document { url: url.clone(), source })
}
