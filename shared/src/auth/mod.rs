//! Bearer-token authorization for the API: JWT verification against a JWKS endpoint or a shared secret,
//! per-route scope rules, the IAM policy API Gateway caches, and token minting for local use.
//!
//! - [`config`]: settings (`JWT_*`, `JWKS_URL`) and the HS256 secret wrapper.
//! - [`verify`]: the [`Verifier`]: size, header, key choice, signature, claims.
//! - [`jwks`]: the JWKS cache: lookup by `kid`, rate-limited refresh, cached keys outlive an outage.
//! - [`trust`]: the certificate authorities the JWKS fetch trusts (compiled in, or `JWKS_CA_BUNDLE`).
//! - [`rules`]: scope rules per method and route, method ARNs, the policy.
//! - [`error`]: why a token was rejected (for logs only).
//! - [`mint`]: HS256/ES256 tokens the verifier accepts.

pub mod config;
pub mod error;
pub mod jwks;
pub mod mint;
pub mod rules;
pub mod trust;
pub mod verify;

pub use config::{AuthConfig, KeySources, Secret};
pub use error::Rejection;
pub use mint::{Es256Key, MintRequest, SigningKey, mint};
pub use rules::{MethodArn, Policy, ScopeRules};
pub use verify::{VerifiedClaims, Verifier};
