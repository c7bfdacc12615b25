//! Cross-origin access: which browser origins may read answers (`ALLOWED_ORIGINS`).

use http::HeaderValue;

/// The configured origins: none (no CORS headers), any (`*`), or an exact list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    None,
    Any,
    List(Vec<String>),
}

/// The methods every route answers.
pub const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";
/// Request headers a browser may send cross-origin.
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type, If-None-Match";
/// How long a browser may keep a preflight answer, in seconds.
pub const PREFLIGHT_MAX_AGE: &str = "600";

impl Cors {
    /// Parses `*` or a comma list of origins (`https://board.example.com`); empty means none.
    pub fn parse(spec: &str) -> Self {
        let spec = spec.trim();
        if spec == "*" {
            return Self::Any;
        }
        let list: Vec<String> =
            spec.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect();
        if list.is_empty() { Self::None } else { Self::List(list) }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<HeaderValue> {
        match self {
            Self::None => None,
            Self::Any => Some(HeaderValue::from_static("*")),
            Self::List(list) => {
                let origin = origin?;
                list.iter().any(|o| o == origin).then(|| HeaderValue::from_str(origin).ok()).flatten()
            }
        }
    }

    /// Whether answers differ by `Origin` (so caches must key on it).
    pub fn varies(&self) -> bool {
        matches!(self, Self::List(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_are_echoed() {
        let cors = Cors::parse("https://a.example, https://b.example/");
        assert_eq!(cors.allow(Some("https://b.example")).unwrap(), "https://b.example");
        assert_eq!(cors.allow(Some("https://evil.example")), None);
        assert_eq!(cors.allow(None), None);
        assert!(cors.varies());
        assert_eq!(Cors::parse("*").allow(None).unwrap(), "*");
        assert_eq!(Cors::parse(" "), Cors::None);
    }
}
