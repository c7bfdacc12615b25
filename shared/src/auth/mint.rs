//! Minting tokens that a verifier with the same issuer, audience and key accepts: the local stack's
//! `contrail token`, and tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::config::Secret;

/// A key to sign with.
pub enum SigningKey {
    Hs256(Secret),
    Es256(Es256Key),
}

/// A P-256 key pair held as PKCS#8 DER, so it can be written to disk once and reused.
#[derive(Clone)]
pub struct Es256Key {
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Es256Key([redacted])")
    }
}

/// A failure to mint.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("invalid ES256 key")]
    BadKey(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("signing failed")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

impl Es256Key {
    pub fn generate() -> Result<Self, MintError> {
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|e| MintError::BadKey(e.into()))?;
        Ok(Self { pkcs8: doc.as_ref().to_vec() })
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, MintError> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|e| MintError::BadKey(e.into()))?;
        Ok(Self { pkcs8: der.to_vec() })
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half as a JWKS document with one key, ready for [`super::KeySources::jwks_inline`].
    pub fn jwks(&self, kid: &str) -> Result<String, MintError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8)
            .map_err(|e| MintError::BadKey(e.into()))?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return Err(MintError::BadKey("unexpected public key encoding".into()));
        }
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        });
        Ok(serde_json::json!({ "keys": [jwk] }).to_string())
    }
}

/// What to put in the token.
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub sub: String,
    /// Space-separated, as in the `scope` claim.
    pub scope: String,
    pub ttl: Duration,
    pub issuer: String,
    pub audience: String,
    pub kid: Option<String>,
    pub client_id: Option<String>,
}

#[derive(Serialize)]
struct MintClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    scope: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
}

/// Signs a token valid from now for `ttl`.
pub fn mint(key: &SigningKey, req: &MintRequest) -> Result<String, MintError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    let claims = MintClaims {
        iss: &req.issuer,
        aud: &req.audience,
        sub: &req.sub,
        scope: &req.scope,
        iat: now,
        nbf: now,
        exp: now.saturating_add(req.ttl.as_secs()),
        client_id: req.client_id.as_deref(),
    };
    let (alg, encoding) = match key {
        SigningKey::Hs256(secret) => (Algorithm::HS256, EncodingKey::from_secret(secret.expose())),
        SigningKey::Es256(k) => (Algorithm::ES256, EncodingKey::from_ec_der(&k.pkcs8)),
    };
    let mut header = Header::new(alg);
    header.kid = req.kid.clone();
    Ok(jsonwebtoken::encode(&header, &claims, &encoding)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthConfig, KeySources, Verifier};

    fn request(kid: Option<&str>) -> MintRequest {
        MintRequest {
            sub: "dev".into(),
            scope: "flights:read stats:read".into(),
            ttl: Duration::from_secs(600),
            issuer: "contrail-local".into(),
            audience: "contrail-api".into(),
            kid: kid.map(String::from),
            client_id: Some("contrail-cli".into()),
        }
    }

    #[tokio::test]
    async fn hs256_tokens_minted_with_the_secret_are_accepted_by_the_verifier() {
        let secret = Secret::new(b"a-local-secret-of-at-least-32-bytes!".to_vec()).unwrap();
        let token = mint(&SigningKey::Hs256(secret.clone()), &request(None)).unwrap();
        let keys = KeySources { jwks_url: None, jwks_inline: None, hs256_secret: Some(secret) };
        let verifier = Verifier::new(AuthConfig::new("contrail-local", "contrail-api", keys)).unwrap();
        let claims = verifier.verify(&token).await.unwrap();
        assert_eq!(claims.sub, "dev");
        assert_eq!(claims.scopes, vec!["flights:read", "stats:read"]);
        assert_eq!(claims.client_id, "contrail-cli");
    }

    #[tokio::test]
    async fn es256_tokens_minted_with_a_stored_key_are_accepted_through_its_jwks() {
        let generated = Es256Key::generate().unwrap();
        let reloaded = Es256Key::from_pkcs8(generated.pkcs8_der()).unwrap();
        let token = mint(&SigningKey::Es256(reloaded), &request(Some("local-1"))).unwrap();
        let keys =
            KeySources { jwks_url: None, jwks_inline: Some(generated.jwks("local-1").unwrap()), hs256_secret: None };
        let verifier = Verifier::new(AuthConfig::new("contrail-local", "contrail-api", keys)).unwrap();
        assert_eq!(verifier.verify(&token).await.unwrap().sub, "dev");

        let other = Es256Key::generate().unwrap();
        let forged = mint(&SigningKey::Es256(other), &request(Some("local-1"))).unwrap();
        assert_eq!(verifier.verify(&forged).await, Err(crate::auth::Rejection::BadSignature));
    }

    #[test]
    fn garbage_is_not_an_es256_key() {
        assert!(Es256Key::from_pkcs8(b"not a key").is_err());
    }
}
