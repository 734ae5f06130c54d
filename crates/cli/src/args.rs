//! Flags and environment variables shared by the programs, and their resolution into the
//! settings the libraries take.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use ztoq_http::{ClientOptions, Secret};
use ztoq_qtest::QtestAuth;

/// Where the Postgres database is.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Postgres URL (falls back to DATABASE_URL).
    #[arg(long, env = "ZTOQ_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl DbArgs {
    /// The URL, from the flag, ZTOQ_DATABASE_URL or DATABASE_URL.
    pub fn url(&self) -> Result<String> {
        self.database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .context("no database: pass --database-url or set ZTOQ_DATABASE_URL (or DATABASE_URL)")
    }
}

/// Reads a secret from an environment variable or, failing that, a file.
fn secret(
    env_value: Option<&String>,
    file: Option<&PathBuf>,
    what: &str,
    env: &str,
) -> Result<Secret> {
    if let Some(v) = env_value.filter(|v| !v.is_empty()) {
        return Ok(Secret::new(v.trim()));
    }
    if let Some(path) = file {
        let v = std::fs::read_to_string(path)
            .with_context(|| format!("reading the {what} from {}", path.display()))?;
        return Ok(Secret::new(v.trim()));
    }
    bail!("no {what}: set {env} or pass the file flag")
}

/// Zephyr credentials.
#[derive(Debug, Clone, Args)]
pub struct ZephyrAuthArgs {
    /// Zephyr API token (environment only: a flag would show in `ps`).
    #[arg(skip = std::env::var("ZTOQ_ZEPHYR_TOKEN").ok())]
    pub zephyr_token: Option<String>,
    /// A file holding the Zephyr API token.
    #[arg(long, env = "ZTOQ_ZEPHYR_TOKEN_FILE")]
    pub zephyr_token_file: Option<PathBuf>,
}

impl ZephyrAuthArgs {
    /// The token.
    pub fn token(&self) -> Result<Secret> {
        secret(
            self.zephyr_token.as_ref(),
            self.zephyr_token_file.as_ref(),
            "Zephyr token",
            "ZTOQ_ZEPHYR_TOKEN",
        )
    }
}

/// qTest credentials: a token, or a user name and password for `/oauth/token`.
#[derive(Debug, Clone, Args)]
pub struct QtestAuthArgs {
    /// qTest API token (environment only).
    #[arg(skip = std::env::var("ZTOQ_QTEST_TOKEN").ok())]
    pub qtest_token: Option<String>,
    /// A file holding the qTest API token.
    #[arg(long, env = "ZTOQ_QTEST_TOKEN_FILE")]
    pub qtest_token_file: Option<PathBuf>,
    /// qTest user name, to log in with a password instead of a token.
    #[arg(long, env = "ZTOQ_QTEST_USERNAME")]
    pub qtest_username: Option<String>,
    /// qTest password (environment only).
    #[arg(skip = std::env::var("ZTOQ_QTEST_PASSWORD").ok())]
    pub qtest_password: Option<String>,
}

impl QtestAuthArgs {
    /// The credentials.
    pub fn auth(&self) -> Result<QtestAuth> {
        if let Some(username) = &self.qtest_username {
            let password = secret(
                self.qtest_password.as_ref(),
                None,
                "qTest password",
                "ZTOQ_QTEST_PASSWORD",
            )?;
            return Ok(QtestAuth::Password {
                username: username.clone(),
                password,
                client_name: "ztoq".into(),
            });
        }
        Ok(QtestAuth::Token(secret(
            self.qtest_token.as_ref(),
            self.qtest_token_file.as_ref(),
            "qTest token",
            "ZTOQ_QTEST_TOKEN",
        )?))
    }
}

/// The qTest rate limit every process talking to one qTest instance shares.
#[derive(Debug, Clone, Args)]
pub struct QtestRateArgs {
    /// qTest requests per second for all processes together (workers, `ztoq verify`,
    /// `ztoq rollback`), shared through Postgres: give each the same value. Unset: no pacing.
    #[arg(long, env = "ZTOQ_QTEST_RATE_LIMIT", value_parser = positive_rate)]
    pub qtest_rate_limit: Option<f64>,
}

/// A requests-per-second value: a finite number above 0.
fn positive_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "'{value}' is not a positive number of requests per second"
        )),
    }
}

/// HTTP client settings.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Timeout of one API request, in seconds.
    #[arg(long, env = "ZTOQ_HTTP_TIMEOUT_SECS", default_value_t = 60)]
    pub http_timeout_secs: u64,
}

impl HttpArgs {
    /// The client options.
    pub fn options(&self) -> ClientOptions {
        ClientOptions {
            timeout: Duration::from_secs(self.http_timeout_secs),
            ..ClientOptions::default()
        }
    }
}
