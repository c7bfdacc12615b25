//! The Lambda handler's response as API Gateway reads it: policy, principal, flat context, and the
//! sample event in `events/`.

use crate::common::*;
use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerResponse};
use contrail_authorizer::{State, Verdict, authorize, handle};
use contrail_shared::auth::{AuthConfig, KeySources, ScopeRules, Secret};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

/// The configuration the sample token in `events/authorizer-token.json` was signed for.
fn sample_config() -> AuthConfig {
    let secret = Secret::new(b"contrail-sample-secret-for-events-and-tests-only".to_vec()).unwrap();
    AuthConfig::new(
        "contrail-local",
        "contrail-api",
        KeySources { jwks_url: None, jwks_inline: None, hs256_secret: Some(secret) },
    )
}

async fn respond(state: &State, token: &str, method_arn: &str) -> Value {
    let mut request = ApiGatewayCustomAuthorizerRequest::default();
    request.authorization_token = Some(format!("Bearer {token}"));
    request.method_arn = Some(method_arn.into());
    let response = handle(state, LambdaEvent::new(request, Context::default())).await.unwrap();
    serde_json::to_value(response).unwrap()
}

#[tokio::test]
async fn the_sample_event_is_allowed_under_the_sample_configuration() {
    let request: ApiGatewayCustomAuthorizerRequest =
        serde_json::from_str(&contrail_testkit::event_file("authorizer-token.json")).unwrap();
    let state = State::new(sample_config()).unwrap();
    let response = handle(&state, LambdaEvent::new(request, Context::default())).await.unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["principalId"], "sample-user");
    assert_eq!(json["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(json["context"], json!({"sub": "sample-user", "scopes": "flights:read", "client_id": "contrail-cli"}));
}

#[tokio::test]
async fn an_allowed_token_gets_a_stage_wide_policy_and_a_flat_context() {
    let state = State::new(secret_config()).unwrap();
    let token = sign_hs256(SECRET, &json!({"alg": "HS256"}), &claims("flights:read stats:read"));
    let json = respond(&state, &token, METHOD_ARN).await;
    assert_eq!(json["principalId"], "user-42");
    assert_eq!(
        json["policyDocument"],
        json!({
            "Version": "2012-10-17",
            "Statement": [{ "Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [STAGE_GET_WILDCARD] }]
        })
    );
    assert_eq!(
        json["context"],
        json!({"sub": "user-42", "scopes": "flights:read stats:read", "client_id": "app-client-7"})
    );
    for value in json["context"].as_object().unwrap().values() {
        assert!(value.is_string(), "context values must be flat: {value}");
    }
}

#[tokio::test]
async fn a_valid_token_without_the_scope_gets_a_deny_policy() {
    let state = State::new(secret_config()).unwrap();
    let token = sign_hs256(SECRET, &json!({"alg": "HS256"}), &claims("profile email"));
    let json = respond(&state, &token, METHOD_ARN).await;
    let statements = json["policyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Deny");
    assert_eq!(statements[0]["Resource"], json!([STAGE_GET_WILDCARD]));
    assert_eq!(json["principalId"], "user-42");
    assert!(json["context"].is_object(), "context is {{}}-shaped, never null");
}

#[tokio::test]
async fn a_token_without_any_scope_claim_gets_a_deny_policy() {
    let state = State::new(secret_config()).unwrap();
    let mut c = claims("");
    c.as_object_mut().unwrap().remove("scope");
    let token = sign_hs256(SECRET, &json!({"alg": "HS256"}), &c);
    let verdict = authorize(&state, Some(&format!("Bearer {token}")), METHOD_ARN).await.unwrap();
    assert!(matches!(verdict, Verdict::Deny(_)));
    assert_eq!(verdict.grant().context.scopes, "");
}

#[tokio::test]
async fn scopes_come_from_scp_arrays_and_optionally_from_cognito_groups() {
    let mut config = secret_config();
    config.scope_rules = ScopeRules::parse("GET /stats=stats:read;GET /flights/*=flights:read").unwrap();
    config.cognito_groups_as_scopes = true;
    let state = State::new(config).unwrap();
    let mut c = claims("");
    c.as_object_mut().unwrap().remove("scope");
    c["scp"] = json!(["flights:read"]);
    c["cognito:groups"] = json!(["stats:read"]);
    let token = sign_hs256(SECRET, &json!({"alg": "HS256"}), &c);
    let verdict = authorize(&state, Some(&format!("Bearer {token}")), METHOD_ARN).await.unwrap();
    assert_eq!(verdict.grant().context.scopes, "flights:read stats:read");
    assert!(verdict.is_allow());

    let without_groups = State::new(secret_config()).unwrap();
    let verdict = authorize(&without_groups, Some(&format!("Bearer {token}")), METHOD_ARN).await.unwrap();
    assert_eq!(verdict.grant().context.scopes, "flights:read", "groups are ignored unless configured");
}

#[tokio::test]
async fn per_route_rules_decide_by_route_and_the_policy_covers_the_other_routes_too() {
    let mut config = secret_config();
    config.scope_rules = ScopeRules::parse("GET /stats=stats:read;GET /flights/*=flights:read").unwrap();
    let state = State::new(config).unwrap();
    let token = sign_hs256(SECRET, &json!({"alg": "HS256"}), &claims("flights:read"));
    let stats = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/prod/GET/stats";
    let on_flights = authorize(&state, Some(&format!("Bearer {token}")), METHOD_ARN).await.unwrap();
    assert!(on_flights.is_allow());
    assert!(!on_flights.grant().policy.permits(stats), "a cached Allow must not open /stats");
    let on_stats = authorize(&state, Some(&format!("Bearer {token}")), stats).await.unwrap();
    assert!(!on_stats.is_allow());
    assert!(on_stats.grant().policy.permits(METHOD_ARN), "a cached Deny must not close /flights");
}

#[tokio::test]
async fn the_response_round_trips_through_the_lambda_event_type() {
    let state = State::new(secret_config()).unwrap();
    let token = sign_hs256(SECRET, &json!({"alg": "HS256"}), &claims("flights:read"));
    let json = respond(&state, &token, METHOD_ARN).await;
    let parsed: ApiGatewayCustomAuthorizerResponse = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(parsed).unwrap(), json);
}
