//! `contrail up` configures each handler with the handler's own reader: every variable a function
//! documents means the same locally, and the local defaults apply only where a variable is unset.
//!
//! Its own binary, without the shared helpers: it changes the process environment, which the other
//! tests' child processes would inherit.

use std::collections::BTreeSet;

use contrail::settings::Settings;
use contrail_shared::auth::AuthConfig;
use contrail_shared::config::{DbConfig, Env};
use contrail_shared::telemetry::LogSettings;

/// A valid value, different from every default, for each variable a function reads.
const EVERY_VARIABLE: &[(&str, &str)] = &[
    ("DATABASE_URL", "postgres://reader:pw@127.0.0.1:1/contrail"),
    ("DB_IAM_AUTH", "true"),
    ("DB_HOST", "db.internal.example"),
    ("DB_PORT", "6543"),
    ("DB_NAME", "flights"),
    ("DB_USER", "contrail_ingest"),
    ("AWS_REGION", "eu-west-1"),
    ("AWS_DEFAULT_REGION", "eu-central-1"),
    ("DB_SSL_MODE", "verify-full"),
    ("DB_ALLOW_INSECURE_TLS", "false"),
    ("DB_CA_BUNDLE", "/opt/rds-ca/global-bundle.pem"),
    ("DB_MAX_CONNECTIONS", "3"),
    ("DB_CONNECT_TIMEOUT_MS", "1234"),
    ("DB_MIGRATE_ON_START", "true"),
    ("DB_CONNECT_ON_START", "true"),
    ("JWT_ISSUER", "https://issuer.example/"),
    ("JWT_AUDIENCE", "flight-board"),
    ("JWKS_URL", "https://issuer.example/.well-known/jwks.json"),
    ("JWT_HS256_SECRET", "an-hs256-secret-of-at-least-32-bytes-for-the-test"),
    ("JWT_LEEWAY_SECONDS", "7"),
    ("JWT_ALGORITHMS", "HS256,RS256"),
    ("JWT_COGNITO_GROUPS_AS_SCOPES", "true"),
    ("JWT_REQUIRED_SCOPES", "GET /stats=stats:read;GET *=flights:read"),
    ("JWKS_TIMEOUT_MS", "345"),
    ("JWKS_CA_BUNDLE", "/opt/idp-ca/ca.pem"),
    ("CURSOR_SECRET", "a-cursor-secret-of-at-least-32-bytes-for-the-test"),
    ("ALLOWED_ORIGINS", "https://board.example"),
    ("INGEST_MAX_FUTURE_SKEW_SECONDS", "60"),
    ("HISTORY_RETENTION_MONTHS", "6"),
    ("DLQ_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/contrail-dlq"),
    ("DLQ_MAX_MESSAGE_BYTES", "4096"),
    ("FAILURE_BUCKET", "contrail-failures"),
    ("S3_FORCE_PATH_STYLE", "true"),
    ("AWS_LAMBDA_FUNCTION_NAME", "contrail-query"),
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
    ("RUST_LOG", "debug"),
];

/// One test in this binary: it changes the process environment, which no other thread reads meanwhile.
#[test]
fn every_variable_a_function_reads_means_the_same_to_the_local_stack() {
    let table: BTreeSet<&str> = EVERY_VARIABLE.iter().map(|(name, _)| *name).collect();
    let read: BTreeSet<&str> = [
        contrail_ingest::environment(),
        contrail_query::environment(),
        contrail_authorizer::environment(),
        contrail_redrive::environment(),
    ]
    .concat()
    .into_iter()
    // Secrets by ARN are read from Secrets Manager in Lambda only; the local stack takes the values.
    .filter(|name| ![contrail_query::SECRETS, contrail_authorizer::SECRETS].concat().iter().any(|s| s.arn_var == *name))
    .collect();
    assert_eq!(table, read, "this table must give a value to exactly the variables the functions read");

    let dir = tempfile::tempdir().expect("a work directory");
    std::env::set_current_dir(dir.path()).expect("entering the work directory");
    for (name, value) in EVERY_VARIABLE {
        // SAFETY: this test binary runs this one test, and no other thread touches the environment.
        unsafe { std::env::set_var(name, value) };
    }
    let settings = Settings::load(None).expect("the local settings over a full environment");
    let function = Env::process();
    assert_eq!(settings.db, DbConfig::from_vars(&function).expect("database settings"));
    assert_eq!(settings.auth_config().expect("auth"), AuthConfig::from_env().expect("the authorizer's own"));
    assert_eq!(
        contrail_ingest::Config::from_vars(&settings.env),
        contrail_ingest::Config::from_vars(&function),
        "ingest"
    );
    assert_eq!(contrail_query::Config::from_vars(&settings.env), contrail_query::Config::from_vars(&function));
    assert_eq!(
        contrail_redrive::Config::from_vars(&settings.env),
        contrail_redrive::Config::from_vars(&function),
        "redrive"
    );
    assert_eq!(LogSettings::from_vars(&settings.env), LogSettings::from_vars(&function));
    for (name, value) in EVERY_VARIABLE {
        assert_eq!(settings.env.var(name).as_deref(), Some(*value), "{name} is the environment's, not a default");
    }
    assert!(!dir.path().join(".contrail").exists(), "nothing local is generated when everything is set");

    // Unset, the local defaults apply, and only then.
    for (name, _) in EVERY_VARIABLE {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }
    let local = Settings::load(None).expect("the local defaults");
    assert_eq!(local.db, DbConfig { max_connections: 8, ..DbConfig::from_url("sqlite://.contrail/contrail.db") });
    let auth = local.auth_config().expect("local auth");
    assert_eq!((auth.issuer.as_str(), auth.audience.as_str()), ("contrail-local", "contrail-api"));
    assert!(auth.keys.hs256_secret.is_some() && auth.keys.jwks_url.is_none());
    let query = contrail_query::Config::from_vars(&local.env).expect("local query");
    assert_eq!(query.cursor_secret.map(|s| s.len()), Some(96), "a generated 48-byte hex secret");
    assert_eq!(query.allowed_origins, "*");
    for secret in ["jwt-hs256.secret", "cursor.secret"] {
        assert!(dir.path().join(".contrail").join(secret).is_file(), "{secret} generated");
    }
    std::env::set_current_dir(std::env::temp_dir()).expect("leaving the work directory");
}
