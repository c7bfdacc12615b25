//! Secrets named by ARN. A deployed function is given `NAME_ARN` and reads the value from Secrets Manager
//! once per cold start, so the value never sits in the function's configuration (anyone allowed
//! `lambda:GetFunctionConfiguration` could read it there). `NAME` itself keeps working for the local
//! stack and tests; setting both is refused, since one of them would be silently ignored.

use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use crate::config::{ConfigError, Env};

/// A secret a function reads: its plain variable and the variable naming its Secrets Manager ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretVar {
    pub name: &'static str,
    pub arn_var: &'static str,
}

impl SecretVar {
    pub const JWT_HS256_SECRET: Self = Self { name: "JWT_HS256_SECRET", arn_var: "JWT_HS256_SECRET_ARN" };
    pub const CURSOR_SECRET: Self = Self { name: "CURSOR_SECRET", arn_var: "CURSOR_SECRET_ARN" };

    /// The ARN to read, when the secret comes from Secrets Manager; `None` when `NAME` is used instead.
    pub fn arn(&self, env: &Env) -> Result<Option<String>, ConfigError> {
        match (env.var(self.name), env.var(self.arn_var)) {
            (Some(_), Some(_)) => {
                Err(ConfigError::new(self.arn_var, format!("set {} or {}, not both", self.name, self.arn_var)))
            }
            (_, arn) => Ok(arn),
        }
    }
}

/// Why a secret could not be had. Each fails the cold start, so Lambda reports it and tries again.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{var}: reading {arn} from Secrets Manager: {}", DisplayErrorContext(.source))]
    Fetch {
        var: &'static str,
        arn: String,
        #[source]
        source: Box<SdkError<GetSecretValueError>>,
    },
    #[error("{var}: {arn} holds no SecretString (binary secrets are not read)")]
    NotText { var: &'static str, arn: String },
}

/// `env` with each secret whose `NAME_ARN` is set read from Secrets Manager into `NAME`. The AWS client
/// is built only when some ARN is set, through the default chain (region, credentials, and endpoint
/// variables such as `AWS_ENDPOINT_URL_SECRETS_MANAGER`).
pub async fn resolve(env: Env, secrets: &[SecretVar]) -> Result<Env, SecretError> {
    let mut wanted = Vec::new();
    for secret in secrets {
        if let Some(arn) = secret.arn(&env)? {
            wanted.push((*secret, arn));
        }
    }
    if wanted.is_empty() {
        return Ok(env);
    }
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut env = env;
    for (secret, arn) in wanted {
        let value = fetch(&client, secret.arn_var, &arn).await?;
        env = env.with_override(secret.name, value);
    }
    Ok(env)
}

async fn fetch(client: &aws_sdk_secretsmanager::Client, var: &'static str, arn: &str) -> Result<String, SecretError> {
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|source| SecretError::Fetch {
        var,
        arn: arn.to_owned(),
        source: Box::new(source),
    })?;
    tracing::info!(variable = var, version = output.version_id().unwrap_or("?"), "secret read from Secrets Manager");
    output.secret_string.ok_or_else(|| SecretError::NotText { var, arn: arn.to_owned() })
}
