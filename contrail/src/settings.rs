//! The local stack's configuration: each handler reads the environment variables it reads in AWS,
//! through its own reader; what is unset falls back to local defaults kept under `.contrail/` in the
//! working directory (the SQLite file and two secrets generated once, readable by the owner only).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use contrail_shared::auth::AuthConfig;
use contrail_shared::config::{DbConfig, DbTarget, Env};

/// The directory, relative to the working directory, that holds local state.
pub const STATE_DIR: &str = ".contrail";
/// The database used when neither `--database-url` nor `DATABASE_URL` names one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://.contrail/contrail.db";
/// Connections of the local pool unless `DB_MAX_CONNECTIONS` says otherwise: one process serves every
/// function here, where a Lambda instance serves one invocation at a time.
pub const DEFAULT_MAX_CONNECTIONS: &str = "8";
/// The `iss` claim `contrail token` writes and the local authorizer requires by default.
pub const DEFAULT_ISSUER: &str = "contrail-local";
/// The `aud` claim `contrail token` writes and the local authorizer requires by default.
pub const DEFAULT_AUDIENCE: &str = "contrail-api";
/// CORS origins allowed by default by `invoke`: any. `up` allows only the board's own origin instead
/// (see [`Settings::or_allowed_origins`]).
pub const DEFAULT_ALLOWED_ORIGINS: &str = "*";
/// The Kafka topic the pipeline reads.
pub const DEFAULT_TOPIC: &str = "flight-data";

/// The environment with the local defaults under it, and the database it names; resolved once per command.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What every handler reads its configuration from.
    pub env: Env,
    pub db: DbConfig,
}

impl Settings {
    /// Resolves the configuration: `--database-url` over the environment, the environment over the local
    /// defaults (creating `.contrail/` and its secrets on first use).
    pub fn load(database_url: Option<String>) -> anyhow::Result<Self> {
        let dir = Path::new(STATE_DIR);
        let mut env = Env::process()
            .with_default("DATABASE_URL", DEFAULT_DATABASE_URL)
            .with_default("DB_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS)
            .with_default("JWT_ISSUER", DEFAULT_ISSUER)
            .with_default("JWT_AUDIENCE", DEFAULT_AUDIENCE)
            .with_default("ALLOWED_ORIGINS", DEFAULT_ALLOWED_ORIGINS);
        if let Some(url) = database_url {
            env = env.with_override("DATABASE_URL", url);
        }
        let db = DbConfig::from_vars(&env)?;
        if db.is_sqlite() {
            ensure_dir(dir)?;
        }
        // Tokens from an identity provider (JWKS_URL) need no local secret.
        if env.var("JWKS_URL").is_none() && env.var("JWT_HS256_SECRET").is_none() {
            env = env.with_default("JWT_HS256_SECRET", local_secret(dir, "jwt-hs256.secret")?);
        }
        if env.var("CURSOR_SECRET").is_none() {
            env = env.with_default("CURSOR_SECRET", local_secret(dir, "cursor.secret")?);
        }
        Ok(Self { env, db })
    }

    /// `origins` as the CORS origins unless `ALLOWED_ORIGINS` sets them: `up` passes the board's own, so
    /// that a page of another origin cannot read the API with a token it got hold of.
    pub fn or_allowed_origins(mut self, origins: Vec<String>) -> Self {
        self.env = self.env.with_default("ALLOWED_ORIGINS", origins.join(","));
        self
    }

    /// The authorizer's configuration, read as the authorizer reads it.
    pub fn auth_config(&self) -> anyhow::Result<AuthConfig> {
        Ok(AuthConfig::from_vars(&self.env)?)
    }

    /// The database for messages, without secrets.
    pub fn database(&self) -> String {
        match &self.db.target {
            DbTarget::Url(url) => redact_url(url),
            DbTarget::RdsIam { host, port, database, user, .. } => {
                format!("postgres://{user}@{host}:{port}/{database} (RDS IAM)")
            }
        }
    }
}

/// Hides the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Reads a secret kept under `.contrail/`, generating it (48 random bytes, hex) the first time.
fn local_secret(dir: &Path, name: &str) -> anyhow::Result<String> {
    let path: PathBuf = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 64 => return Ok(s.trim().to_owned()),
        Ok(_) => bail!("{} is too short to be a secret; delete it to generate a new one", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    ensure_dir(dir)?;
    let secret = random_hex(48)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
            Ok(secret)
        }
        // Another contrail process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::thread::sleep(std::time::Duration::from_millis(50));
            Ok(std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?.trim().to_owned())
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Hex of `n` bytes from the system's secure random generator (the one TLS and token signing use).
pub fn random_hex(n: usize) -> anyhow::Result<String> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut buf).context("the system random generator failed")?;
    Ok(contrail_shared::codec::encode_hex(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_never_appear_in_messages() {
        assert_eq!(redact_url("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://.contrail/contrail.db"), "sqlite://.contrail/contrail.db");
    }
}
