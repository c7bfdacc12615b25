//! The JWKS client is built on the first fetch, not at cold start, so that loading the machine's CA
//! certificates does not delay the runtime's first poll. This proves what that costs when the certificates
//! are missing: the fetch fails with a reason naming them (keys unavailable, which fails the invocation: no
//! token is judged) and the next fetch builds the client again. Its own test binary, because it sets
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`, which every TLS client of the process reads; one test, so nothing else
//! runs meanwhile. The machine's own values (if any) are put back before the second fetch.

#[allow(dead_code)]
#[path = "authorizer/common/mod.rs"]
mod common;

use std::time::Duration;

use common::*;
use contrail_authorizer::{State, authorize};
use contrail_shared::auth::Rejection;

fn set(name: &str, value: Option<&std::ffi::OsStr>) {
    // SAFETY: this binary's one test changes the variables between fetches, on the thread that runs them;
    // the client is built on a blocking thread that the test awaits, so no read overlaps a change.
    unsafe {
        match value {
            Some(value) => std::env::set_var(name, value),
            None => std::env::remove_var(name),
        }
    }
}

#[tokio::test]
async fn without_ca_certificates_the_jwks_fetch_fails_with_the_reason_and_is_retried() {
    let nowhere = std::env::temp_dir().join(format!("contrail-no-certificates-{}", std::process::id()));
    assert!(!nowhere.exists());
    let machine = ["SSL_CERT_FILE", "SSL_CERT_DIR"].map(|name| (name, std::env::var_os(name)));
    set("SSL_CERT_FILE", Some(nowhere.join("bundle.pem").as_os_str()));
    set("SSL_CERT_DIR", Some(nowhere.as_os_str()));

    let key = TestKey::p256("ec-1");
    let server = JwksServer::start(jwks(&[key.jwk()])).await;
    let mut config = jwks_config(&server.url);
    config.jwks_retry_interval = Duration::from_millis(200);
    // Building the state reads no certificate: with none on the machine it still succeeds.
    let state = State::new(config).unwrap();
    let token = key.sign("ES256", &claims("flights:read"));

    match authorize(&state, Some(&format!("Bearer {token}")), METHOD_ARN).await {
        Err(Rejection::KeysUnavailable(cause)) => {
            assert!(cause.contains("cannot build the HTTP client"), "{cause}");
            assert!(cause.contains("CA certificates"), "{cause}");
        }
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
    assert_eq!(server.fetches(), 0, "no request can go out without a client");

    for (name, value) in &machine {
        set(name, value.as_deref());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let verdict = authorize(&state, Some(&format!("Bearer {token}")), METHOD_ARN).await.expect("keys now");
    assert!(verdict.is_allow());
    assert_eq!(server.fetches(), 1);
}
