//! What API Gateway does around a TOKEN authorizer: call it with the `Authorization` header, cache the
//! returned policy per token for a short time, and evaluate the (possibly cached) policy against each
//! request's method ARN. A cached policy that does not cover another route answers 403, exactly the
//! caching trap of the real service.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use contrail_shared::auth::rules::wildcard_match;
use serde_json::{Map, Value};

use crate::functions::AuthDecision;

/// How long a policy is reused for the same token (API Gateway's `ReauthorizeEvery`, kept short).
pub const RESULT_TTL: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 10_000;

/// What the front does with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Forward, with the context API Gateway puts in `requestContext.authorizer`.
    Allow(Map<String, Value>),
    /// 401 `{"message":"Unauthorized"}`.
    Unauthorized,
    /// 403: an explicit Deny (`explicit` true) or no Allow for this resource.
    Forbidden { explicit: bool },
    /// 500: the authorizer failed in another way.
    Failed,
}

/// Cached authorizer results, keyed by the whole `Authorization` header value.
#[derive(Default)]
pub struct ResultCache {
    entries: Mutex<HashMap<String, (Instant, AuthDecision)>>,
}

impl ResultCache {
    /// The cached decision for a token, if still fresh.
    pub fn get(&self, token: &str) -> Option<AuthDecision> {
        let entries = self.entries.lock().ok()?;
        entries.get(token).filter(|(at, _)| at.elapsed() < RESULT_TTL).map(|(_, d)| d.clone())
    }

    /// Keeps a policy (never an error: API Gateway does not cache 401 or 500).
    pub fn put(&self, token: &str, decision: &AuthDecision) {
        if !matches!(decision, AuthDecision::Policy { .. }) {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (at, _)| at.elapsed() < RESULT_TTL);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(token.to_owned(), (Instant::now(), decision.clone()));
        }
    }
}

/// Applies a decision to one request's method ARN.
pub fn verdict(decision: &AuthDecision, method_arn: &str) -> Verdict {
    match decision {
        AuthDecision::Unauthorized => Verdict::Unauthorized,
        AuthDecision::Failed(_) => Verdict::Failed,
        AuthDecision::Policy { principal_id, policy, context } => {
            let Some(statements) = field(policy, "Statement") else { return Verdict::Failed };
            let statements: Vec<&Value> = match statements {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            let mut allowed = false;
            for s in statements {
                let covers = strings(field(s, "Resource")).iter().any(|r| wildcard_match(r, method_arn))
                    && strings(field(s, "Action")).iter().any(|a| wildcard_match(a, "execute-api:Invoke"));
                match field(s, "Effect").and_then(Value::as_str) {
                    Some(e) if e.eq_ignore_ascii_case("deny") && covers => {
                        return Verdict::Forbidden { explicit: true };
                    }
                    Some(e) if e.eq_ignore_ascii_case("allow") && covers => allowed = true,
                    _ => {}
                }
            }
            if !allowed {
                return Verdict::Forbidden { explicit: false };
            }
            let mut out = Map::new();
            if let Some(p) = principal_id {
                out.insert("principalId".into(), Value::String(p.clone()));
            }
            // REST APIs hand context values to the integration as strings.
            for (k, v) in context {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                out.insert(k.clone(), Value::String(text));
            }
            Verdict::Allow(out)
        }
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:contrail/local/GET/flights/X";

    fn policy(effect: &str, resource: Value) -> AuthDecision {
        AuthDecision::Policy {
            principal_id: Some("alice".into()),
            policy: json!({"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
            ]}),
            context: json!({"sub": "alice", "scopes": "flights:read", "n": 3, "gone": null})
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    #[test]
    fn an_allow_for_the_whole_api_forwards_the_context_as_strings() {
        let v =
            verdict(&policy("Allow", json!(["arn:aws:execute-api:us-east-1:000000000000:contrail/local/*/*"])), ARN);
        let Verdict::Allow(ctx) = v else { panic!("{v:?}") };
        assert_eq!(ctx["principalId"], "alice");
        assert_eq!(ctx["n"], "3");
        assert!(!ctx.contains_key("gone"));
    }

    #[test]
    fn a_policy_for_another_route_is_a_403_like_a_stale_cache_entry() {
        let d = policy("Allow", json!("arn:aws:execute-api:us-east-1:000000000000:contrail/local/GET/stats"));
        assert_eq!(verdict(&d, ARN), Verdict::Forbidden { explicit: false });
        assert_eq!(verdict(&policy("Deny", json!("*")), ARN), Verdict::Forbidden { explicit: true });
        assert_eq!(verdict(&AuthDecision::Unauthorized, ARN), Verdict::Unauthorized);
    }

    #[test]
    fn only_policies_are_cached_and_only_for_a_while() {
        let cache = ResultCache::default();
        cache.put("t", &AuthDecision::Unauthorized);
        assert!(cache.get("t").is_none());
        cache.put("t", &policy("Allow", json!("*")));
        assert!(cache.get("t").is_some());
        assert!(cache.get("other").is_none());
    }
}
