//! Configuration: defaults, then a TOML file (`--config`), then environment
//! variables (`COURSEBRIDGE_*`, `DATABASE_URL`), then command-line flags.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// The server's settings ([`Config::default`], or [`Config::load`] for the
/// binary's order of sources). A service mounting the routes builds one and
/// hands it to [`crate::state::App::new`]; `database`, `listen` and
/// `log_format` are then unused (the host opens the store, binds and logs).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A SQLite file path (the embedded default) or a `postgres://` URL.
    pub database: String,
    /// The address [`crate::server::start`] binds.
    pub listen: SocketAddr,
    /// How the outside world reaches this server (the authority's homePage,
    /// launch links, SCORM return pages), without a trailing slash; under a
    /// prefix, it includes the prefix.
    pub public_url: String,
    /// Shared with the LMS to sign launch links (at least 32 bytes).
    pub launch_secret: Option<String>,
    /// Signs OAuth2 access tokens; give every instance the same one. When absent
    /// a random one is made at start (tokens then die with the process).
    pub token_secret: Option<String>,
    /// How long an OAuth2 access token from `/oauth/token` is valid, in seconds.
    pub token_ttl_secs: i64,
    /// Request size and page limits.
    pub limits: Limits,
    /// The change feed and webhooks (docs/EVENTS.md).
    pub delivery: Delivery,
    /// `text` or `json`.
    pub log_format: String,
    /// The xAPI Document resources (docs/xapi-lrs.md).
    pub documents: Documents,
}

/// `[documents]`: the xAPI State, Activity Profile and Agent Profile resources.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Documents {
    /// Under xAPI 2.0.0, refuse with 428 a profile POST without If-Match or
    /// If-None-Match and a profile DELETE without If-Match: the headers the
    /// spec asks clients to send (`xapi_model::documents::check_preconditions_strict`).
    /// Off by default: what both versions require of an LRS, and what ADL's
    /// conformance suite expects.
    pub require_preconditions: bool,
}

/// `[delivery]`: the change feed's retention and the webhook dispatcher.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// Events older than this are pruned; a feed read from before the
    /// oldest one kept answers 410.
    pub retention_days: i64,
    /// How often the background task looks for new events (ms).
    pub poll_ms: u64,
    /// Whether this instance delivers webhooks (every instance may: they
    /// share the work through per-subscription leases).
    pub webhooks: bool,
    /// Accept `http://` receiver URLs (a private network); `https` only when false.
    pub allow_http: bool,
    /// Deliver to non-public addresses (loopback, RFC 1918, `fc00::/7`,
    /// link-local incl. cloud metadata `169.254.169.254`, CGNAT, multicast,
    /// …: `lms_delivery::is_public`). False (the default): such URLs are
    /// refused at creation, and a host name is connected to only at the
    /// public addresses it resolves to (docs/webhooks-security.md).
    pub allow_private_networks: bool,
    /// One attempt's time limit (connect, send, answer), in seconds.
    pub timeout_secs: u64,
    /// The first retry's delay; each later one doubles it.
    pub retry_first_secs: i64,
    /// Test/advanced knob: the first retry's delay in milliseconds, instead
    /// of `retry_first_secs` when set (sub-second delays, for tests).
    pub retry_first_ms: Option<i64>,
    /// The longest delay between two attempts.
    pub retry_max_secs: i64,
    /// A subscription failing for this long is disabled.
    pub give_up_after_hours: i64,
    /// Test/advanced knob: the retry window in milliseconds, instead of
    /// `give_up_after_hours` when set (short windows, for tests).
    pub give_up_after_ms: Option<i64>,
    /// Subscriptions delivered at once by this instance (each in order).
    pub max_parallel: usize,
    /// Test/advanced knob: how long one subscription keeps its delivery
    /// place before giving it to another due one, in milliseconds (default
    /// 30 s).
    pub turn_ms: Option<u64>,
}

impl Delivery {
    /// What receiver URLs may be.
    pub fn url_policy(&self) -> lms_delivery::UrlPolicy {
        lms_delivery::UrlPolicy {
            allow_http: self.allow_http,
            allow_private_networks: self.allow_private_networks,
        }
    }

    /// The retry schedule these settings describe.
    pub fn schedule(&self) -> lms_delivery::Schedule {
        lms_delivery::Schedule {
            first_delay_ms: self
                .retry_first_ms
                .unwrap_or(self.retry_first_secs.saturating_mul(1000))
                .max(0),
            max_delay_ms: self.retry_max_secs.saturating_mul(1000).max(0),
            window_ms: self
                .give_up_after_ms
                .unwrap_or(self.give_up_after_hours.saturating_mul(3_600_000))
                .max(0),
        }
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            retention_days: 30,
            poll_ms: 200,
            webhooks: true,
            allow_http: false,
            allow_private_networks: false,
            timeout_secs: 15,
            retry_first_secs: 5,
            retry_first_ms: None,
            retry_max_secs: 6 * 3600,
            give_up_after_hours: 72,
            give_up_after_ms: None,
            max_parallel: 8,
            turn_ms: None,
        }
    }
}

/// `[limits]`: what one request may carry and one page may hold. They are not
/// checked: the caller keeps each positive (a zero refuses what it bounds —
/// every statements POST, every explicit `limit`, every document).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// The largest request body, in bytes (413 past it).
    pub max_body_bytes: usize,
    /// Statements one POST may carry.
    pub max_statements: usize,
    /// How deeply a request's JSON may nest (arrays and objects).
    pub max_json_depth: usize,
    /// The most rows one page of a list (statements, events, ...) holds.
    pub max_page: i64,
    /// Statements a statements query looks at one by one for one page (the
    /// broad ones, or all for `related_agents` with an account; the page then
    /// ends there and `more` continues): docs/xapi-queries.md.
    pub scan_window: i64,
    /// The largest State, Activity Profile or Agent Profile document, sent or
    /// merged by a POST (413 past it): docs/xapi-lrs.md.
    pub max_document_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            max_statements: 1000,
            max_json_depth: 32,
            max_page: 500,
            scan_window: 2_000,
            max_document_bytes: 1024 * 1024,
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
            delivery: Delivery::default(),
            log_format: "text".into(),
            documents: Documents::default(),
        }
    }
}

/// Why [`Config::load`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read or is not valid TOML for
    /// [`Config`].
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// An environment variable has a value that does not parse.
    #[error("{name}: {detail}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl Config {
    /// Defaults ← file ← environment (`COURSEBRIDGE_DATABASE` or
    /// `DATABASE_URL`, `COURSEBRIDGE_LISTEN`, `COURSEBRIDGE_PUBLIC_URL`,
    /// `COURSEBRIDGE_LAUNCH_SECRET`, `COURSEBRIDGE_TOKEN_SECRET`,
    /// `COURSEBRIDGE_LOG_FORMAT`; empty values are ignored).
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
