//! RDS IAM database authentication tokens.
//!
//! A token is a SigV4-presigned `{host}:{port}/?Action=connect&DBUser={user}&X-Amz-…` URL (service `rds-db`,
//! valid 15 minutes, scheme stripped) used as the password of a new connection. Signing is local: no call to
//! AWS is made. [`generate_token`] is the pure signer (checked against botocore's `generate_db_auth_token` in
//! `shared/tests/rds_iam_vector.rs`); [`TokenSource`] adds the credentials of the default provider chain (the
//! Lambda environment's role); [`TokenCache`] keeps the current token and renews it before any login could
//! use one with less than [`MIN_REMAINING_LIFE`] left. Tokens are secrets: they are never logged and
//! [`AuthToken`] does not print.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;

/// How long a token is accepted for logging in (the maximum RDS allows).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The least life a token must have left when a connection logs in with it: clock skew between the
/// function and the database, and a slow login, must never turn it into an expired password.
pub const MIN_REMAINING_LIFE: Duration = Duration::from_secs(5 * 60);

/// Why no token could be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Tokens are region-scoped; signing for a guessed region gives a token RDS refuses much later.
    #[error("no AWS region configured (set AWS_REGION)")]
    NoRegion,
    #[error("no AWS credentials")]
    NoCredentials(#[source] CredentialsError),
    #[error("signing failed")]
    Signing(#[source] Box<dyn std::error::Error + Send + Sync>),
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
        .map_err(|e| TokenError::Signing(e.into()))?;

    let base = format!("{host}:{port}/?Action=connect&DBUser={}", crate::uri::encode(user));
    let url = format!("https://{base}");
    let request = SignableRequest::new("GET", Cow::Borrowed(url.as_str()), std::iter::empty(), SignableBody::empty())
        .map_err(|e| TokenError::Signing(e.into()))?;
    let (instructions, _signature) =
        sign(request, &params.into()).map_err(|e| TokenError::Signing(e.into()))?.into_parts();

    // botocore's order: the signing parameters as the signer lists them, the signature last.
    let mut params: Vec<(&str, &str)> = instructions.params().iter().map(|(n, v)| (*n, v.as_ref())).collect();
    params.sort_by_key(|(name, _)| *name == "X-Amz-Signature");
    let mut token = base;
    for (name, value) in params {
        token.push('&');
        token.push_str(name);
        token.push('=');
        token.push_str(&crate::uri::encode(value));
    }
    Ok(token)
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
            .ok_or_else(|| TokenError::NoCredentials(CredentialsError::not_loaded("no credential provider found")))?;
        Ok(Self::new(credentials, &region, host, port, user))
    }

    /// A source over an explicit credential provider.
    pub fn new(credentials: SharedCredentialsProvider, region: &str, host: &str, port: u16, user: &str) -> Self {
        Self { credentials, region: region.to_owned(), host: host.to_owned(), port, user: user.to_owned() }
    }

    /// A fresh token, signed now.
    pub async fn token(&self) -> Result<AuthToken, TokenError> {
        Ok(self.issue(SystemTime::now()).await?.token)
    }

    /// A token signed as of `now`, with its signing time.
    pub async fn issue(&self, now: SystemTime) -> Result<IssuedToken, TokenError> {
        let credentials = self.credentials.provide_credentials().await.map_err(TokenError::NoCredentials)?;
        let token = generate_token(&self.host, self.port, &self.user, &self.region, &credentials, now)?;
        Ok(IssuedToken { token: AuthToken(token), signed_at: now })
    }
}

/// A token and the time it was signed at: its life runs out [`TOKEN_LIFETIME`] later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: AuthToken,
    pub signed_at: SystemTime,
}

impl IssuedToken {
    /// Life left at `at` (zero once expired).
    pub fn remaining_at(&self, at: SystemTime) -> Duration {
        (self.signed_at + TOKEN_LIFETIME).duration_since(at).unwrap_or(Duration::ZERO)
    }
}

/// The wall clock, injectable so tests can age tokens without waiting.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// The token new connections log in with, renewed on demand.
///
/// [`TokenCache::renew_if_due`] is cheap when nothing is due (a lock and a clock read), so the store calls
/// it before every operation, not only at the start of an invocation: a five-minute redrive run then never
/// hands a reconnect a token that expires during the login.
pub struct TokenCache {
    source: TokenSource,
    clock: Clock,
    /// The longest a login may take after the check (the pool's connect timeout).
    login_within: Duration,
    current: tokio::sync::Mutex<IssuedToken>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache").field("source", &self.source).finish_non_exhaustive()
    }
}

