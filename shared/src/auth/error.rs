//! Why a token was turned away. The reason goes to the logs only; callers of the API see a bare 401,
//! except for [`Rejection::KeysUnavailable`], which is the key source's fault, not the token's.

use jsonwebtoken::Algorithm;

/// A rejected bearer token. Display is a log line: it never contains the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no Authorization header")]
    MissingToken,
    #[error("Authorization header is not a Bearer credential")]
    BadScheme,
    #[error("token is {0} bytes, over the 8 KiB limit (not parsed)")]
    Oversize(usize),
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("token uses alg \"none\"")]
    AlgNone,
    #[error("token algorithm {0:?} is not accepted by this configuration")]
    AlgorithmNotAllowed(Algorithm),
    #[error("token names key id {0:?}, which is not in the key set")]
    UnknownKid(String),
    #[error("token has no key id and the key set has no single key for its algorithm")]
    NoKeyForToken,
    #[error("algorithm {alg:?} is not allowed for key {kid:?}")]
    AlgorithmNotAllowedForKey { alg: Algorithm, kid: String },
    /// Not a verdict on the token: the keys it needs cannot be had (no key set cached and the JWKS
    /// endpoint refused, timed out or served garbage; or an unknown kid while refreshing fails). The
    /// authorizer fails the invocation instead of answering 401, so clients keep their valid tokens.
    #[error("no signing keys available: {0}")]
    KeysUnavailable(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("token has no exp claim")]
    MissingExp,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (nbf in the future)")]
    NotYetValid,
    #[error("token issued in the future (iat)")]
    IssuedInFuture,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("token has neither sub nor client_id")]
    MissingSubject,
    #[error("unusable method ARN")]
    BadMethodArn,
}

impl Rejection {
    /// Whether the key source failed (retry later) rather than the token (refuse it).
    pub fn is_key_outage(&self) -> bool {
        matches!(self, Self::KeysUnavailable(_))
    }
}
