//! The local stack's configuration: the environment variables the functions read in AWS win; what is
//! unset falls back to local defaults kept under `.contrail/` in the working directory (the SQLite file
//! and two secrets generated once, readable by the owner only).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use contrail_shared::config::var;

/// The directory, relative to the working directory, that holds local state.
pub const STATE_DIR: &str = ".contrail";
/// The database used when neither `--database-url` nor `DATABASE_URL` names one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://.contrail/contrail.db";
/// The `iss` claim `contrail token` writes and the local authorizer requires by default.
pub const DEFAULT_ISSUER: &str = "contrail-local";
/// The `aud` claim `contrail token` writes and the local authorizer requires by default.
pub const DEFAULT_AUDIENCE: &str = "contrail-api";
/// CORS origins allowed by default by `invoke`: any. `up` allows only the board's own origin instead
/// (see [`Settings::or_allowed_origins`]).
pub const DEFAULT_ALLOWED_ORIGINS: &str = "*";
/// The Kafka topic the pipeline reads.
pub const DEFAULT_TOPIC: &str = "flight-data";

/// Everything the four handlers need, resolved once per command.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// The HS256 secret; `None` when `JWKS_URL` is set and tokens come from an identity provider.
    pub jwt_hs256_secret: Option<String>,
    pub jwks_url: Option<String>,
    pub cursor_secret: String,
    pub allowed_origins: Vec<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("jwks_url", &self.jwks_url)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Resolves the configuration: `--database-url` (or `DATABASE_URL`), then the environment, then
    /// the local defaults (creating `.contrail/` and its secrets on first use).
    pub fn load(database_url: Option<String>) -> anyhow::Result<Self> {
        let dir = Path::new(STATE_DIR);
        let database_url = database_url.or_else(|| var("DATABASE_URL")).unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if database_url.starts_with("sqlite:") {
            ensure_dir(dir)?;
        }
        let jwks_url = var("JWKS_URL");
        let jwt_hs256_secret = match (var("JWT_HS256_SECRET"), &jwks_url) {
            (Some(s), _) => Some(s),
            (None, Some(_)) => None,
            (None, None) => Some(local_secret(dir, "jwt-hs256.secret")?),
        };
        let cursor_secret = match var("CURSOR_SECRET") {
            Some(s) => s,
            None => local_secret(dir, "cursor.secret")?,
        };
        let allowed_origins = var("ALLOWED_ORIGINS")
            .unwrap_or_else(|| DEFAULT_ALLOWED_ORIGINS.into())
            .split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        Ok(Self {
            database_url,
            jwt_issuer: var("JWT_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.into()),
            jwt_audience: var("JWT_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.into()),
            jwt_hs256_secret,
            jwks_url,
            cursor_secret,
            allowed_origins,
        })
    }

    /// `origins` as the CORS origins unless `ALLOWED_ORIGINS` sets them: `up` passes the board's own, so
    /// that a page of another origin cannot read the API with a token it got hold of.
    pub fn or_allowed_origins(mut self, origins: Vec<String>) -> Self {
        if var("ALLOWED_ORIGINS").is_none() {
            self.allowed_origins = origins;
        }
        self
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

/// Hex of `n` bytes from the operating system's random source.
pub fn random_hex(n: usize) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).context("reading /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
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
