//! Authorizer settings, from the environment in Lambda or built explicitly by the local stack.

use std::fmt;
use std::str::FromStr as _;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use super::rules::ScopeRules;
use crate::config::{ConfigError, Env};

/// Tokens longer than this are rejected before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The asymmetric algorithms a JWKS key may be used with (HS256 only ever comes from the shared secret).
pub const JWKS_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// An HS256 secret. Debug never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// HS256 secrets shorter than the hash output are guessable offline, so they are refused.
    pub const MIN_BYTES: usize = 32;

    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_BYTES {
            return Err(ConfigError::new(
                "JWT_HS256_SECRET",
                format!("must be at least {} bytes, got {}", Self::MIN_BYTES, bytes.len()),
            ));
        }
        Ok(Self(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where the verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySources {
    /// JWKS endpoint: HTTPS, or plain HTTP to a loopback host only.
    pub jwks_url: Option<url::Url>,
    /// A JWKS document given inline (the local stack's generated ES256 key); never refreshed.
    pub jwks_inline: Option<String>,
    /// Shared secret for HS256.
    pub hs256_secret: Option<Secret>,
}

/// Everything the verifier and the policy builder need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    pub keys: KeySources,
    /// Allowed clock skew for exp, nbf and iat.
    pub leeway: Duration,
    /// Allow-list of algorithms; `None` accepts every algorithm the configured keys support.
    pub algorithms: Option<Vec<Algorithm>>,
    /// Treat `cognito:groups` entries as scopes.
    pub cognito_groups_as_scopes: bool,
    pub scope_rules: ScopeRules,
    /// Whole-request timeout of one JWKS fetch (connect timeout is half of it).
    pub jwks_timeout: Duration,
    /// A PEM bundle of the only CAs the JWKS endpoint may chain to; `None` trusts the compiled-in roots
    /// (see [`super::trust`]).
    pub jwks_ca_bundle: Option<std::path::PathBuf>,
    /// Minimum spacing of refreshes caused by unknown key ids.
    pub jwks_refresh_interval: Duration,
    /// Minimum spacing of attempts while no keys could be loaded at all.
    pub jwks_retry_interval: Duration,
    /// Cached keys older than this are refreshed (best effort) so revoked keys drop out.
    pub jwks_max_age: Duration,
}

impl AuthConfig {
    /// What [`AuthConfig::from_vars`] reads.
    pub const VARIABLES: &[&str] = &[
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWKS_URL",
        "JWT_HS256_SECRET",
        "JWT_LEEWAY_SECONDS",
        "JWT_ALGORITHMS",
        "JWT_COGNITO_GROUPS_AS_SCOPES",
        "JWT_REQUIRED_SCOPES",
        "JWKS_TIMEOUT_MS",
        "JWKS_CA_BUNDLE",
    ];

    /// A configuration with defaults for everything but issuer, audience and keys.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, keys: KeySources) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            keys,
            leeway: Duration::from_secs(30),
            algorithms: None,
            cognito_groups_as_scopes: false,
            scope_rules: ScopeRules::default(),
            jwks_timeout: Duration::from_secs(2),
            jwks_ca_bundle: None,
            jwks_refresh_interval: Duration::from_secs(60),
            jwks_retry_interval: Duration::from_secs(5),
            jwks_max_age: Duration::from_secs(3600),
        }
    }

    /// Reads `JWT_ISSUER`, `JWT_AUDIENCE`, `JWKS_URL` and/or `JWT_HS256_SECRET`, `JWT_LEEWAY_SECONDS`,
    /// `JWT_ALGORITHMS`, `JWT_COGNITO_GROUPS_AS_SCOPES`, `JWT_REQUIRED_SCOPES`, `JWKS_TIMEOUT_MS`,
    /// `JWKS_CA_BUNDLE`. The plain variables only: a secret named by `JWT_HS256_SECRET_ARN` is read first by
    /// [`crate::secrets::resolve`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Env::process())
    }

    /// [`AuthConfig::from_env`] over another source.
    pub fn from_vars(env: &Env) -> Result<Self, ConfigError> {
        let issuer = env.var("JWT_ISSUER").ok_or_else(|| ConfigError::new("JWT_ISSUER", "required"))?;
        let audience = env.var("JWT_AUDIENCE").ok_or_else(|| ConfigError::new("JWT_AUDIENCE", "required"))?;
        let jwks_url = env.var("JWKS_URL").map(|u| parse_jwks_url(&u)).transpose()?;
        let hs256_secret = env.var("JWT_HS256_SECRET").map(|s| Secret::new(s.into_bytes())).transpose()?;
        let mut config = Self::new(issuer, audience, KeySources { jwks_url, jwks_inline: None, hs256_secret });
        config.leeway = Duration::from_secs(env.parse_var("JWT_LEEWAY_SECONDS", 30u64)?);
        config.algorithms = env.var("JWT_ALGORITHMS").map(|v| parse_algorithms(&v)).transpose()?;
        config.cognito_groups_as_scopes = env.bool_var("JWT_COGNITO_GROUPS_AS_SCOPES", false)?;
        if let Some(rules) = env.var("JWT_REQUIRED_SCOPES") {
            config.scope_rules =
                ScopeRules::parse(&rules).map_err(|e| ConfigError::new("JWT_REQUIRED_SCOPES", e.to_string()))?;
        }
        config.jwks_timeout = Duration::from_millis(env.parse_var("JWKS_TIMEOUT_MS", 2_000u64)?.max(1));
        config.jwks_ca_bundle = env.var("JWKS_CA_BUNDLE").map(std::path::PathBuf::from);
        config.validate()?;
        Ok(config)
    }

    /// Checks the combination: some key source, and an allow-list that the key sources can satisfy.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.keys;
        if k.jwks_url.is_none() && k.jwks_inline.is_none() && k.hs256_secret.is_none() {
            return Err(ConfigError::new("JWKS_URL", "set JWKS_URL or JWT_HS256_SECRET"));
        }
        if let Some(url) = &k.jwks_url {
            check_jwks_url(url)?;
        }
        if let Some(algs) = &self.algorithms {
            if algs.is_empty() {
                return Err(ConfigError::new("JWT_ALGORITHMS", "lists no algorithm"));
            }
            if algs.contains(&Algorithm::HS256) && k.hs256_secret.is_none() {
                return Err(ConfigError::new("JWT_ALGORITHMS", "HS256 needs JWT_HS256_SECRET"));
            }
        }
        Ok(())
    }

    /// Whether a token algorithm passes the allow-list and has a key source able to verify it.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        let listed = self.algorithms.as_ref().is_none_or(|algs| algs.contains(&alg));
        let sourced = if alg == Algorithm::HS256 {
            self.keys.hs256_secret.is_some()
        } else {
            JWKS_ALGORITHMS.contains(&alg) && (self.keys.jwks_url.is_some() || self.keys.jwks_inline.is_some())
        };
        listed && sourced
    }
}

