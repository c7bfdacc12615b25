//! Tokens signed with real keys for each algorithm, verified through a JWKS served over loopback HTTP:
//! key rotation, unknown key ids, and an endpoint that goes away (which fails the invocation instead of
//! answering 401: the token was not judged).

use std::time::{Duration, Instant};

use crate::common::*;
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use contrail_authorizer::{AuthorizerError, State, Verdict, authorize, handle};
use contrail_shared::auth::Rejection;
use lambda_runtime::{Context, LambdaEvent};

async fn verdict(state: &State, token: &str) -> Result<Verdict, Rejection> {
    authorize(state, Some(&format!("Bearer {token}")), METHOD_ARN).await
}

/// The handler's error for a token: what API Gateway acts on.
async fn handler_error(state: &State, token: &str) -> AuthorizerError {
    let mut request = ApiGatewayCustomAuthorizerRequest::default();
    request.type_ = Some("TOKEN".into());
    request.authorization_token = Some(format!("Bearer {token}"));
    request.method_arn = Some(METHOD_ARN.into());
    handle(state, LambdaEvent::new(request, Context::default())).await.expect_err("no policy")
}

/// A failed invocation (API Gateway answers 500), never the 401 that makes clients drop the token.
fn assert_fails_the_invocation(err: AuthorizerError) {
    assert_eq!(err, AuthorizerError::KeysUnavailable);
    assert_ne!(err.to_string(), "Unauthorized");
    assert_ne!(lambda_runtime::Diagnostic::from(err).error_message, "Unauthorized");
}

