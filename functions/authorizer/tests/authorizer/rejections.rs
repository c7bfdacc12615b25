//! Every way a request is turned away with 401: each has its own test, checks the logged reason, and
//! checks that the handler answers exactly `Unauthorized`.

use crate::common::*;
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use contrail_authorizer::{AuthorizerError, State, authorize, handle};
use contrail_shared::auth::Rejection;
use jsonwebtoken::Algorithm;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

struct Fixture {
    _server: JwksServer,
    state: State,
    rsa: TestKey,
    ec: TestKey,
}

/// A JWKS with an RSA key pinned to RS256 and a P-256 key.
async fn fixture() -> Fixture {
    let rsa = TestKey::rsa("rsa-1");
    let ec = TestKey::p256("ec-1");
    let server = JwksServer::start(jwks(&[rsa.jwk_with_alg("RS256"), ec.jwk()])).await;
    let state = State::new(jwks_config(&server.url)).unwrap();
    Fixture { _server: server, state, rsa, ec }
}

/// Asserts a 401 through both entry points and returns the logged reason.
async fn rejected(state: &State, authorization: Option<&str>) -> Rejection {
    let mut request = ApiGatewayCustomAuthorizerRequest::default();
    request.type_ = Some("TOKEN".into());
    request.authorization_token = authorization.map(String::from);
    request.method_arn = Some(METHOD_ARN.into());
    let err = handle(state, LambdaEvent::new(request, Context::default())).await.unwrap_err();
    assert_eq!(err, AuthorizerError::Unauthorized);
    assert_eq!(err.to_string(), "Unauthorized");
    authorize(state, authorization, METHOD_ARN).await.unwrap_err()
}

async fn rejected_token(state: &State, token: &str) -> Rejection {
    rejected(state, Some(&format!("Bearer {token}"))).await
}

#[tokio::test]
async fn a_request_without_an_authorization_header_is_unauthorized() {
    let f = fixture().await;
    assert_eq!(rejected(&f.state, None).await, Rejection::MissingToken);
    assert_eq!(rejected(&f.state, Some("   ")).await, Rejection::MissingToken);
}

#[tokio::test]
async fn a_credential_that_is_not_bearer_is_unauthorized() {
    let f = fixture().await;
    let token = f.rsa.sign("RS256", &claims("flights:read"));
    assert_eq!(rejected(&f.state, Some(&format!("Basic {token}"))).await, Rejection::BadScheme);
    assert_eq!(rejected(&f.state, Some(&token)).await, Rejection::BadScheme, "a bare token has no scheme");
}

#[tokio::test]
async fn a_malformed_token_is_unauthorized() {
    let f = fixture().await;
    for bad in ["", "abc", "a.b", "a.b.c.d", "not base64!.x.y", "eyJhbGciOiJSUzI1NiJ9.%%%.sig", "e30.e30.AA"] {
        let reason = rejected(&f.state, Some(&format!("Bearer {bad}"))).await;
        assert!(matches!(reason, Rejection::Malformed(_)), "{bad:?}: {reason:?}");
    }
    let header = b64(br#"{"alg":"RS256","kid":"rsa-1"}"#);
    let garbage_claims = format!("{header}.{}.{}", b64(b"[1,2"), b64(b"sig"));
    assert!(matches!(
        rejected_token(&f.state, &garbage_claims).await,
        Rejection::BadSignature | Rejection::Malformed(_)
    ));
}

#[tokio::test]
async fn a_token_with_a_bad_signature_is_unauthorized() {
    let f = fixture().await;
    let token = f.rsa.sign("RS256", &claims("flights:read"));
    let (message, _) = token.rsplit_once('.').unwrap();
    let other = TestKey::rsa("rsa-1").sign("RS256", &claims("flights:read"));
    let (_, foreign_signature) = other.rsplit_once('.').unwrap();
    assert_eq!(rejected_token(&f.state, &format!("{message}.{foreign_signature}")).await, Rejection::BadSignature);

    let mut tampered = claims("flights:read");
    tampered["scope"] = json!("flights:read admin");
    let (_, signature) = token.rsplit_once('.').unwrap();
    let forged = format!("{}.{}.{signature}", message.split('.').next().unwrap(), b64(tampered.to_string().as_bytes()));
    assert_eq!(rejected_token(&f.state, &forged).await, Rejection::BadSignature);
}

#[tokio::test]
async fn an_expired_token_is_unauthorized() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c["exp"] = json!(now() - 31);
    assert_eq!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::Expired);
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_is_still_accepted() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c["exp"] = json!(now() - 10);
    assert!(authorize(&f.state, Some(&format!("Bearer {}", f.ec.sign("ES256", &c))), METHOD_ARN).await.is_ok());
}

