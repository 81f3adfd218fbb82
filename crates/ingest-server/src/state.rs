//! Shared state and authentication.

use std::sync::Arc;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use store::{Credential, Integration, Store};

use crate::auth;
use crate::config::Config;
use crate::error::ApiError;
use crate::in_flight::InFlight;
use crate::metrics::Metrics;
use crate::writer::{SyncFn, Writer, spawn_checkpointer};

/// The clock, where it was before `crate::clock` (`ingest_server::state::now_ms`).
pub use crate::clock::{now, now_ms};

/// The state every route shares: the store, the configuration, the group
/// writer, metrics and the background tasks' handles. Built with
/// [`App::new`] (inside a Tokio runtime) and given to
/// [`crate::server::router`] as an [`AppState`].
pub struct App {
    /// The database.
    pub store: Store,
    /// The settings the app was built with.
    pub config: Config,
    /// The key OAuth2 access tokens are signed with (`config.token_secret`,
    /// or random bytes made at start).
    pub token_secret: Vec<u8>,
    /// The Prometheus registry behind `/metrics`.
    pub metrics: Metrics,
    /// The `stored` times of write batches still open: what
    /// `X-Experience-API-Consistent-Through` may claim.
    pub in_flight: Arc<InFlight>,
    /// The group writer the statement and document writes go through.
    pub writer: Writer,
    /// The HTTP client for SCORM Cloud calls (launch-time registration
    /// creation, refresh on return, refresh by the LMS).
    pub scorm_http: reqwest::Client,
    /// A hash to compare against when a client id is unknown, so that unknown
    /// and known ids take the same time.
    dummy_hash: String,
    /// Webhook credentials recently read, with their integration (see
    /// [`CREDENTIAL_TTL`]).
    credentials: std::sync::Mutex<HashMap<String, CachedCredential>>,
    /// Stops the delivery task and the webhook dispatcher ([`App::stop_delivery`]).
    webhooks: crate::delivery::Stopper,
    /// The operators' console: sign-in attempts, refused statements per minute.
    pub console: Arc<crate::console::ConsoleState>,
}

/// When a credential was read, the credential, and its integration.
type CachedCredential = (Instant, Credential, Option<Integration>);

/// How long a webhook credential and its integration, once read, are used
/// without reading them again: a revocation or a deactivation takes effect
/// within this time. (Every statement request authenticates; two reads per
/// request were a tenth of the server's work under load, docs/PERFORMANCE.md.)
/// The secret is still checked against the stored hash on every request.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(2);

/// Entries kept at most; past it the cache starts empty again.
const CREDENTIAL_CACHE_MAX: usize = 10_000;

/// The routes' state: the shared [`App`].
pub type AppState = Arc<App>;

/// The integration a provider authenticated as, and the client id it used.
pub struct Provider {
    /// The integration (active).
    pub integration: Integration,
    /// The webhook client id it authenticated with.
    pub client_id: String,
}

impl App {
    /// The app over `store`: starts the group writer, on SQLite the
    /// checkpointer, the voiding repair and webhook delivery, as Tokio tasks
    /// (so it must be called inside a Tokio runtime). Call
    /// [`App::stop_delivery`] at shutdown.
    pub fn new(store: Store, config: Config) -> Self {
        Self::with_sync(store, config, None)
    }

