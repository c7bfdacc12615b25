//! Bearer token verification: size, header, key choice, signature, then claims. The algorithm is
//! checked against configuration and the key before any signature work; the token never picks it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::config::{AuthConfig, MAX_TOKEN_BYTES, parse_algorithm};
use super::error::Rejection;
use super::jwks::{KeyStore, Lookup, RefreshCause};
use crate::config::ConfigError;
use crate::telemetry::ErrorChain;

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    /// `sub`, or the client id for tokens that carry none.
    pub sub: String,
    pub scopes: Vec<String>,
    /// `client_id`, else `azp`; empty when the token has neither.
    pub client_id: String,
}

/// Verifies tokens under one configuration. Built once per cold start; the JWKS cache lives inside.
pub struct Verifier {
    config: AuthConfig,
    secret: Option<DecodingKey>,
    store: Option<KeyStore>,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    iat: Option<serde_json::Value>,
    iss: Option<serde_json::Value>,
    aud: Option<serde_json::Value>,
    sub: Option<serde_json::Value>,
    scope: Option<serde_json::Value>,
    scp: Option<serde_json::Value>,
    client_id: Option<serde_json::Value>,
    azp: Option<serde_json::Value>,
    #[serde(rename = "cognito:groups")]
    cognito_groups: Option<serde_json::Value>,
}

impl Verifier {
    /// Builds the verifier; no network access happens here (see [`Verifier::prefetch`]).
    pub fn new(config: AuthConfig) -> Result<Self, crate::config::ConfigError> {
        config.validate()?;
        let secret = config.keys.hs256_secret.as_ref().map(|s| DecodingKey::from_secret(s.expose()));
        let store = match (&config.keys.jwks_inline, &config.keys.jwks_url) {
            (Some(doc), _) => {
                Some(KeyStore::inline(doc).map_err(|e| ConfigError::new("JWKS", ErrorChain(&e).to_string()))?)
            }
            (None, Some(url)) => Some(KeyStore::remote(
                url.clone(),
                super::trust::client_config(config.jwks_ca_bundle.as_deref())
                    .map_err(|e| ConfigError::new("JWKS_CA_BUNDLE", ErrorChain(&e).to_string()))?,
                config.jwks_timeout,
                config.jwks_refresh_interval,
                config.jwks_retry_interval,
                config.jwks_max_age,
            )),
            (None, None) => None,
        };
        Ok(Self { config, secret, store })
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Loads the JWKS now (at cold start, outside any request); failures are logged and retried later.
    pub async fn prefetch(&self) {
        if let Some(store) = &self.store {
            store.refresh(RefreshCause::Empty).await;
        }
    }

    /// Verifies a bearer token at the current time.
    pub async fn verify(&self, token: &str) -> Result<VerifiedClaims, Rejection> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs() as i64;
        self.verify_at(token, now).await
    }