impl TokenCache {
    /// Signs the first token now.
    pub async fn new(source: TokenSource, clock: Clock, login_within: Duration) -> Result<Self, TokenError> {
        let first = source.issue(clock()).await?;
        Ok(Self { source, clock, login_within, current: tokio::sync::Mutex::new(first) })
    }

    /// The current token.
    pub async fn current(&self) -> IssuedToken {
        self.current.lock().await.clone()
    }

    /// Renews the token when a login starting now (and taking up to `login_within`) would have less than
    /// [`MIN_REMAINING_LIFE`] left; returns the new token, or `None` when the current one is good.
    pub async fn renew_if_due(&self) -> Result<Option<AuthToken>, TokenError> {
        let now = (self.clock)();
        let mut current = self.current.lock().await;
        if current.remaining_at(now + self.login_within) >= MIN_REMAINING_LIFE {
            return Ok(None);
        }
        let fresh = self.source.issue(now).await?;
        *current = fresh.clone();
        Ok(Some(fresh.token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_percent_encoded_like_botocore_does() {
        assert_eq!(crate::uri::encode("app_user-1.x~"), "app_user-1.x~");
        assert_eq!(crate::uri::encode("a+b/c=d e"), "a%2Bb%2Fc%3Dd%20e");
    }

    #[test]
    fn an_empty_region_is_refused() {
        let creds = Credentials::new("AKID", "SECRET", None, None, "test");
        assert!(matches!(
            generate_token("h", 5432, "u", " ", &creds, SystemTime::UNIX_EPOCH),
            Err(TokenError::NoRegion)
        ));
    }

    /// A clock tests move by hand.
    fn manual_clock(start: SystemTime) -> (Clock, Arc<std::sync::Mutex<SystemTime>>) {
        let now = Arc::new(std::sync::Mutex::new(start));
        let read = now.clone();
        (Arc::new(move || *read.lock().unwrap()), now)
    }

    fn source() -> TokenSource {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "test");
        TokenSource::new(SharedCredentialsProvider::new(creds), "eu-west-1", "db.example", 5432, "contrail_reader")
    }

    #[tokio::test]
    async fn a_long_run_never_logs_in_with_less_than_five_minutes_of_token_life_left() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let (clock, now) = manual_clock(start);
        let login_within = Duration::from_secs(5);
        let cache = TokenCache::new(source(), clock, login_within).await.unwrap();
        let mut renewals = 0;
        // Forty minutes of work, a store call every 7 seconds, each possibly opening a connection.
        for step in 0..(40 * 60 / 7) {
            let at = start + Duration::from_secs(step * 7);
            *now.lock().unwrap() = at;
            if let Some(token) = cache.renew_if_due().await.unwrap() {
                renewals += 1;
                assert!(token.as_str().contains("DBUser=contrail_reader"));
            }
            let used = cache.current().await;
            let left = used.remaining_at(at + login_within);
            assert!(left >= MIN_REMAINING_LIFE, "step {step}: a login would have {left:?} left");
        }
        // Renewed once about ten minutes old (15 - 5, less the login margin): at 602 s, 1204 s, 1806 s.
        assert_eq!(renewals, 3);
    }

    #[tokio::test]
    async fn a_renewal_signs_a_new_token_as_of_the_clock() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let (clock, now) = manual_clock(start);
        let cache = TokenCache::new(source(), clock, Duration::ZERO).await.unwrap();
        let first = cache.current().await;
        assert_eq!(first.signed_at, start);

        *now.lock().unwrap() = start + TOKEN_LIFETIME - MIN_REMAINING_LIFE - Duration::from_secs(1);
        assert_eq!(cache.renew_if_due().await.unwrap(), None, "5 min 1 s left: still good");
        *now.lock().unwrap() = start + TOKEN_LIFETIME - MIN_REMAINING_LIFE + Duration::from_secs(1);
        let renewed = cache.renew_if_due().await.unwrap().expect("4 min 59 s left: renewed");
        assert_ne!(renewed, first.token);
        assert_eq!(
            cache.current().await.signed_at,
            start + TOKEN_LIFETIME - MIN_REMAINING_LIFE + Duration::from_secs(1)
        );
        assert_eq!(cache.current().await.remaining_at(*now.lock().unwrap()), TOKEN_LIFETIME);
    }

    #[test]
    fn the_token_never_prints() {
        let t = AuthToken("secret".into());
        assert!(!format!("{t:?}").contains("secret"));
    }
}
