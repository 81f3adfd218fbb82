//! Managing subscriptions, shared by `/api/v1/webhooks` and the
//! `coursebridge-ingest webhooks` commands: creation (checks, secret, start
//! position), enabling and disabling, redelivery, and the JSON shown for a
//! subscription and an attempt (never the secret but at creation).

use base64::Engine;
use lms_delivery::{InvalidSubscription, NewSubscription, Secret};
use serde_json::{Value, json};
use store::{Attempt, NewWebhook, Store, StoreError, Webhook};

use crate::clock::now_ms;
use crate::config::Delivery;
use crate::xapi::rfc3339_ms;

/// What a subscription is created with.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The receiver's URL (checked against `[delivery]`'s URL policy).
    pub url: String,
    /// The event types delivered (`statistic.updated`, `course.*`, ...).
    pub event_types: Vec<String>,
    /// Only this integration's events, when set.
    #[serde(default)]
    pub integration: Option<String>,
    /// A note for operators.
    #[serde(default)]
    pub description: Option<String>,
    /// Deliver from this `seq` on (default: only events after creation).
    #[serde(default)]
    pub from_seq: Option<i64>,
}

/// A created subscription and its secret (shown this once).
#[derive(Debug)]
pub struct Created {
    /// The subscription as stored.
    pub webhook: Webhook,
    /// `whsec_…`.
    pub secret: String,
}

/// Why managing a subscription failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Bad input; the message starts with the field's name.
    #[error(transparent)]
    Invalid(#[from] InvalidSubscription),
    /// A field that is well-formed but unusable (an unknown integration, a
    /// `from_seq` out of the outbox); the message starts with the field's name.
    #[error("{0}")]
    BadField(String),
    /// No subscription with this id.
    #[error("no webhook subscription {0}")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new secret: 32 random bytes from the operating system, `whsec_…`.
fn new_secret() -> String {
    format!(
        "{}{}",
        lms_delivery::signature::SECRET_PREFIX,
        base64::engine::general_purpose::STANDARD.encode(crate::auth::random_bytes::<32>())
    )
}

/// Checks `from_seq` against the outbox: 1 or more, not pruned, at most one
/// past the last event. Returns the `delivered_through` it means.
fn start_of(from_seq: i64, state: &store::OutboxState) -> Result<i64, ManageError> {
    if from_seq < 1 {
        return Err(ManageError::BadField(
            "from_seq: must be a sequence number (1 or more)".into(),
        ));
    }
    if from_seq <= state.pruned_through {
        return Err(ManageError::BadField(format!(
            "from_seq: the events up to {} were pruned (retention)",
            state.pruned_through
        )));
    }
    if from_seq > state.last_seq + 1 {
        return Err(ManageError::BadField(format!(
            "from_seq: beyond the last event ({})",
            state.last_seq
        )));
    }
    Ok(from_seq - 1)
}

/// Checks `req` and creates the subscription with a new secret, delivering
/// from `from_seq` (default: events after now).
pub async fn create(
    store: &Store,
    config: &Delivery,
    req: &CreateRequest,
) -> Result<Created, ManageError> {
    let checked = NewSubscription::check(
        &req.url,
        &req.event_types,
        req.integration.as_deref(),
        req.description.as_deref(),
        config.url_policy(),
    )?;
    // PostgreSQL: what is committed gets its `seq` first, so that "from now"
    // means after it.
    crate::delivery::sequence(store).await?;
    let mut tx = store.begin().await?;
    if let Some(i) = &checked.integration {
        if tx.integration(i).await?.is_none() {
            return Err(ManageError::BadField(format!(
                "integration: no integration {i}"
            )));
        }
    }
    let state = tx.outbox_state().await?;
    let delivered_through = match req.from_seq {
        Some(s) => start_of(s, &state)?,
        None => state.last_seq,
    };
    let secret = new_secret();
    let id = format!("sub_{}", hex::encode(crate::auth::random_bytes::<8>()));
    tx.insert_webhook(&NewWebhook {
        id: id.clone(),
        url: checked.url.to_string(),
        event_types: checked.types.patterns().to_vec(),
        integration_id: checked.integration,
        description: checked.description,
        secret: secret.clone(),
        delivered_through,
        now_ms: now_ms(),
    })
    .await?;
    let webhook = tx
        .webhook(&id)
        .await?
        .ok_or_else(|| ManageError::NotFound(id.clone()))?;
    tx.commit().await?;
    debug_assert!(Secret::parse(&secret).is_ok());
    Ok(Created { webhook, secret })
}

/// The subscription `id`.
pub async fn get(store: &Store, id: &str) -> Result<Webhook, ManageError> {
    store
        .read()
        .await?
        .webhook(id)
        .await?
        .ok_or_else(|| ManageError::NotFound(id.to_owned()))
}

/// Enables or disables (by an operator); the subscription as it is now.
pub async fn set_enabled(store: &Store, id: &str, enabled: bool) -> Result<Webhook, ManageError> {
    let mut tx = store.begin().await?;
    let found = if enabled {
        tx.enable_webhook(id, now_ms()).await?
    } else {
        tx.disable_webhook(id, "disabled by an operator", now_ms())
            .await?
    };
    if !found {
        return Err(ManageError::NotFound(id.to_owned()));
    }
    let w = tx
        .webhook(id)
        .await?
        .ok_or_else(|| ManageError::NotFound(id.to_owned()))?;
    tx.commit().await?;
    Ok(w)
}

/// Delivers again from `from_seq` (and enables the subscription if it was
/// disabled); the subscription as it is now.
pub async fn redeliver(store: &Store, id: &str, from_seq: i64) -> Result<Webhook, ManageError> {
    crate::delivery::sequence(store).await?;
    let mut tx = store.begin().await?;
    let state = tx.outbox_state().await?;
    let through = start_of(from_seq, &state)?;
    if !tx
        .redeliver_webhook(id, through + 1, true, now_ms())
        .await?
    {
        return Err(ManageError::NotFound(id.to_owned()));
    }
    let w = tx
        .webhook(id)
        .await?
        .ok_or_else(|| ManageError::NotFound(id.to_owned()))?;
    tx.commit().await?;
    Ok(w)
}

/// The latest attempts, newest first.
pub async fn attempts(store: &Store, id: &str, limit: i64) -> Result<Vec<Attempt>, ManageError> {
    let mut tx = store.read().await?;
    if tx.webhook(id).await?.is_none() {
        return Err(ManageError::NotFound(id.to_owned()));
    }
    Ok(tx.webhook_attempts(id, limit).await?)
}

/// A subscription as shown (never its secret).
pub fn webhook_json(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "url": w.url,
        "event_types": w.event_types,
        "integration": w.integration_id,
        "description": w.description,
        "enabled": w.enabled,
        "disabled_reason": w.disabled_reason,
        "disabled_at": rfc3339_ms(w.disabled_ms),
        "created_at": rfc3339_ms(Some(w.created_ms)),
        "updated_at": rfc3339_ms(Some(w.updated_ms)),
        "delivered_through": w.delivered_through,
        "failures": w.failures,
        "failing_since": rfc3339_ms(w.failing_since_ms),
        "next_attempt_at": rfc3339_ms((w.next_attempt_ms > 0).then_some(w.next_attempt_ms)),
    })
}

/// A delivery attempt as shown.
pub fn attempt_json(a: &Attempt) -> Value {
    json!({
        "seq": a.seq,
        "attempt": a.attempt,
        "at": rfc3339_ms(Some(a.at_ms)),
        "status": a.status,
        "latency_ms": a.latency_ms,
        "error": a.error,
    })
}
