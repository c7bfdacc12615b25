//! The authorizer Lambda: an API Gateway TOKEN authorizer over bearer JWTs.
//!
//! [`authorize`] holds the decision (Allow, Deny, or a [`Rejection`]) and is what the local stack runs in
//! front of every request; [`handle`] turns it into API Gateway's response: a policy, the exact error
//! `Unauthorized` that API Gateway answers with 401, or a failed invocation when the signing keys cannot
//! be had (API Gateway answers 500: the token was not judged).

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use contrail_shared::auth::{AuthConfig, MethodArn, Policy, Rejection, Verifier};
use contrail_shared::config::{ConfigError, Env};
use contrail_shared::secrets::{self, SecretError, SecretVar};
use contrail_shared::telemetry::LogSettings;
use lambda_runtime::LambdaEvent;

/// Built once per cold start: the verifier and its JWKS cache outlive invocations.
pub struct State {
    verifier: Verifier,
}

impl State {
    /// From explicit configuration (the local stack, tests).
    pub fn new(config: AuthConfig) -> Result<Self, ConfigError> {
        Ok(Self { verifier: Verifier::new(config)? })
    }

    /// From the `JWT_*` / `JWKS_URL` environment variables, the HS256 secret read from Secrets Manager
    /// when `JWT_HS256_SECRET_ARN` names it.
    pub async fn from_env() -> Result<Self, SecretError> {
        let env = secrets::resolve(Env::process(), SECRETS).await?;
        Ok(Self::from_vars(&env)?)
    }

    /// From explicit variables (the local stack's environment over its defaults).
    pub fn from_vars(env: &Env) -> Result<Self, ConfigError> {
        Self::new(AuthConfig::from_vars(env)?)
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

/// The secrets the authorizer may read from Secrets Manager.
pub const SECRETS: &[SecretVar] = &[SecretVar::JWT_HS256_SECRET];

/// Every variable the authorizer reads, as data: the template test holds the template to it.
pub fn environment() -> Vec<&'static str> {
    [LogSettings::VARIABLES, AuthConfig::VARIABLES, &[SecretVar::JWT_HS256_SECRET.arn_var]].concat()
}

/// The errors the authorizer returns. API Gateway reads only the message: exactly `Unauthorized` is a 401;
/// any other message is an authorizer failure (500, or the stage's `AUTHORIZER_FAILURE` response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizerError {
    /// The token is bad: missing, malformed, badly signed, expired, for someone else.
    #[error("Unauthorized")]
    Unauthorized,
    /// The signing keys cannot be had (JWKS endpoint down, slow or serving garbage): the token was not
    /// judged, so the caller must not be told to throw it away.
    #[error("signing keys unavailable")]
    KeysUnavailable,
}

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    /// API Gateway reads only `errorMessage`; it must be exactly `Unauthorized` to become a 401.
    fn from(e: AuthorizerError) -> Self {
        let error_type = match e {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::KeysUnavailable => "KeysUnavailable",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// Who the caller is, as passed on to the backend (flat strings only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    pub sub: String,
    /// Space-separated.
    pub scopes: String,
    pub client_id: String,
}

impl AuthContext {
    /// The `context` object of the response (never null).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "sub": self.sub, "scopes": self.scopes, "client_id": self.client_id })
    }
}

/// A verified caller and the policy covering every route of the stage for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub principal_id: String,
    pub context: AuthContext,
    pub policy: Policy,
}

/// The outcome for a valid token: allowed on the requested route (Allow), or not (Deny, a 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow(Grant),
    Deny(Grant),
}

impl Verdict {
    pub fn grant(&self) -> &Grant {
        match self {
            Verdict::Allow(g) | Verdict::Deny(g) => g,
        }
    }

    pub fn is_allow(&self) -> bool {
        matches!(self, Verdict::Allow(_))
    }
}

/// Decides on one request from its `Authorization` header value and method ARN. An `Err` means 401, except
/// a [`Rejection::is_key_outage`] one, which means the decision could not be made.
pub async fn authorize(state: &State, authorization: Option<&str>, method_arn: &str) -> Result<Verdict, Rejection> {
    let token = bearer_token(authorization)?;
    let arn = MethodArn::parse(method_arn).ok_or(Rejection::BadMethodArn)?;
    let claims = state.verifier.verify(token).await?;
    let policy = state.verifier.config().scope_rules.policy(&arn, &claims.scopes);
    let grant = Grant {
        principal_id: claims.sub.clone(),
        context: AuthContext { sub: claims.sub, scopes: claims.scopes.join(" "), client_id: claims.client_id },
        policy,
    };
    Ok(if grant.policy.permits(arn.as_str()) { Verdict::Allow(grant) } else { Verdict::Deny(grant) })
}

/// The Lambda handler. Every rejection becomes `Unauthorized`, except a key outage, which fails the
/// invocation; the reason is logged, never the token.
pub async fn handle(
    state: &State,
    event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>,
) -> Result<ApiGatewayCustomAuthorizerResponse, AuthorizerError> {
    let request = event.payload;
    let method_arn = request.method_arn.as_deref().unwrap_or_default();
    match authorize(state, request.authorization_token.as_deref(), method_arn).await {
        Ok(verdict) => {
            let allowed = verdict.is_allow();
            let grant = verdict.grant();
            if allowed {
                tracing::debug!(sub = %grant.principal_id, "allowed");
            } else {
                tracing::info!(sub = %grant.principal_id, scopes = %grant.context.scopes, method_arn, "denied: missing scope");
            }
            Ok(response(grant))
        }
        Err(rejection) if rejection.is_key_outage() => {
            tracing::error!(reason = %rejection, method_arn, "cannot verify tokens: failing the invocation");
            Err(AuthorizerError::KeysUnavailable)
        }
        Err(rejection) => {
            tracing::info!(reason = %rejection, method_arn, "unauthorized");
            Err(AuthorizerError::Unauthorized)
        }
    }
}

/// Extracts the token from `Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(header: Option<&str>) -> Result<&str, Rejection> {
    let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(Rejection::MissingToken)?;
    let Some((scheme, token)) = header.split_once(char::is_whitespace) else {
        return Err(if header.eq_ignore_ascii_case("bearer") {
            Rejection::Malformed("empty token")
        } else {
            Rejection::BadScheme
        });
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::BadScheme);
    }
    Ok(token.trim())
}

fn response(grant: &Grant) -> ApiGatewayCustomAuthorizerResponse {
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".into());
    for (effect, resources) in
        [(IamPolicyEffect::Allow, &grant.policy.allow), (IamPolicyEffect::Deny, &grant.policy.deny)]
    {
        if resources.is_empty() {
            continue;
        }
        let mut statement = IamPolicyStatement::default();
        statement.action = vec!["execute-api:Invoke".into()];
        statement.effect = effect;
        statement.resource = resources.clone();
        document.statement.push(statement);
    }
    let mut out = ApiGatewayCustomAuthorizerResponse::default();
    out.principal_id = Some(grant.principal_id.clone());
    out.policy_document = document;
    out.context = grant.context.to_json();
    out
}