    /// Verifies a bearer token as of `now` (seconds since the epoch).
    pub async fn verify_at(&self, token: &str, now: i64) -> Result<VerifiedClaims, Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::Oversize(token.len()));
        }
        let (header_b64, payload_b64, signature_b64) = split(token)?;
        let header: Header = decode_json(header_b64, "header")?;
        if header.crit.is_some() {
            return Err(Rejection::Malformed("header has crit extensions"));
        }
        let alg_name = header.alg.ok_or(Rejection::Malformed("header has no alg"))?;
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(Rejection::AlgNone);
        }
        let alg = parse_algorithm(&alg_name).ok_or(Rejection::Malformed("unsupported alg"))?;
        if !self.config.accepts(alg) {
            return Err(Rejection::AlgorithmNotAllowed(alg));
        }
        let message = &token[..header_b64.len() + 1 + payload_b64.len()];
        if alg == Algorithm::HS256 {
            let key = self.secret.as_ref().ok_or(Rejection::AlgorithmNotAllowed(alg))?;
            check_signature(signature_b64, message, key, alg)?;
        } else {
            self.check_with_jwks(header.kid.as_deref(), alg, signature_b64, message).await?;
        }
        let claims: Claims = decode_json(payload_b64, "payload")?;
        self.check_claims(claims, now)
    }

    async fn check_with_jwks(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        signature: &str,
        message: &str,
    ) -> Result<(), Rejection> {
        let store = self.store.as_ref().ok_or(Rejection::AlgorithmNotAllowed(alg))?;
        let mut keys = match store.current() {
            Some(keys) => keys,
            None => store.refresh(RefreshCause::Empty).await.ok_or_else(|| {
                Rejection::KeysUnavailable(store.last_error().unwrap_or_else(|| "not fetched yet".into()))
            })?,
        };
        if store.is_stale() {
            keys = store.refresh(RefreshCause::Stale).await.unwrap_or(keys);
        }
        if matches!(keys.lookup(kid, alg), Lookup::UnknownKid) {
            keys = store.refresh(RefreshCause::UnknownKid).await.unwrap_or(keys);
        }
        let key = match keys.lookup(kid, alg) {
            Lookup::Found(key) => key,
            Lookup::UnknownKid => {
                let kid: String = kid.unwrap_or_default().chars().take(64).collect();
                // Unknown to a key set that cannot be refreshed: maybe a rotated-in key, so not the token's
                // fault. Only a kid missing from a set the endpoint last served successfully is refused.
                if let Some(cause) = store.last_error() {
                    return Err(Rejection::KeysUnavailable(format!(
                        "token names key id {kid:?}, not in the cached key set, and the JWKS cannot be refreshed: {cause}"
                    )));
                }
                return Err(Rejection::UnknownKid(kid));
            }
            Lookup::Ambiguous => return Err(Rejection::NoKeyForToken),
        };
        if !key.algorithms.contains(&alg) {
            return Err(Rejection::AlgorithmNotAllowedForKey { alg, kid: key.kid.clone().unwrap_or_default() });
        }
        check_signature(signature, message, &key.decoding, alg)
    }

    fn check_claims(&self, c: Claims, now: i64) -> Result<VerifiedClaims, Rejection> {
        let leeway = self.config.leeway.as_secs() as i64;
        let exp = numeric_date(c.exp, "exp")?.ok_or(Rejection::MissingExp)?;
        if now >= exp.saturating_add(leeway) {
            return Err(Rejection::Expired);
        }
        if numeric_date(c.nbf, "nbf")?.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
            return Err(Rejection::NotYetValid);
        }
        if numeric_date(c.iat, "iat")?.is_some_and(|iat| now.saturating_add(leeway) < iat) {
            return Err(Rejection::IssuedInFuture);
        }
        if c.iss.as_ref().and_then(|v| v.as_str()) != Some(self.config.issuer.as_str()) {
            return Err(Rejection::WrongIssuer);
        }
        let audience = self.config.audience.as_str();
        let aud_ok = match &c.aud {
            Some(serde_json::Value::String(a)) => a == audience,
            Some(serde_json::Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(Rejection::WrongAudience);
        }
        let client_id = string_claim(&c.client_id).or_else(|| string_claim(&c.azp)).unwrap_or_default();
        let sub = string_claim(&c.sub)
            .or_else(|| (!client_id.is_empty()).then(|| client_id.clone()))
            .ok_or(Rejection::MissingSubject)?;
        let mut scopes = Vec::new();
        for source in [&c.scope, &c.scp] {
            collect_scopes(source, &mut scopes);
        }
        if self.config.cognito_groups_as_scopes {
            collect_scopes(&c.cognito_groups, &mut scopes);
        }
        Ok(VerifiedClaims { sub, scopes, client_id })
    }
}

fn split(token: &str) -> Result<(&str, &str, &str), Rejection> {
    if token.is_empty() {
        return Err(Rejection::Malformed("empty token"));
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return Err(Rejection::Malformed("characters outside base64url"));
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !p.is_empty() => Ok((h, p, s)),
        _ => Err(Rejection::Malformed("not three dot-separated parts")),
    }
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str, what: &'static str) -> Result<T, Rejection> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| Rejection::Malformed(what))?;
    serde_json::from_slice(&bytes).map_err(|_| Rejection::Malformed(what))
}

