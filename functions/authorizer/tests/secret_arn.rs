//! The authorizer's cold start as deployed: `JWT_HS256_SECRET_ARN` names a secret, read from moto's
//! Secrets Manager through the AWS SDK's default chain (`AWS_ENDPOINT_URL`, credentials and region from
//! the environment, as Lambda gives them). Its own test binary, because it sets process variables; the
//! steps run in one test so nothing reads the environment while it changes.

use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use contrail_authorizer::{State, authorize};
use contrail_shared::auth::{MintRequest, Secret, SigningKey, mint};
use contrail_shared::secrets::SecretError;
use contrail_testkit::moto::MotoServer;

const ISSUER: &str = "https://idp.test.contrail.dev/";
const AUDIENCE: &str = "contrail-api";
const METHOD_ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/prod/GET/flights";
const STORED: &str = "the-hs256-secret-kept-in-secrets-manager-only";

fn set(name: &str, value: &str) {
    // SAFETY: this binary's one test sets variables before anything else reads them, on its only thread
    // that touches the environment, and the runtime's workers do not read it meanwhile.
    unsafe { std::env::set_var(name, value) }
}

fn unset(name: &str) {
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var(name) }
}

fn token(secret: &str) -> String {
    let key = SigningKey::Hs256(Secret::new(secret.as_bytes().to_vec()).expect("long enough"));
    let request = MintRequest {
        sub: "reader".into(),
        scope: "flights:read".into(),
        ttl: Duration::from_secs(300),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        kid: None,
        client_id: None,
    };
    mint(&key, &request).expect("mint")
}

#[tokio::test(flavor = "current_thread")]
async fn the_hs256_secret_is_read_by_arn_at_cold_start_and_never_taken_from_a_variable_beside_it() {
    let Some(moto) = MotoServer::start() else { return };
    set("AWS_ENDPOINT_URL", &moto.endpoint());
    set("AWS_ACCESS_KEY_ID", "test");
    set("AWS_SECRET_ACCESS_KEY", "test");
    set("AWS_REGION", "eu-west-1");
    set("JWT_ISSUER", ISSUER);
    set("JWT_AUDIENCE", AUDIENCE);
    unset("JWT_HS256_SECRET");
    unset("JWKS_URL");

    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = |out: Option<&str>| out.expect("an ARN").to_owned();
    let text = client.create_secret().name("contrail/jwt-hs256").secret_string(STORED).send().await.expect("create");
    let text = arn(text.arn());
    let binary = client
        .create_secret()
        .name("contrail/binary")
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(STORED.as_bytes()))
        .send()
        .await
        .expect("create binary");
    let binary = arn(binary.arn());

    // The secret by ARN: tokens signed with it pass, tokens signed with anything else do not.
    set("JWT_HS256_SECRET_ARN", &text);
    let state = State::from_env().await.expect("cold start with the secret from Secrets Manager");
    let verdict = authorize(&state, Some(&format!("Bearer {}", token(STORED))), METHOD_ARN).await;
    assert!(verdict.expect("a token signed with the stored secret").is_allow());
    let forged = format!("Bearer {}", token("another-secret-of-at-least-32-bytes!!"));
    let forged = authorize(&state, Some(&forged), METHOD_ARN).await;
    assert!(forged.is_err(), "a token signed with another secret must be refused");

    // Both the value and the ARN: refused, since one would be ignored.
    set("JWT_HS256_SECRET", "a-plain-secret-of-at-least-32-bytes-long");
    match State::from_env().await {
        Err(SecretError::Config(e)) => assert_eq!(e.var, "JWT_HS256_SECRET_ARN", "{e}"),
        other => panic!("both set must be a configuration error, got {:?}", other.err()),
    }
    unset("JWT_HS256_SECRET");

    // A secret that does not exist, and one that holds bytes: the cold start fails, naming the variable
    // and the ARN (never a value).
    let missing = text.replace("jwt-hs256", "no-such-secret");
    set("JWT_HS256_SECRET_ARN", &missing);
    match State::from_env().await {
        Err(e @ SecretError::Fetch { .. }) => {
            let message = e.to_string();
            assert!(message.starts_with("JWT_HS256_SECRET_ARN: ") && message.contains(&missing), "{message}");
            assert!(message.contains("ResourceNotFoundException"), "the service's own error is kept: {message}");
        }
        other => panic!("a missing secret must fail the cold start, got {:?}", other.err()),
    }
    set("JWT_HS256_SECRET_ARN", &binary);
    match State::from_env().await {
        Err(e @ SecretError::NotText { .. }) => assert!(!e.to_string().contains(STORED), "{e}"),
        other => panic!("a binary secret must fail the cold start, got {:?}", other.err()),
    }

    // Secrets Manager unreachable (the server gone): the cold start fails, so Lambda tries again.
    set("JWT_HS256_SECRET_ARN", &text);
    drop(moto);
    assert!(matches!(State::from_env().await, Err(SecretError::Fetch { .. })), "an outage fails the cold start");
}
