//! Configuration: defaults, then a TOML file (`--config`), then environment
//! variables (`COURSEBRIDGE_*`, `DATABASE_URL`), then command-line flags.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A SQLite file path (the embedded default) or a `postgres://` URL.
    pub database: String,
    pub listen: SocketAddr,
    /// How the outside world reaches this server (the authority's homePage, `more` links).
    pub public_url: String,
    /// Shared with the LMS to sign launch links (at least 32 bytes).
    pub launch_secret: Option<String>,
    /// Signs OAuth2 access tokens; give every instance the same one. When absent
    /// a random one is made at start (tokens then die with the process).
    pub token_secret: Option<String>,
    pub token_ttl_secs: i64,
    pub limits: Limits,
    /// `text` or `json`.
    pub log_format: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_statements: usize,
    pub max_json_depth: usize,
    pub max_page: i64,
    /// Statements a statements query looks at one by one for one page (the
    /// broad ones, or all for `related_agents` with an account; the page then
    /// ends there and `more` continues): docs/xapi-queries.md.
    pub scan_window: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            max_statements: 1000,
            max_json_depth: 32,
            max_page: 500,
            scan_window: 2_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: "data/coursebridge.db".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            launch_secret: None,
            token_secret: None,
            token_ttl_secs: 3600,
            limits: Limits::default(),
            log_format: "text".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
    #[error("{name}: {detail}")]
    Env { name: &'static str, detail: String },
}

impl Config {
    /// Defaults ← file ← environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut c = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::File {
                    path: p.display().to_string(),
                    detail: e.to_string(),
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: p.display().to_string(),
                    detail: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        if let Some(v) = env("COURSEBRIDGE_DATABASE").or_else(|| env("DATABASE_URL")) {
            c.database = v;
        }
        if let Some(v) = env("COURSEBRIDGE_LISTEN") {
            c.listen = v.parse().map_err(|e| ConfigError::Env {
                name: "COURSEBRIDGE_LISTEN",
                detail: format!("{e}"),
            })?;
        }
        if let Some(v) = env("COURSEBRIDGE_PUBLIC_URL") {
            c.public_url = v;
        }
        if let Some(v) = env("COURSEBRIDGE_LAUNCH_SECRET") {
            c.launch_secret = Some(v);
        }
        if let Some(v) = env("COURSEBRIDGE_TOKEN_SECRET") {
            c.token_secret = Some(v);
        }
        if let Some(v) = env("COURSEBRIDGE_LOG_FORMAT") {
            c.log_format = v;
        }
        Ok(c)
    }
}
