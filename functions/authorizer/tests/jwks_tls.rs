//! The JWKS fetch over HTTPS and the CAs it trusts. The roots are compiled in (Mozilla's, webpki-roots), so the
//! machine's store is never read at a cold start; an identity provider behind a private CA is trusted through
//! `JWKS_CA_BUNDLE` alone. The server is real TLS (rustls) with the test-only CA of `tests/fixtures/tls`.
//! Its own test binary, because it sets `SSL_CERT_FILE`, `SSL_CERT_DIR` and the `JWT_*` variables, which the
//! whole process reads; one test, so nothing else runs meanwhile. The machine's own values are put back.
//! What no test here can show: a fetch from a public identity provider (no network), which these roots serve.

#[allow(dead_code)]
#[path = "authorizer/common/mod.rs"]
mod common;

use std::ffi::OsStr;

use common::*;
use contrail_authorizer::{State, authorize};
use contrail_shared::auth::{AuthConfig, Rejection};

const VARIABLES: [&str; 6] =
    ["SSL_CERT_FILE", "SSL_CERT_DIR", "JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL", "JWKS_CA_BUNDLE"];

fn set(name: &str, value: Option<&OsStr>) {
    // SAFETY: this binary's one test changes the variables between awaits on the thread that runs it; nothing
    // else in the process reads the environment meanwhile (the clients are built inside those awaits).
    unsafe {
        match value {
            Some(value) => std::env::set_var(name, value),
            None => std::env::remove_var(name),
        }
    }
}

#[tokio::test]
async fn the_jwks_is_fetched_over_tls_trusting_the_compiled_in_roots_or_exactly_the_configured_bundle() {
    let machine = VARIABLES.map(|name| (name, std::env::var_os(name)));
    let key = TestKey::p256("ec-1");
    let server = JwksServer::start_tls(jwks(&[key.jwk()])).await;
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let token = format!("Bearer {}", key.sign("ES256", &claims("flights:read")));

    // The machine's store names the test CA: a client that read it would trust the server. This one refuses
    // the certificate during the handshake, so no request reaches the server.
    set("SSL_CERT_FILE", Some(tls_fixture("ca.pem").as_os_str()));
    set("SSL_CERT_DIR", Some(tls_fixture("").as_os_str()));
    let state = State::new(jwks_config(&server.url)).expect("compiled-in roots need no file");
    match authorize(&state, Some(&token), METHOD_ARN).await {
        Err(Rejection::KeysUnavailable(cause)) => {
            assert!(cause.contains(&server.url), "{cause}");
            assert!(cause.to_lowercase().contains("certificate"), "{cause}");
        }
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
    assert_eq!(server.fetches(), 0, "no request crosses an untrusted connection");
    handshakes_failed_past(&server, 0).await;

    // The bundle named by JWKS_CA_BUNDLE is trusted, read through the variables as in AWS.
    set("JWT_ISSUER", Some(OsStr::new(ISSUER)));
    set("JWT_AUDIENCE", Some(OsStr::new(AUDIENCE)));
    set("JWKS_URL", Some(OsStr::new(&server.url)));
    set("JWKS_CA_BUNDLE", Some(tls_fixture("ca.pem").as_os_str()));
    let mut config = AuthConfig::from_env().expect("config");
    assert_eq!(config.jwks_ca_bundle.as_deref(), Some(tls_fixture("ca.pem").as_path()));
    config.jwks_retry_interval = std::time::Duration::ZERO;
    let state = State::new(config.clone()).expect("bundle");
    let verdict = authorize(&state, Some(&token), METHOD_ARN).await.expect("trusted through the bundle");
    assert!(verdict.is_allow());
    assert_eq!(server.fetches(), 1);

    // Only the bundle is trusted: with another CA's, the handshake fails again.
    let failed_before = server.handshakes_failed();
    config.jwks_ca_bundle = Some(tls_fixture("other-ca.pem"));
    let state = State::new(config.clone()).expect("a parsable bundle");
    assert!(matches!(authorize(&state, Some(&token), METHOD_ARN).await, Err(Rejection::KeysUnavailable(_))));
    assert_eq!(server.fetches(), 1);
    handshakes_failed_past(&server, failed_before).await;

    // A bundle that cannot be read fails the cold start, naming the variable and the file.
    config.jwks_ca_bundle = Some(tls_fixture("missing.pem"));
    let refused = State::new(config).err().expect("a missing bundle is refused at start");
    let refused = format!("{refused:#}");
    assert!(refused.contains("JWKS_CA_BUNDLE") && refused.contains("missing.pem"), "{refused}");

    for (name, value) in &machine {
        set(name, value.as_deref());
    }
}

/// Waits until the server has counted a failed handshake beyond `before`: the client gives up on the
/// certificate before the server's side of the handshake has seen the alert.
async fn handshakes_failed_past(server: &JwksServer, before: usize) {
    let deadline = tokio::time::Instant::now() + PROMPT;
    while server.handshakes_failed() <= before {
        assert!(tokio::time::Instant::now() < deadline, "the server saw no failed handshake");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
