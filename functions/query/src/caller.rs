//! Who is asking: the request ids and the authorizer's verdict as API Gateway passes them on, for logs.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

/// What the logs say about the caller. The token itself never gets here: API Gateway keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// API Gateway's request id (`requestContext.requestId`).
    pub request_id: Option<String>,
    /// The Lambda invocation id.
    pub lambda_request_id: Option<String>,
    pub principal: Option<String>,
    pub scopes: Option<String>,
    pub client_id: Option<String>,
    /// The API Gateway stage the request came through.
    pub stage: Option<String>,
}

impl Caller {
    /// Reads the REST (v1) `requestContext.authorizer` fields, or the HTTP API (v2) Lambda or JWT ones.
    pub fn from_request(req: &Request) -> Self {
        let lambda_request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).filter(|id| !id.is_empty());
        let mut caller = Self { lambda_request_id, ..Self::default() };
        match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(ctx)) => {
                caller.request_id = ctx.request_id.clone();
                caller.stage = ctx.stage.clone();
                caller.read_fields(|k| ctx.authorizer.fields.get(k));
            }
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                caller.request_id = ctx.request_id.clone();
                caller.stage = ctx.stage.clone();
                if let Some(auth) = &ctx.authorizer {
                    if let Some(jwt) = &auth.jwt {
                        caller.principal = jwt.claims.get("sub").cloned();
                        caller.client_id = jwt.claims.get("client_id").cloned();
                        caller.scopes = jwt.scopes.as_ref().map(|s| s.join(" "));
                    } else {
                        caller.read_fields(|k| auth.fields.get(k));
                    }
                }
            }
            _ => {}
        }
        caller
    }

    fn read_fields<'a>(&mut self, get: impl Fn(&str) -> Option<&'a Value>) {
        self.principal = get("principalId").or_else(|| get("sub")).and_then(flat);
        self.scopes = get("scopes").or_else(|| get("scope")).and_then(flat);
        self.client_id = get("client_id").and_then(flat);
    }
}

/// A context value as text: strings as they are, arrays joined by spaces, numbers and booleans printed.
fn flat(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(items.iter().filter_map(flat).collect::<Vec<_>>().join(" ")),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}