fn check_signature(signature: &str, message: &str, key: &DecodingKey, alg: Algorithm) -> Result<(), Rejection> {
    match jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, alg) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(Rejection::BadSignature),
    }
}

/// A NumericDate: integer or fractional seconds (fractions are truncated).
fn numeric_date(v: Option<serde_json::Value>, what: &'static str) -> Result<Option<i64>, Rejection> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(Rejection::Malformed(what)),
        Some(_) => Err(Rejection::Malformed(what)),
    }
}

fn string_claim(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(String::from)
}

/// Scopes as a space-separated string (`scope`, Azure's `scp`) or an array (Okta's `scp`, Cognito groups).
fn collect_scopes(v: &Option<serde_json::Value>, into: &mut Vec<String>) {
    let mut push = |s: &str| {
        if !s.is_empty() && !into.iter().any(|x| x == s) {
            into.push(s.to_string());
        }
    };
    match v {
        Some(serde_json::Value::String(s)) => s.split_whitespace().for_each(&mut push),
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|i| i.as_str()).for_each(&mut push),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::mint::{MintRequest, SigningKey, mint};
    use crate::auth::{KeySources, Secret};

    const SECRET: &[u8] = b"unit-test-secret-unit-test-secret-0123";

    fn verifier(leeway: u64) -> Verifier {
        let keys = KeySources { jwks_url: None, jwks_inline: None, hs256_secret: Some(Secret::new(SECRET).unwrap()) };
        let mut config = AuthConfig::new("iss", "aud", keys);
        config.leeway = Duration::from_secs(leeway);
        Verifier::new(config).unwrap()
    }

    fn token(ttl: u64) -> String {
        let req = MintRequest {
            sub: "s".into(),
            scope: "a b a".into(),
            ttl: Duration::from_secs(ttl),
            issuer: "iss".into(),
            audience: "aud".into(),
            kid: None,
            client_id: None,
        };
        mint(&SigningKey::Hs256(Secret::new(SECRET).unwrap()), &req).unwrap()
    }

    fn now() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
    }

    #[tokio::test]
    async fn exp_is_enforced_with_the_configured_leeway() {
        let t = token(60);
        assert!(verifier(0).verify_at(&t, now() + 59).await.is_ok());
        assert_eq!(verifier(0).verify_at(&t, now() + 61).await, Err(Rejection::Expired));
        assert!(verifier(30).verify_at(&t, now() + 80).await.is_ok());
        assert_eq!(verifier(30).verify_at(&t, now() + 95).await, Err(Rejection::Expired));
    }

    #[tokio::test]
    async fn nbf_and_iat_in_the_future_are_tolerated_only_within_the_leeway() {
        let t = token(600);
        assert!(verifier(30).verify_at(&t, now() - 20).await.is_ok());
        assert_eq!(verifier(30).verify_at(&t, now() - 45).await, Err(Rejection::NotYetValid));
    }

    #[tokio::test]
    async fn repeated_scopes_are_reported_once_and_client_id_defaults_to_empty() {
        let claims = verifier(0).verify(&token(60)).await.unwrap();
        assert_eq!(claims.scopes, vec!["a", "b"]);
        assert_eq!(claims.client_id, "");
    }

    #[test]
    fn numeric_dates_accept_integers_and_fractions_only() {
        assert_eq!(numeric_date(Some(serde_json::json!(10)), "exp"), Ok(Some(10)));
        assert_eq!(numeric_date(Some(serde_json::json!(10.9)), "exp"), Ok(Some(10)));
        assert_eq!(numeric_date(None, "exp"), Ok(None));
        assert!(numeric_date(Some(serde_json::json!("10")), "exp").is_err());
    }
}