/// Parses a JWKS URL, refusing plain HTTP unless the host is loopback.
pub fn parse_jwks_url(raw: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(raw.trim()).map_err(|e| ConfigError::new("JWKS_URL", format!("not a URL: {e}")))?;
    check_jwks_url(&url)?;
    Ok(url)
}

fn check_jwks_url(url: &url::Url) -> Result<(), ConfigError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(ConfigError::new("JWKS_URL", "must use https (plain http is allowed for loopback hosts only)")),
        other => Err(ConfigError::new("JWKS_URL", format!("unsupported scheme {other:?}"))),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Parses a comma- or space-separated list such as `RS256,ES256`.
pub fn parse_algorithms(raw: &str) -> Result<Vec<Algorithm>, ConfigError> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|name| {
            let alg = parse_algorithm(name)
                .ok_or_else(|| ConfigError::new("JWT_ALGORITHMS", format!("unsupported algorithm {name:?}")))?;
            Ok(alg)
        })
        .collect()
}

/// The algorithms this verifier supports, by their JOSE names (`jsonwebtoken`'s own parser; the
/// filter is ours: HS256 from the shared secret, the asymmetric ones from a JWKS, nothing else).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    Algorithm::from_str(name).ok().filter(|a| *a == Algorithm::HS256 || JWKS_ALGORITHMS.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_jwks_urls_are_accepted_only_for_loopback_hosts() {
        assert!(parse_jwks_url("http://127.0.0.1:8080/jwks.json").is_ok());
        assert!(parse_jwks_url("http://localhost/jwks.json").is_ok());
        assert!(parse_jwks_url("http://[::1]:9/jwks.json").is_ok());
        assert!(parse_jwks_url("http://idp.example.com/jwks.json").is_err());
        assert!(parse_jwks_url("https://idp.example.com/jwks.json").is_ok());
        assert!(parse_jwks_url("ftp://127.0.0.1/jwks.json").is_err());
    }

    #[test]
    fn short_hs256_secrets_are_refused() {
        assert!(Secret::new(vec![7u8; 31]).is_err());
        assert!(Secret::new(vec![7u8; 32]).is_ok());
        assert_eq!(format!("{:?}", Secret::new(vec![7u8; 32]).unwrap()), "Secret([redacted])");
    }

    #[test]
    fn algorithm_lists_parse_by_jose_name_and_refuse_unknown_names() {
        assert_eq!(
            parse_algorithms("RS256, ES256 EdDSA").unwrap(),
            vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
        );
        assert!(parse_algorithms("none").is_err());
        assert!(parse_algorithms("HS512").is_err());
    }
}