async fn accepts_a_token_signed_with(key: TestKey, alg: &str) {
    let server = JwksServer::start(jwks(&[key.jwk()])).await;
    let state = State::new(jwks_config(&server.url)).unwrap();
    let token = key.sign(alg, &claims("flights:read"));
    match verdict(&state, &token).await {
        Ok(Verdict::Allow(grant)) => {
            assert_eq!(grant.principal_id, "user-42");
            assert_eq!(grant.context.scopes, "flights:read");
            assert_eq!(grant.context.client_id, "app-client-7");
        }
        other => panic!("{alg}: expected Allow, got {other:?}"),
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn rs256_tokens_from_the_jwks_are_accepted() {
    accepts_a_token_signed_with(TestKey::rsa("rsa-1"), "RS256").await;
}

#[tokio::test]
async fn rs384_tokens_from_the_jwks_are_accepted() {
    accepts_a_token_signed_with(TestKey::rsa("rsa-1"), "RS384").await;
}

#[tokio::test]
async fn rs512_tokens_from_the_jwks_are_accepted() {
    accepts_a_token_signed_with(TestKey::rsa("rsa-1"), "RS512").await;
}

#[tokio::test]
async fn ps256_tokens_from_the_jwks_are_accepted() {
    accepts_a_token_signed_with(TestKey::rsa("rsa-1"), "PS256").await;
}

#[tokio::test]
async fn es256_tokens_from_the_jwks_are_accepted() {
    accepts_a_token_signed_with(TestKey::p256("ec-1"), "ES256").await;
}

#[tokio::test]
async fn es384_tokens_from_the_jwks_are_accepted() {
    accepts_a_token_signed_with(TestKey::p384("ec-1"), "ES384").await;
}

#[tokio::test]
async fn eddsa_tokens_from_the_jwks_are_accepted() {
    accepts_a_token_signed_with(TestKey::ed25519("ed-1"), "EdDSA").await;
}

#[tokio::test]
async fn hs256_tokens_signed_with_the_shared_secret_are_accepted() {
    let state = State::new(secret_config()).unwrap();
    let token = sign_hs256(SECRET, &serde_json::json!({"alg": "HS256", "typ": "JWT"}), &claims("flights:read"));
    assert!(verdict(&state, &token).await.unwrap().is_allow());
}

#[tokio::test]
async fn keys_are_fetched_once_and_reused_across_requests() {
    let key = TestKey::p256("ec-1");
    let server = JwksServer::start(jwks(&[key.jwk()])).await;
    let state = State::new(jwks_config(&server.url)).unwrap();
    for _ in 0..20 {
        assert!(verdict(&state, &key.sign("ES256", &claims("flights:read"))).await.unwrap().is_allow());
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn a_rotated_in_key_is_accepted_after_the_refresh_interval() {
    let old = TestKey::p256("2026-10");
    let new = TestKey::rsa("2026-11");
    let server = JwksServer::start(jwks(&[old.jwk()])).await;
    let mut config = jwks_config(&server.url);
    config.jwks_refresh_interval = Duration::from_millis(400);
    let state = State::new(config).unwrap();
    assert!(verdict(&state, &old.sign("ES256", &claims("flights:read"))).await.unwrap().is_allow());

    server.publish(jwks(&[old.jwk(), new.jwk()]));
    tokio::time::sleep(Duration::from_millis(450)).await;
    let token = new.sign("RS256", &claims("flights:read"));
    assert!(verdict(&state, &token).await.unwrap().is_allow(), "the new kid triggers one refresh");
    assert!(verdict(&state, &old.sign("ES256", &claims("flights:read"))).await.unwrap().is_allow());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn unknown_key_ids_trigger_at_most_one_refresh_per_interval() {
    let known = TestKey::p256("known");
    let server = JwksServer::start(jwks(&[known.jwk()])).await;
    let mut config = jwks_config(&server.url);
    config.jwks_refresh_interval = Duration::from_secs(1);
    let state = State::new(config).unwrap();
    assert!(verdict(&state, &known.sign("ES256", &claims("flights:read"))).await.unwrap().is_allow());
    assert_eq!(server.fetches(), 1);

    tokio::time::sleep(Duration::from_millis(1_050)).await;
    let stranger = TestKey::p256("stranger");
    for i in 0..50 {
        let forged = TestKey::p256(&format!("forged-{i}"));
        let result = verdict(&state, &forged.sign("ES256", &claims("flights:read"))).await;
        assert!(matches!(result, Err(Rejection::UnknownKid(_))), "{result:?}");
    }
    assert_eq!(server.fetches(), 2, "fifty unknown kids, one refresh");

    server.publish(jwks(&[known.jwk(), stranger.jwk()]));
    let early = verdict(&state, &stranger.sign("ES256", &claims("flights:read"))).await;
    assert!(matches!(early, Err(Rejection::UnknownKid(_))), "still inside the interval: {early:?}");
    assert_eq!(server.fetches(), 2);

    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert!(verdict(&state, &stranger.sign("ES256", &claims("flights:read"))).await.unwrap().is_allow());
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() {
    let key = TestKey::rsa("rsa-1");
    let mut server = JwksServer::start(jwks(&[key.jwk()])).await;
    let mut config = jwks_config(&server.url);
    config.jwks_refresh_interval = Duration::from_millis(10);
    config.jwks_max_age = Duration::from_millis(10);
    let state = State::new(config).unwrap();
    assert!(verdict(&state, &key.sign("RS256", &claims("flights:read"))).await.unwrap().is_allow());

    server.stop().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    assert!(
        verdict(&state, &key.sign("RS256", &claims("flights:read"))).await.unwrap().is_allow(),
        "the stale-key refresh fails, the cached key still verifies"
    );
    // A kid the cached set lacks may be a rotated-in key the endpoint cannot tell us about: not a 401.
    let unknown = TestKey::rsa("rsa-2");
    let token = unknown.sign("RS256", &claims("flights:read"));
    let result = verdict(&state, &token).await;
    assert!(matches!(result, Err(Rejection::KeysUnavailable(ref cause)) if cause.contains("rsa-2")), "{result:?}");
    assert_fails_the_invocation(handler_error(&state, &token).await);
    assert!(started.elapsed() < PROMPT);
}

#[tokio::test]
async fn with_no_keys_cached_an_unreachable_jwks_fails_the_invocation_and_says_why() {
    let closed = contrail_testkit::ClosedPort::new();
    let state = State::new(jwks_config(&format!("http://127.0.0.1:{}/jwks.json", closed.port))).unwrap();
    let key = TestKey::p256("ec-1");
    let token = key.sign("ES256", &claims("flights:read"));
    match verdict(&state, &token).await {
        Err(Rejection::KeysUnavailable(cause)) => assert!(cause.contains("127.0.0.1"), "{cause}"),
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
    assert_fails_the_invocation(handler_error(&state, &token).await);
}

#[tokio::test]
async fn with_no_keys_cached_a_failing_jwks_is_retried_only_after_the_retry_interval() {
    let key = TestKey::p256("ec-1");
    let server = JwksServer::start(jwks(&[key.jwk()])).await;
    server.fail();
    let mut config = jwks_config(&server.url);
    config.jwks_retry_interval = Duration::from_millis(300);
    let state = State::new(config).unwrap();
    for _ in 0..10 {
        match verdict(&state, &key.sign("ES256", &claims("flights:read"))).await {
            Err(Rejection::KeysUnavailable(cause)) => assert!(cause.contains("503"), "{cause}"),
            other => panic!("expected KeysUnavailable, got {other:?}"),
        }
    }
    assert_fails_the_invocation(handler_error(&state, &key.sign("ES256", &claims("flights:read"))).await);
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn a_jwks_endpoint_that_never_answers_times_out_quickly() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = jwks_config(&format!("http://{addr}/jwks.json"));
    config.jwks_timeout = Duration::from_millis(300);
    let state = State::new(config).unwrap();
    let started = Instant::now();
    let result = verdict(&state, &TestKey::p256("ec-1").sign("ES256", &claims("flights:read"))).await;
    assert!(matches!(result, Err(Rejection::KeysUnavailable(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn keys_the_verifier_cannot_use_are_skipped_not_fatal() {
    let key = TestKey::ed25519("ed-1");
    let doc = jwks(&[
        serde_json::json!({"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}),
        serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}),
        serde_json::json!({"kty": "EC", "kid": "bad", "crv": "P-521", "x": "AA", "y": "AA"}),
        key.jwk(),
    ]);
    let server = JwksServer::start(doc).await;
    let state = State::new(jwks_config(&server.url)).unwrap();
    assert!(verdict(&state, &key.sign("EdDSA", &claims("flights:read"))).await.unwrap().is_allow());
    let sym = sign_hs256(b"secret", &serde_json::json!({"alg": "HS256", "kid": "sym"}), &claims("flights:read"));
    assert!(verdict(&state, &sym).await.is_err(), "a symmetric JWKS key is never used");
}

/// Each JWKS fetch is an X-Ray subsegment of the invocation that made it: the method, the URL, the
/// status, and a fault when the endpoint fails (gathered in memory by `xray::collect`, as the local stack
/// does; Lambda's path differs only in where the document goes).
#[tokio::test]
async fn each_jwks_fetch_is_an_http_subsegment_with_its_status() {
    use contrail_shared::xray::{TraceHeader, collect};
    let header = TraceHeader::parse("Root=1-6553f100-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1")
        .expect("a header");
    let key = TestKey::rsa("rsa-1");
    let token = key.sign("RS256", &claims("flights:read"));

    let server = JwksServer::start(jwks(&[key.jwk()])).await;
    let state = State::new(jwks_config(&server.url)).unwrap();
    let (answer, docs) = collect(header.clone(), verdict(&state, &token)).await;
    assert!(matches!(answer, Ok(Verdict::Allow(_))), "{answer:?}");
    assert_eq!(docs.len(), 1, "one fetch: {docs:#?}");
    let doc = &docs[0];
    assert_eq!(doc["namespace"], "remote");
    assert_eq!(doc["name"], "127.0.0.1");
    assert_eq!(doc["http"]["request"]["method"], "GET");
    assert_eq!(doc["http"]["request"]["url"], server.url.as_str());
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert!(doc.get("fault").is_none() && doc.get("error").is_none(), "{doc}");
    let (again, docs) = collect(header.clone(), verdict(&state, &token)).await;
    assert!(again.is_ok());
    assert!(docs.is_empty(), "cached keys: no fetch, no subsegment: {docs:#?}");

    let down = JwksServer::start(jwks(&[key.jwk()])).await;
    down.fail();
    let state = State::new(jwks_config(&down.url)).unwrap();
    let (answer, docs) = collect(header, verdict(&state, &token)).await;
    assert!(answer.is_err());
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["http"]["response"]["status"], 503);
    assert_eq!(docs[0]["fault"], true, "{}", docs[0]);
    assert!(docs[0]["cause"]["exceptions"][0]["message"].as_str().is_some_and(|m| m.contains("503")), "{}", docs[0]);
}
