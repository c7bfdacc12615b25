//! Page cursors: a keyset position, bound to the query that produced it and signed, so a client can
//! hold it but not forge, alter or reuse it with other filters.
//!
//! Layout before base64url (no padding): version (1 byte) | query fingerprint (8) | time in µs, big
//! endian (8) | id (UTF-8) | HMAC-SHA256 tag over all of that, truncated to 16 bytes.

use aws_lc_rs::{constant_time, digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;

use contrail_shared::storage::Keyset;

use crate::error::ApiError;

const VERSION: u8 = 1;
const FINGERPRINT_LEN: usize = 8;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + FINGERPRINT_LEN + 8;
/// Longer input is refused before decoding: ids are at most 128 characters.
const MAX_CURSOR_CHARS: usize = 400;

/// The secret cursors are signed with. Never logged.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// Wraps a secret; any length works for HMAC, callers enforce a minimum where it is configured.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    /// A random key: cursors then only work within this process (a local run without a configured secret).
    pub fn random() -> Self {
        use aws_lc_rs::rand::SecureRandom as _;
        let mut key = vec![0u8; 32];
        // The system generator failing is a broken host; a zero key would still sign, only guessably.
        aws_lc_rs::rand::SystemRandom::new().fill(&mut key).expect("the system random generator works");
        Self(key)
    }

    /// HMAC-SHA256 of `message` under this key (any key length works).
    fn tag(&self, message: &[u8]) -> hmac::Tag {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.0), message)
    }

    /// Encodes the position after `last`, for the query described by `scope`.
    pub fn encode(&self, scope: &str, last: &Keyset) -> String {
        let mut bytes = Vec::with_capacity(HEADER_LEN + last.id.len() + TAG_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&fingerprint(scope));
        bytes.extend_from_slice(&last.time.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(last.id.as_bytes());
        let tag = self.tag(&bytes);
        bytes.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a cursor given for the query described by `scope`.
    pub fn decode(&self, scope: &str, cursor: &str) -> Result<Keyset, ApiError> {
        let malformed = || ApiError::invalid_cursor("cursor is malformed or was altered; start again without it");
        if cursor.is_empty() || cursor.len() > MAX_CURSOR_CHARS {
            return Err(malformed());
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| malformed())?;
        if bytes.len() < HEADER_LEN + TAG_LEN || bytes[0] != VERSION {
            return Err(malformed());
        }
        let (signed, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        // The tag is truncated, so compare its prefix, in constant time.
        constant_time::verify_slices_are_equal(&self.tag(signed).as_ref()[..TAG_LEN], tag).map_err(|_| malformed())?;
        if signed[1..1 + FINGERPRINT_LEN] != fingerprint(scope) {
            return Err(ApiError::invalid_cursor(
                "cursor belongs to another route or other filters; repeat the query that issued it",
            ));
        }
        let mut micros = [0u8; 8];
        micros.copy_from_slice(&signed[1 + FINGERPRINT_LEN..HEADER_LEN]);
        let time = DateTime::from_timestamp_micros(i64::from_be_bytes(micros)).ok_or_else(malformed)?;
        let id = std::str::from_utf8(&signed[HEADER_LEN..]).map_err(|_| malformed())?.to_owned();
        Ok(Keyset { time, id })
    }
}

fn fingerprint(scope: &str) -> [u8; FINGERPRINT_LEN] {
    let digest = digest::digest(&digest::SHA256, scope.as_bytes());
    let mut out = [0u8; FINGERPRINT_LEN];
    out.copy_from_slice(&digest.as_ref()[..FINGERPRINT_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn keyset() -> Keyset {
        Keyset {
            time: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: "UA1545-2023-11-14-EWR".into(),
        }
    }

    #[test]
    fn a_cursor_decodes_to_the_position_it_was_made_from() {
        let key = CursorKey::new(*b"0123456789abcdef0123456789abcdef");
        let cursor = key.encode("flights|origin=EWR", &keyset());
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(key.decode("flights|origin=EWR", &cursor).unwrap(), keyset());
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let key = CursorKey::new(*b"0123456789abcdef0123456789abcdef");
        let cursor = key.encode("s", &keyset());
        let raw = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let err = key.decode("s", &URL_SAFE_NO_PAD.encode(&bad)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidCursor, "byte {i}");
        }
        assert!(key.decode("s", &cursor[..cursor.len() - 1]).is_err());
        assert!(key.decode("s", "").is_err());
        assert!(key.decode("s", "!!!").is_err());
        assert!(key.decode("s", &"A".repeat(5000)).is_err());
    }

    #[test]
    fn a_cursor_signed_with_another_key_or_for_another_query_is_refused() {
        let key = CursorKey::new(*b"0123456789abcdef0123456789abcdef");
        let cursor = key.encode("flights|origin=EWR", &keyset());
        assert!(CursorKey::new(*b"another key entirely, 32 bytes!!").decode("flights|origin=EWR", &cursor).is_err());
        let err = key.decode("flights|origin=JFK", &cursor).unwrap_err();
        assert!(err.message.contains("another route"), "{}", err.message);
    }
}
