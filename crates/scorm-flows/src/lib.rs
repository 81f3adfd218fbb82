#![doc = include_str!("../README.md")]
//!
//! ## The flows
//!
//! One per recommendation of the design card (seed 003):
//!
//! - *IDs are yours*: course, registration and learner ids are ours, checked
//!   (≤ 255 characters) before anything is sent.
//! - *Keep system state*: courses, import jobs, registrations and their latest
//!   results live in the store; statistics are kept for the LMS course record.
//! - *Import* ([`import`]): a streamed upload, then `getAsyncImportResult`
//!   polled with backoff until finished or error; the title and warnings are
//!   recorded. Or a freshly signed browser-upload URL, followed up by token.
//! - *Registrations* ([`registrations`]): created at assignment or at first
//!   launch; recorded as created only once SCORM Cloud accepted, with no
//!   database transaction held while it answers; per-registration postback
//!   credentials, stored hashed.
//! - *Launch* ([`registrations::launch`]): the launch URL is built at the
//!   moment the learner arrives, never earlier; its `redirecturl` is our
//!   return page, which triggers a refresh.
//! - *Postbacks and refresh* ([`results`]): one code path stores a report and
//!   updates the learner's statistics through stats-rules' big-four mapping,
//!   idempotently; stale (out-of-order) postbacks are recognised and ignored.
//! - *Overrides* ([`results::set_override`]): kept in our tables and reported.
//!
//! This crate does I/O (HTTP through [`Remote`], the database through
//! `store`); the wire format and signing stay in the pure `scorm-cloud-client`.

pub mod import;
pub mod names;
pub mod ops;
pub mod registrations;
pub mod remote;
pub mod results;
pub mod settings;

pub use remote::{Clock, Remote, Timeouts, http_client};
pub use settings::{ApiVersion, Creation, Settings};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
pub enum ScormError {
    #[error("integration {0} is not a scorm-cloud integration")]
    NotScorm(String),
    #[error("integration {integration}: setting {name}: {problem}")]
    Settings {
        integration: String,
        name: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Id(#[from] scorm_cloud_client::IdError),
    #[error("SCORM Cloud {op}: {source}")]
    Api {
        op: &'static str,
        source: scorm_cloud_client::Error,
    },
    #[error("SCORM Cloud {op}: {detail}")]
    Http { op: &'static str, detail: String },
    #[error("the import failed: {0}")]
    ImportFailed(String),
    #[error("the import did not finish after {0} polls")]
    ImportTimeout(usize),
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A request that breaks a rule (the message names the field).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("postback: {0}")]
    Postback(#[from] scorm_cloud_client::postback::PostbackError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Record(#[from] records::RecordError),
    #[error(transparent)]
    Rules(#[from] records::RulesError),
}

/// What a flow needs to talk to the SCORM Cloud application a course belongs to.
pub struct Connection {
    pub integration: store::Integration,
    pub settings: Settings,
    pub remote: Remote,
}

/// The connection for a SCORM course (through its integration); `env` looks
/// up the secret, `http` is the shared HTTP client.
pub async fn connect_course(
    store: &store::Store,
    course_id: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    http: reqwest::Client,
) -> Result<Connection, ScormError> {
    let integration = {
        let mut tx = store.read().await?;
        registrations::target(&mut tx, course_id).await?.integration
    };
    let settings = Settings::from_integration(&integration, env)?;
    let remote = Remote::new(&settings, http);
    Ok(Connection {
        integration,
        settings,
        remote,
    })
}

/// The connection for a registration's course.
pub async fn connect_registration(
    store: &store::Store,
    registration_id: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    http: reqwest::Client,
) -> Result<Connection, ScormError> {
    let course = {
        let mut tx = store.read().await?;
        tx.registration(registration_id)
            .await?
            .ok_or_else(|| ScormError::NotFound(format!("no registration {registration_id}")))?
            .scorm_course_id
    };
    connect_course(store, &course, env, http).await
}

impl ScormError {
    pub(crate) fn api(op: &'static str) -> impl FnOnce(scorm_cloud_client::Error) -> Self {
        move |source| ScormError::Api { op, source }
    }
}

/// Postback passwords are stored as `sha256:<hex>`: they are only verified.
pub fn hash_secret(secret: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// Constant-time check of a secret against its stored hash.
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    let computed = hash_secret(secret);
    computed.len() == stored.len() && bool::from(computed.as_bytes().ct_eq(stored.as_bytes()))
}

/// 32 random bytes, hex: a postback password.
pub(crate) fn new_secret() -> Result<String, ScormError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| ScormError::Http {
        op: "random",
        detail: e.to_string(),
    })?;
    Ok(hex::encode(b))
}

pub(crate) fn ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The advisory-lock key of one registration (FNV-1a of its id).
pub(crate) fn registration_key(id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}
