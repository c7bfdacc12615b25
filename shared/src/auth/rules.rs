//! Which scopes each route needs, and the IAM policy that states the answer for every route at once.
//!
//! Rules use API Gateway's own resource wildcard (`*` matches any run of characters, `/` included), so
//! a rule translates one-to-one into a policy resource. That is what makes API Gateway's result cache
//! safe: a cached policy gives, for any route, the same answer a fresh evaluation would.

use std::fmt;

/// HTTP methods a rule may name (`*` means any).
const METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"];

/// One rule: requests matching `METHOD PATH` need every listed scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRule {
    /// `GET`, `POST`, … or `*`.
    pub method: String,
    /// Starts with `/`; `*` is a wildcard.
    pub path: String,
    /// All are required; empty means any valid token.
    pub scopes: Vec<String>,
}

impl ScopeRule {
    /// The rule as a resource suffix, `GET/flights/*`: both the matching pattern and the policy resource.
    fn pattern(&self) -> String {
        format!("{}{}", self.method, self.path)
    }

    fn satisfied_by(&self, scopes: &[String]) -> bool {
        self.scopes.iter().all(|needed| scopes.iter().any(|s| s == needed))
    }
}

/// The route table. A request needs the scopes of every rule that matches it; a request that no rule
/// matches is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRules(Vec<ScopeRule>);

impl Default for ScopeRules {
    /// `flights:read` for every GET.
    fn default() -> Self {
        Self(vec![ScopeRule { method: "GET".into(), path: "/*".into(), scopes: vec!["flights:read".into()] }])
    }
}

/// Why `JWT_REQUIRED_SCOPES` does not parse; each names the rule at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{0:?}: expected METHOD PATH=SCOPES")]
    NoScopes(String),
    #[error("{0:?}: expected METHOD PATH before '='")]
    NoRoute(String),
    #[error("{entry:?}: unknown method {method:?}")]
    UnknownMethod { entry: String, method: String },
    #[error("{0:?}: the path must start with '/' (or be '*') and contain no '?'")]
    BadPath(String),
    #[error("no rules")]
    Empty,
}

impl ScopeRules {
    /// Parses `GET /stats=stats:read;GET /flights/*=flights:read`: rules separated by `;`, each
    /// `METHOD PATH=SCOPES` with space-separated scopes (all required, may be empty).
    pub fn parse(raw: &str) -> Result<Self, RuleError> {
        let mut rules = Vec::new();
        for entry in raw.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (route, scopes) = entry.split_once('=').ok_or_else(|| RuleError::NoScopes(entry.to_owned()))?;
            let mut parts = route.split_whitespace();
            let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(RuleError::NoRoute(entry.to_owned()));
            };
            let method = method.to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                return Err(RuleError::UnknownMethod { entry: entry.to_owned(), method });
            }
            let path = if path == "*" { "/*".to_string() } else { path.to_string() };
            if !path.starts_with('/') || path.contains('?') {
                return Err(RuleError::BadPath(entry.to_owned()));
            }
            let scopes = scopes.split_whitespace().map(String::from).collect();
            rules.push(ScopeRule { method, path, scopes });
        }
        if rules.is_empty() {
            return Err(RuleError::Empty);
        }
        Ok(Self(rules))
    }

    pub fn rules(&self) -> &[ScopeRule] {
        &self.0
    }

    /// The policy for a token with these scopes on this API stage: Allow the routes of every rule the
    /// scopes satisfy, Deny those of every rule they do not (IAM lets Deny win, matching "every matching
    /// rule applies"), and Deny the requested route explicitly when it ends up refused.
    pub fn policy(&self, arn: &MethodArn, scopes: &[String]) -> Policy {
        let prefix = arn.stage_prefix();
        let mut allow = Vec::new();
        let mut deny = Vec::new();
        for rule in &self.0 {
            let resource = format!("{prefix}/{}", rule.pattern());
            let list = if rule.satisfied_by(scopes) { &mut allow } else { &mut deny };
            if !list.contains(&resource) {
                list.push(resource);
            }
        }
        let mut policy = Policy { allow, deny };
        if !policy.permits(&arn.raw) && !policy.deny.iter().any(|r| wildcard_match(r, &arn.raw)) {
            policy.deny.push(arn.raw.clone());
        }
        policy
    }
}

impl fmt::Display for ScopeRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { ";" };
            write!(f, "{sep}{} {}={}", r.method, r.path, r.scopes.join(" "))?;
        }
        Ok(())
    }
}

/// An API Gateway method ARN: `arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodArn {
    raw: String,
    /// Length of `arn:…:API_ID/STAGE`.
    prefix_len: usize,
}

