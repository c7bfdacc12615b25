//! RDS IAM database authentication tokens.
//!
//! A token is a SigV4-presigned `{host}:{port}/?Action=connect&DBUser={user}&X-Amz-…` URL (service `rds-db`,
//! valid 15 minutes, scheme stripped) used as the password of a new connection. Signing is local: no call to
//! AWS is made. [`generate_token`] is the pure signer (checked against botocore's `generate_db_auth_token` in
//! `shared/tests/rds_iam_vector.rs`); [`TokenSource`] adds the credentials of the default provider chain (the
//! Lambda environment's role). Tokens are secrets: they are never logged and [`AuthToken`] does not print.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;

/// How long a token is accepted for logging in (the maximum RDS allows).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// Why no token could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Tokens are region-scoped; signing for a guessed region gives a token RDS refuses much later.
    #[error("no AWS region configured (set AWS_REGION)")]
    NoRegion,
    #[error("no AWS credentials: {0}")]
    NoCredentials(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// A signed token; `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(String);

impl AuthToken {
    /// The token, to hand to the connection as its password.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// Signs an RDS IAM auth token for `user` at `host:port`, as of `time`. Pure: same inputs, same token.
pub fn generate_token(
    host: &str,
    port: u16,
    user: &str,
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<String, TokenError> {
    if region.trim().is_empty() {
        return Err(TokenError::NoRegion);
    }
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let identity = credentials.clone().into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| TokenError::Signing(e.to_string()))?;

    let base = format!("{host}:{port}/?Action=connect&DBUser={}", uri_encode(user));
    let url = format!("https://{base}");
    let request = SignableRequest::new("GET", Cow::Borrowed(url.as_str()), std::iter::empty(), SignableBody::empty())
        .map_err(|e| TokenError::Signing(e.to_string()))?;
    let (instructions, _signature) =
        sign(request, &params.into()).map_err(|e| TokenError::Signing(e.to_string()))?.into_parts();

    // botocore's order: the signing parameters as the signer lists them, the signature last.
    let mut params: Vec<(&str, &str)> = instructions.params().iter().map(|(n, v)| (*n, v.as_ref())).collect();
    params.sort_by_key(|(name, _)| *name == "X-Amz-Signature");
    let mut token = base;
    for (name, value) in params {
        token.push('&');
        token.push_str(name);
        token.push('=');
        token.push_str(&uri_encode(value));
    }
    Ok(token)
}

/// SigV4's URI encoding: everything but the unreserved characters is percent-encoded.
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Makes tokens for one database user with the process's AWS credentials. Build once per cold start.
#[derive(Clone)]
pub struct TokenSource {
    credentials: SharedCredentialsProvider,
    region: String,
    host: String,
    port: u16,
    user: String,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("region", &self.region)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Uses the default credential chain (in Lambda: the role's variables). `region` overrides the
    /// chain's region; with neither, this fails instead of signing for a guessed region.
    pub async fn from_environment(host: &str, port: u16, user: &str, region: Option<&str>) -> Result<Self, TokenError> {
        let config = aws_config::load_from_env().await;
        let region = region
            .map(str::to_owned)
            .or_else(|| config.region().map(|r| r.as_ref().to_owned()))
            .filter(|r| !r.trim().is_empty())
            .ok_or(TokenError::NoRegion)?;
        let credentials = config
            .credentials_provider()
            .ok_or_else(|| TokenError::NoCredentials("no credential provider found".into()))?;
        Ok(Self::new(credentials, &region, host, port, user))
    }

    /// A source over an explicit credential provider.
    pub fn new(credentials: SharedCredentialsProvider, region: &str, host: &str, port: u16, user: &str) -> Self {
        Self { credentials, region: region.to_owned(), host: host.to_owned(), port, user: user.to_owned() }
    }

    /// A fresh token, signed now.
    pub async fn token(&self) -> Result<AuthToken, TokenError> {
        let credentials =
            self.credentials.provide_credentials().await.map_err(|e| TokenError::NoCredentials(e.to_string()))?;
        generate_token(&self.host, self.port, &self.user, &self.region, &credentials, SystemTime::now()).map(AuthToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_percent_encoded_like_botocore_does() {
        assert_eq!(uri_encode("app_user-1.x~"), "app_user-1.x~");
        assert_eq!(uri_encode("a+b/c=d e"), "a%2Bb%2Fc%3Dd%20e");
    }

    #[test]
    fn an_empty_region_is_refused() {
        let creds = Credentials::new("AKID", "SECRET", None, None, "test");
        assert_eq!(generate_token("h", 5432, "u", " ", &creds, SystemTime::UNIX_EPOCH), Err(TokenError::NoRegion));
    }

    #[test]
    fn the_token_never_prints() {
        let t = AuthToken("secret".into());
        assert!(!format!("{t:?}").contains("secret"));
    }
}
