//! Percent-encoding as AWS addresses and signs requests: one character set, the `percent-encoding`
//! crate's encoder and decoder.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`), which SigV4 requires.
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// [`RESERVED`] but for `/`: an S3 key inside a path.
const RESERVED_BUT_SLASH: &AsciiSet = &RESERVED.remove(b'/');

/// SigV4's URI encoding of a query value: every byte but the unreserved characters as `%XX`.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, RESERVED).to_string()
}

/// [`encode`] keeping `/`, for an object key in a path (`CopyObject`'s copy source).
pub fn encode_path(s: &str) -> String {
    utf8_percent_encode(s, RESERVED_BUT_SLASH).to_string()
}

/// Decodes `%XX` escapes as API Gateway does; invalid escapes stay as written, invalid UTF-8 becomes
/// U+FFFD.
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_travel_as_they_are() {
        assert_eq!(encode("a+b/c=d e~._-"), "a%2Bb%2Fc%3Dd%20e~._-");
        assert_eq!(encode_path("aws/lambda/x/2024-05-01T10.00.00 +é"), "aws/lambda/x/2024-05-01T10.00.00%20%2B%C3%A9");
    }

    #[test]
    fn decoding_keeps_what_is_not_an_escape() {
        assert_eq!(decode("UA1%2D2"), "UA1-2");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }
}
