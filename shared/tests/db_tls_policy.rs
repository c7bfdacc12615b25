//! `DbConfig::from_env` with RDS IAM auth: a TLS mode weaker than `verify-full` is refused at start
//! unless `DB_ALLOW_INSECURE_TLS=true`. One test function, so no other test of this binary races on the
//! process environment.

use contrail_shared::config::{DbConfig, SslMode};

fn set(name: &str, value: Option<&str>) {
    // SAFETY: this binary runs a single test on a single thread of its own; nothing else reads the
    // environment concurrently.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

#[test]
fn an_iam_token_never_crosses_an_unverified_connection_unless_explicitly_allowed() {
    set("DATABASE_URL", None);
    set("DB_IAM_AUTH", Some("true"));
    set("DB_HOST", Some("db.example.internal"));
    set("DB_NAME", Some("contrail"));
    set("DB_USER", Some("contrail_reader"));

    set("DB_SSL_MODE", None);
    set("DB_ALLOW_INSECURE_TLS", None);
    assert_eq!(DbConfig::from_env().expect("verify-full by default").ssl_mode, Some(SslMode::VerifyFull));

    for weaker in ["disable", "prefer", "require", "verify-ca"] {
        set("DB_SSL_MODE", Some(weaker));
        set("DB_ALLOW_INSECURE_TLS", None);
        let refused = DbConfig::from_env().expect_err(weaker);
        assert_eq!(refused.var, "DB_SSL_MODE", "{weaker}: {refused}");
        set("DB_ALLOW_INSECURE_TLS", Some("false"));
        assert!(DbConfig::from_env().is_err(), "{weaker} with DB_ALLOW_INSECURE_TLS=false");
        set("DB_ALLOW_INSECURE_TLS", Some("true"));
        let allowed = DbConfig::from_env().unwrap_or_else(|e| panic!("{weaker} allowed explicitly: {e}"));
        assert_eq!(allowed.ssl_mode.map(SslMode::as_str), Some(weaker));
    }

    set("DB_SSL_MODE", Some("verify-full"));
    set("DB_ALLOW_INSECURE_TLS", None);
    assert!(DbConfig::from_env().is_ok());

    // Without IAM auth the password is the URL's own: the mode is the operator's choice.
    set("DB_IAM_AUTH", None);
    set("DATABASE_URL", Some("postgres://u:p@127.0.0.1:5432/contrail"));
    set("DB_SSL_MODE", Some("disable"));
    assert_eq!(DbConfig::from_env().expect("URL with disable").ssl_mode, Some(SslMode::Disable));
}