#[tokio::test]
async fn a_token_whose_nbf_is_in_the_future_is_unauthorized() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c["nbf"] = json!(now() + 120);
    assert_eq!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::NotYetValid);
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_unauthorized() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c["iat"] = json!(now() + 120);
    assert_eq!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::IssuedInFuture);
}

#[tokio::test]
async fn a_token_from_another_issuer_is_unauthorized() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c["iss"] = json!("https://evil.example/");
    assert_eq!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::WrongIssuer);
    c.as_object_mut().unwrap().remove("iss");
    assert_eq!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::WrongIssuer);
}

#[tokio::test]
async fn a_token_for_another_audience_is_unauthorized() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    for aud in [json!("another-api"), json!(["another-api", "third-api"]), json!([]), json!(null), json!(7)] {
        c["aud"] = aud.clone();
        assert_eq!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::WrongAudience, "{aud}");
    }
}

#[tokio::test]
async fn an_audience_array_containing_the_api_is_accepted() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c["aud"] = json!(["another-api", AUDIENCE]);
    assert!(authorize(&f.state, Some(&format!("Bearer {}", f.ec.sign("ES256", &c))), METHOD_ARN).await.is_ok());
}

#[tokio::test]
async fn an_alg_none_token_is_unauthorized() {
    let f = fixture().await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": "rsa-1"}).to_string();
        let token = format!("{}.{}.", b64(header.as_bytes()), b64(claims("flights:read").to_string().as_bytes()));
        assert_eq!(rejected_token(&f.state, &token).await, Rejection::AlgNone);
    }
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_jwks_public_key_is_unauthorized() {
    let f = fixture().await;
    let public_key = f.rsa.jwk().to_string();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"});
    let token = sign_hs256(public_key.as_bytes(), &header, &claims("flights:read"));
    assert_eq!(rejected_token(&f.state, &token).await, Rejection::AlgorithmNotAllowed(Algorithm::HS256));
}

#[tokio::test]
async fn an_hs256_token_signed_with_a_public_key_fails_even_when_a_secret_is_configured() {
    let rsa = TestKey::rsa("rsa-1");
    let server = JwksServer::start(jwks(&[rsa.jwk()])).await;
    let mut config = jwks_config(&server.url);
    config.keys.hs256_secret = secret_config().keys.hs256_secret;
    let state = State::new(config).unwrap();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"});
    let token = sign_hs256(rsa.jwk()["n"].as_str().unwrap().as_bytes(), &header, &claims("flights:read"));
    assert_eq!(rejected_token(&state, &token).await, Rejection::BadSignature);
}

#[tokio::test]
async fn an_algorithm_not_allowed_for_the_key_is_unauthorized() {
    let f = fixture().await;
    let pss = f.rsa.sign("PS256", &claims("flights:read"));
    assert_eq!(
        rejected_token(&f.state, &pss).await,
        Rejection::AlgorithmNotAllowedForKey { alg: Algorithm::PS256, kid: "rsa-1".into() }
    );
    let header = json!({"alg": "ES384", "typ": "JWT", "kid": "ec-1"});
    let curve_mismatch = TestKey::p384("ec-1").sign_with_header(&header, &claims("flights:read"));
    assert_eq!(
        rejected_token(&f.state, &curve_mismatch).await,
        Rejection::AlgorithmNotAllowedForKey { alg: Algorithm::ES384, kid: "ec-1".into() }
    );
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": "rsa-1"});
    let family_mismatch = f.ec.sign_with_header(&header, &claims("flights:read"));
    assert!(matches!(rejected_token(&f.state, &family_mismatch).await, Rejection::AlgorithmNotAllowedForKey { .. }));
}