impl MethodArn {
    pub fn parse(raw: &str) -> Option<Self> {
        let parts: Vec<&str> = raw.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts.as_slice() else {
            return None;
        };
        if *arn != "arn" || partition.is_empty() || *service != "execute-api" || region.is_empty() || account.is_empty()
        {
            return None;
        }
        let mut segs = resource.splitn(4, '/');
        let (Some(api), Some(stage), Some(method)) = (segs.next(), segs.next(), segs.next()) else {
            return None;
        };
        if api.is_empty() || stage.is_empty() || method.is_empty() || raw.contains('*') {
            return None;
        }
        let prefix_len = raw.len() - resource.len() + api.len() + 1 + stage.len();
        Some(Self { raw: raw.to_string(), prefix_len })
    }

    /// `arn:…:API_ID/STAGE`, the part every resource of this API stage shares.
    pub fn stage_prefix(&self) -> &str {
        &self.raw[..self.prefix_len]
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

/// An `execute-api:Invoke` policy: resource patterns allowed and denied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl Policy {
    /// Evaluates the policy as API Gateway does, including for a cached policy on another route: some
    /// Allow matches and no Deny does.
    pub fn permits(&self, method_arn: &str) -> bool {
        self.allow.iter().any(|r| wildcard_match(r, method_arn))
            && !self.deny.iter().any(|r| wildcard_match(r, method_arn))
    }
}

/// IAM resource matching, as API Gateway evaluates a policy: `*` any run of characters (`/` included),
/// `?` exactly one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it was tried at: on a mismatch it takes one more character.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/flights/LH400-2026-11-25-FRA";

    fn scopes(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn method_arns_split_into_stage_prefix_and_route() {
        let arn = MethodArn::parse(ARN).unwrap();
        assert_eq!(arn.stage_prefix(), "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod");
        assert!(MethodArn::parse("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/").is_some());
        for bad in
            ["", "arn:aws:s3:::bucket/key", "arn:aws:execute-api:r:a:abc123/prod", "arn:aws:execute-api:r:a:x/*/GET/"]
        {
            assert!(MethodArn::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_default_rules_allow_every_get_for_flights_read() {
        let arn = MethodArn::parse(ARN).unwrap();
        let policy = ScopeRules::default().policy(&arn, &scopes("flights:read"));
        assert_eq!(policy.allow, vec!["arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/*"]);
        assert!(policy.deny.is_empty());
        assert!(policy.permits(ARN));
        assert!(policy.permits("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/stats"));
        assert!(policy.permits("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/positions"));
        assert!(!policy.permits("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/DELETE/flights/x"));
        let without = ScopeRules::default().policy(&arn, &scopes("stats:read"));
        assert!(!without.permits("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/positions"));
    }

    #[test]
    fn a_token_without_the_scope_gets_an_explicit_deny_for_the_route() {
        let arn = MethodArn::parse(ARN).unwrap();
        let policy = ScopeRules::default().policy(&arn, &scopes("stats:read"));
        assert!(policy.allow.is_empty());
        assert!(!policy.permits(ARN));
        assert_eq!(policy.deny, vec!["arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/*"]);
    }

    #[test]
    fn a_cached_policy_answers_every_route_as_a_fresh_evaluation_would() {
        let rules = ScopeRules::parse("GET /stats=stats:read; GET /flights/*=flights:read").unwrap();
        let arn = MethodArn::parse(ARN).unwrap();
        let stats = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/stats";
        let reader = rules.policy(&arn, &scopes("flights:read"));
        assert!(reader.permits(ARN));
        assert!(!reader.permits(stats), "a cached Allow must not open /stats to a flights:read token");
        let analyst = rules.policy(&arn, &scopes("stats:read"));
        assert!(!analyst.permits(ARN));
        assert!(analyst.permits(stats), "a cached Deny must not close /stats to a stats:read token");
        let unmatched =
            MethodArn::parse("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/airports").unwrap();
        let policy = rules.policy(&unmatched, &scopes("flights:read stats:read"));
        assert!(!policy.permits(unmatched.as_str()));
        assert!(policy.deny.contains(&unmatched.as_str().to_string()));
    }

    #[test]
    fn scope_rules_parse_methods_paths_and_scope_lists() {
        let rules = ScopeRules::parse(" get /stats = stats:read admin ;* *=;").unwrap();
        assert_eq!(
            rules.rules()[0],
            ScopeRule { method: "GET".into(), path: "/stats".into(), scopes: scopes("stats:read admin") }
        );
        assert_eq!(rules.rules()[1], ScopeRule { method: "*".into(), path: "/*".into(), scopes: vec![] });
        for bad in ["", "GET /x", "FETCH /x=a", "GET x=a", "GET /x?y=a", "GET /x /y=a"] {
            assert!(ScopeRules::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_match_any_run_of_characters_like_iam() {
        assert!(wildcard_match("a/*/c", "a/b/x/c"));
        assert!(wildcard_match("GET/*", "GET/"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("GET/flights", "GET/flights/x"));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a?c", "abc") && wildcard_match("a?c", "aéc"));
        assert!(!wildcard_match("a?c", "abbc"));
        assert!(!wildcard_match("arn:*/GET/*", "arn:x/POST/y"));
        assert!(!wildcard_match("GET/*/history", "GET/x/history/y"));
    }
}