    /// [`App::new`] whose group writer makes its commits durable with `sync`
    /// instead of syncing the log (tests: a disk that fails).
    pub fn with_sync(store: Store, config: Config, sync: Option<SyncFn>) -> Self {
        let token_secret = match &config.token_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => auth::random_bytes::<32>().to_vec(),
        };
        // SQLite has one writer; on PostgreSQL several group writers overlap.
        let writers = match store.backend() {
            store::Backend::Sqlite => 1,
            store::Backend::Postgres => 4,
        };
        let writer = Writer::spawn_with_sync(store.clone(), writers, sync);
        if store.backend() == store::Backend::Sqlite {
            spawn_checkpointer(store.clone());
        }
        // What a crash between a PostgreSQL group's commit and its voiding
        // check left is repaired at start (docs/xapi-lrs.md, voiding).
        {
            let (store, counters) = (store.clone(), writer.shared_counters());
            tokio::spawn(async move {
                match crate::writer::repair_at_start(&store, crate::clock::now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(
                        statements = n,
                        "voided at start: statements whose voiding check was interrupted"
                    ),
                    Err(e) => {
                        counters.void_repair_failures.inc();
                        tracing::error!(error = %e, "the voiding check at start failed; run coursebridge-ingest replay");
                    }
                }
            });
        }
        let metrics = Metrics::new(writer.counters());
        let webhooks = crate::delivery::spawn(
            store.clone(),
            config.delivery.clone(),
            metrics.webhooks.clone(),
        );
        let console = Arc::new(crate::console::ConsoleState::default());
        Self {
            console,
            store,
            config,
            token_secret,
            metrics,
            in_flight: Arc::default(),
            writer,
            scorm_http: scorm_flows::http_client().unwrap_or_default(),
            dummy_hash: auth::hash_secret(&auth::new_secret()),
            credentials: std::sync::Mutex::new(HashMap::new()),
            webhooks,
        }
    }

    /// Stops delivery: the attempts in flight are abandoned, every turn's
    /// progress recorded and its lease released (see
    /// `delivery::webhooks::Stopper::stop`), and the sequencer and retention
    /// loop ended. [`crate::server::Running::stop`]
    /// calls it; a service mounting the routes itself calls it at shutdown.
    pub async fn stop_delivery(&self) {
        self.webhooks.stop().await;
    }

    /// The Prometheus text of `/metrics` (the sync runs as last read:
    /// [`App::scrape`] reads them first).
    pub fn metrics_text(&self) -> String {
        self.metrics
            .render(self.writer.is_durable(), self.writer.queue_depth())
    }

    /// `/metrics`: the sync runs read from the database, then
    /// [`App::metrics_text`]. If they cannot be read, the last reading is
    /// shown (and a warning logged): the server's own figures still come.
    pub async fn scrape(&self) -> String {
        if let Err(e) = self.metrics.refresh_sync_runs(&self.store).await {
            tracing::warn!(error = %e, "/metrics: the sync runs could not be read");
        }
        self.metrics_text()
    }

    /// Checks a webhook client id and secret; returns the integration.
    pub async fn check_provider_secret(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Integration, ApiError> {
        let found = self.credential(client_id).await?;
        let (hash, usable) = match &found {
            Some((c, _)) => (c.secret_hash.as_str(), c.revoked_ms.is_none()),
            None => (self.dummy_hash.as_str(), false),
        };
        let ok = auth::verify_secret(secret, hash) && usable;
        let Some((_, integration)) = found.filter(|_| ok) else {
            return Err(ApiError::unauthorized());
        };
        active(integration)
    }

    /// Forgets a cached credential (after it was revoked here: the revocation
    /// then takes effect at once on this instance, within
    /// [`CREDENTIAL_TTL`] on others).
    pub fn forget_credential(&self, client_id: &str) {
        self.credentials
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(client_id);
    }

    /// A webhook credential and its integration: from the cache when read
    /// less than [`CREDENTIAL_TTL`] ago, else from the database (unknown ids
    /// are never cached).
    async fn credential(
        &self,
        client_id: &str,
    ) -> Result<Option<(Credential, Option<Integration>)>, ApiError> {
        let cached = |this: &Self| {
            let cache = this
                .credentials
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache
                .get(client_id)
                .filter(|(at, _, _)| at.elapsed() < CREDENTIAL_TTL)
                .map(|(_, c, i)| (c.clone(), i.clone()))
        };
        if let Some(hit) = cached(self) {
            return Ok(Some(hit));
        }
        let mut tx = self.store.read().await?;
        let Some(cred) = tx.credential(client_id).await? else {
            return Ok(None);
        };
        let integration = tx.integration(&cred.integration_id).await?;
        drop(tx);
        let mut cache = self
            .credentials
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CREDENTIAL_CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            client_id.to_owned(),
            (Instant::now(), cred.clone(), integration.clone()),
        );
        Ok(Some((cred, integration)))
    }

    /// A content provider: HTTP Basic with webhook credentials, or a bearer
    /// token from `/oauth/token`.
    pub async fn provider(&self, headers: &HeaderMap) -> Result<Provider, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        if let Some(token) = value.strip_prefix("Bearer ") {
            let client_id =
                auth::verify_token(&self.token_secret, token.trim(), now().unix_timestamp())
                    .ok_or_else(ApiError::unauthorized)?;
            let (_, integration) = self
                .credential(&client_id)
                .await?
                .filter(|(c, _)| c.revoked_ms.is_none())
                .ok_or_else(ApiError::unauthorized)?;
            let integration = active(integration)?;
            return Ok(Provider {
                integration,
                client_id,
            });
        }
        let (client_id, secret) = auth::parse_basic(value).ok_or_else(ApiError::unauthorized)?;
        let integration = self.check_provider_secret(&client_id, &secret).await?;
        Ok(Provider {
            integration,
            client_id,
        })
    }

    /// The LMS (statistics API, overrides, learner mappings, metrics): HTTP Basic
    /// with API-client credentials.
    pub async fn lms(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let (client_id, secret) = auth::parse_basic(value).ok_or_else(ApiError::unauthorized)?;
        let mut tx = self.store.read().await?;
        let stored = tx.api_client_hash(&client_id).await?;
        let ok = auth::verify_secret(&secret, stored.as_deref().unwrap_or(&self.dummy_hash))
            && stored.is_some();
        if ok {
            Ok(client_id)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

/// The integration a credential belongs to, if it may send.
fn active(integration: Option<Integration>) -> Result<Integration, ApiError> {
    match integration {
        Some(i) if i.active => Ok(i),
        Some(_) => Err(ApiError::forbidden("the integration is deactivated")),
        None => Err(ApiError::unauthorized()),
    }
}