#[tokio::test]
async fn an_algorithm_outside_the_configured_allow_list_is_unauthorized() {
    let ec = TestKey::p256("ec-1");
    let server = JwksServer::start(jwks(&[ec.jwk()])).await;
    let mut config = jwks_config(&server.url);
    config.algorithms = Some(vec![Algorithm::RS256]);
    let state = State::new(config).unwrap();
    let token = ec.sign("ES256", &claims("flights:read"));
    assert_eq!(rejected_token(&state, &token).await, Rejection::AlgorithmNotAllowed(Algorithm::ES256));
    assert_eq!(server.fetches(), 0, "refused before any key lookup");
}

#[tokio::test]
async fn an_oversize_token_is_unauthorized_without_being_parsed() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c["padding"] = json!("x".repeat(8 * 1024));
    let token = f.ec.sign("ES256", &c);
    assert_eq!(rejected_token(&f.state, &token).await, Rejection::Oversize(token.len()));
    let junk = "!".repeat(8 * 1024 + 1);
    assert_eq!(
        rejected_token(&f.state, &junk).await,
        Rejection::Oversize(junk.len()),
        "not even the charset is looked at"
    );
}

#[tokio::test]
async fn a_token_without_exp_is_unauthorized() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::MissingExp);
    c["exp"] = json!("tomorrow");
    assert!(matches!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::Malformed(_)));
}

#[tokio::test]
async fn a_token_with_an_unknown_kid_is_unauthorized() {
    let f = fixture().await;
    let token = TestKey::p256("not-in-the-set").sign("ES256", &claims("flights:read"));
    assert_eq!(rejected_token(&f.state, &token).await, Rejection::UnknownKid("not-in-the-set".into()));
}

#[tokio::test]
async fn a_token_without_a_subject_or_client_is_unauthorized() {
    let f = fixture().await;
    let mut c = claims("flights:read");
    c.as_object_mut().unwrap().remove("sub");
    c.as_object_mut().unwrap().remove("client_id");
    assert_eq!(rejected_token(&f.state, &f.ec.sign("ES256", &c)).await, Rejection::MissingSubject);
}

#[tokio::test]
async fn an_unusable_method_arn_is_unauthorized() {
    let f = fixture().await;
    let token = f.ec.sign("ES256", &claims("flights:read"));
    let mut request = ApiGatewayCustomAuthorizerRequest::default();
    request.authorization_token = Some(format!("Bearer {token}"));
    request.method_arn = Some("arn:aws:lambda:eu-west-1:123456789012:function:x".into());
    let err = handle(&f.state, LambdaEvent::new(request, Context::default())).await.unwrap_err();
    assert_eq!(err.to_string(), "Unauthorized");
}

/// Collects formatted log lines in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_reason_is_logged_and_the_token_is_not() {
    let f = fixture().await;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Other tests of this binary hit the same log lines at the same time on threads without a subscriber; a
    // line first registered there while this thread's subscriber was being set can keep an interest of
    // "never" cached (seen: the rejection missing from the capture once in several full runs). Asking every
    // line again, now that this subscriber exists, makes the capture see it.
    tracing::callsite::rebuild_interest_cache();
    let mut c = claims("flights:read");
    c["exp"] = json!(now() - 3600);
    let token = f.ec.sign("ES256", &c);
    assert_eq!(rejected_token(&f.state, &token).await, Rejection::Expired);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("token expired"), "{text}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature) && !text.contains(&token[..40]), "the token leaked into the logs: {text}");
}
