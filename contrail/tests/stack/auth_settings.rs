//! `contrail up`'s authorizer reads the variables the function reads, shown through a running stack
//! and real tokens for the two the local stack once missed (the rest: `configuration.rs`).

use serde_json::json;

use crate::common::{Stack, workdir};

#[test]
/// `JWT_COGNITO_GROUPS_AS_SCOPES` and `JWKS_TIMEOUT_MS`, through a running `contrail up` and real tokens.
fn the_two_variables_the_local_stack_once_missed_reach_its_authorizer() {
    const SECRET: &str = "an-hs256-secret-of-at-least-32-bytes-for-the-test";
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": "contrail-local", "aud": "contrail-api", "sub": "crew", "iat": now, "exp": now + 600,
        "cognito:groups": ["flights:read"],
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signing");
    let env = [("JWT_HS256_SECRET", SECRET), ("JWT_COGNITO_GROUPS_AS_SCOPES", "true")];
    let dir = workdir();
    let groups_are_scopes = Stack::start_with_env(dir.path(), &["--no-simulate"], &env);
    assert_eq!(groups_are_scopes.get("/flights", Some(&token)).0, 200, "the group grants flights:read");
    drop(groups_are_scopes);
    let groups_ignored = Stack::start_with_env(dir.path(), &["--no-simulate"], &env[..1]);
    assert_eq!(groups_ignored.get("/flights", Some(&token)).0, 403, "without the variable a group is no scope");
    drop(groups_ignored);

    // A JWKS endpoint that accepts the connection and never answers: the authorizer gives up after
    // JWKS_TIMEOUT_MS and the front answers 500, well before the 2 s default.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a silent JWKS endpoint");
    let jwks_url = format!("http://{}/jwks.json", silent.local_addr().expect("address"));
    let env = [("JWKS_URL", jwks_url.as_str()), ("JWKS_TIMEOUT_MS", "100")];
    let stack = Stack::start_with_env(dir.path(), &["--no-simulate"], &env);
    // An RS256 header with a key id the authorizer must fetch keys for; the signature is never reached.
    let header = contrail_shared::codec::encode_base64(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
    let header = header.trim_end_matches('=').replace('+', "-").replace('/', "_");
    let rs256 = format!("{header}.{}", token.split_once('.').expect("a JWT").1);
    let started = std::time::Instant::now();
    assert_eq!(stack.get("/flights", Some(&rs256)).0, 500, "keys unavailable: the token was not judged");
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_millis(1_500), "gave up after {waited:?}, not after 100 ms");
}
