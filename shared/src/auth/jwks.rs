//! Public keys from a JWKS document: parsed once into verification keys, cached across invocations,
//! refreshed on an unknown key id at most once per interval.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::config::JWKS_ALGORITHMS;

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

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl KeySet {
    /// Parses a JWKS document. Keys this verifier cannot use (symmetric, encryption, unknown types,
    /// malformed) are skipped with a log line; a document without a single usable key is an error.
    pub fn parse(doc: &[u8]) -> Result<Self, String> {
        let raw: RawSet = serde_json::from_slice(doc).map_err(|e| format!("not a JWKS document: {e}"))?;
        let mut set = KeySet::default();
        for value in raw.keys {
            match serde_json::from_value::<RawKey>(value).map_err(|e| e.to_string()).and_then(|k| key_from_raw(&k)) {
                Ok(key) => {
                    if let Some(kid) = &key.kid {
                        set.by_kid.insert(kid.clone(), set.keys.len());
                    }
                    set.keys.push(key);
                }
                Err(why) => tracing::warn!(reason = %why, "skipping a JWKS key"),
            }
        }
        if set.keys.is_empty() {
            return Err("the JWKS document has no usable signing key".into());
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

fn key_from_raw(k: &RawKey) -> Result<Key, String> {
    if k.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(format!("key {:?} is not for signatures", k.kid));
    }
    let need = |v: &Option<String>, name: &str| v.clone().ok_or_else(|| format!("key {:?} lacks {name}", k.kid));
    let (family, decoding) = match (k.kty.as_str(), k.crv.as_deref()) {
        ("RSA", _) => (
            vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256],
            DecodingKey::from_rsa_components(&need(&k.n, "n")?, &need(&k.e, "e")?),
        ),
        ("EC", Some("P-256")) => {
            (vec![Algorithm::ES256], DecodingKey::from_ec_components(&need(&k.x, "x")?, &need(&k.y, "y")?))
        }
        ("EC", Some("P-384")) => {
            (vec![Algorithm::ES384], DecodingKey::from_ec_components(&need(&k.x, "x")?, &need(&k.y, "y")?))
        }
        ("OKP", Some("Ed25519")) => (vec![Algorithm::EdDSA], DecodingKey::from_ed_components(&need(&k.x, "x")?)),
        (kty, crv) => return Err(format!("key {:?} has unsupported type {kty:?} (curve {crv:?})", k.kid)),
    };
    let decoding = decoding.map_err(|e| format!("key {:?} is malformed: {e}", k.kid))?;
    let algorithms = match k.alg.as_deref() {
        None => family,
        Some(name) => {
            let alg = JWKS_ALGORITHMS
                .into_iter()
                .find(|a| super::config::algorithm_name(*a) == name)
                .filter(|a| family.contains(a))
                .ok_or_else(|| format!("key {:?} declares alg {name:?}, which does not fit its type", k.kid))?;
            vec![alg]
        }
    };
    Ok(Key { kid: k.kid.clone(), algorithms, decoding })
}

/// Why a fetch failed, for the logs.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(String);

struct Cache {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
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
    Url { url: url::Url, client: reqwest::Client },
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
    /// A store that fetches `url` with the given timeout (connect timeout half of it), no redirects.
    pub fn remote(
        url: url::Url,
        timeout: Duration,
        refresh_interval: Duration,
        retry_interval: Duration,
        max_age: Duration,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout / 2)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self::with_source(Source::Url { url, client }, None, refresh_interval, retry_interval, max_age))
    }

    /// A store over a fixed JWKS document.
    pub fn inline(doc: &str) -> Result<Self, String> {
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
        let Source::Url { url, client } = &self.source else {
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
        let result = fetch(client, url).await;
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
                tracing::warn!(error = %e, ?cause, cached = cache.keys.is_some(), "JWKS fetch failed");
                cache.last_error = Some(e.to_string());
            }
        }
        cache.keys.clone()
    }
}

/// A transport failure, saying which: the log line is the only way an operator learns why.
fn transport(url: &url::Url, e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError(format!("GET {url}: timed out"));
    }
    let mut message = format!("GET {url}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    FetchError(message)
}

async fn fetch(client: &reqwest::Client, url: &url::Url) -> Result<KeySet, FetchError> {
    let mut response =
        client.get(url.clone()).header("accept", "application/json").send().await.map_err(|e| transport(url, &e))?;
    if !response.status().is_success() {
        return Err(FetchError(format!("GET {url}: HTTP {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(url, &e))? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(FetchError(format!("GET {url}: document larger than {MAX_JWKS_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    KeySet::parse(&body).map_err(|e| FetchError(format!("GET {url}: {e}")))
}
