//! Webhook subscriptions, their delivery state and lease, and every attempt
//! (schema v14, docs/EVENTS.md).
//!
//! One dispatcher at a time delivers a subscription: it holds the
//! subscription's lease (`lease_owner`, `lease_until_ms`), taken with one
//! conditional `UPDATE` that works alike on both engines, renewed with every
//! progress it records, and lost when it expires or when redelivery resets
//! the subscription. Progress (`delivered_through`: every event up to it is
//! delivered or filtered out) is written only by the lease holder.
//!
//! The secret is stored as the `whsec_…` text: the dispatcher signs every
//! delivery with it, so (unlike credentials we only verify) a hash would not
//! do. [`Webhook`] never carries it; only [`Leased`] does.

use crate::exec::{Arg, Cols};
use crate::{Result, RowsSql, Tx, col, flag};

/// A subscription to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub id: String,
    pub url: String,
    /// Event types and patterns (`course.*`, …), stored as a JSON array.
    pub event_types: Vec<String>,
    pub integration_id: Option<String>,
    pub description: Option<String>,
    /// `whsec_…`.
    pub secret: String,
    /// Delivery starts after this `seq`.
    pub delivered_through: i64,
    pub now_ms: i64,
}

/// A subscription as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub integration_id: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub delivered_through: i64,
    pub failures: i64,
    pub failing_since_ms: Option<i64>,
    pub next_attempt_ms: i64,
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
}

/// What the lease holder delivers with.
#[derive(Clone, PartialEq, Eq)]
pub struct Leased {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub integration_id: Option<String>,
    /// `whsec_…`.
    pub secret: String,
    pub delivered_through: i64,
    pub failures: i64,
    pub failing_since_ms: Option<i64>,
    /// The lease's epoch when taken: progress is recorded only under it.
    pub epoch: i64,
}

impl std::fmt::Debug for Leased {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leased")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("delivered_through", &self.delivered_through)
            .finish_non_exhaustive()
    }
}

/// Delivery progress, written by the lease holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The epoch the lease was taken under ([`Leased::epoch`]).
    pub epoch: i64,
    pub delivered_through: i64,
    pub failures: i64,
    pub failing_since_ms: Option<i64>,
    /// When to try again (0: as soon as there is something to deliver).
    pub next_attempt_ms: i64,
    /// The lease's new end; ignored when `release` or `disable`.
    pub lease_until_ms: i64,
    /// Give the lease up (this turn is over).
    pub release: bool,
    /// Disable the subscription with this reason (and give the lease up).
    pub disable: Option<String>,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub subscription_id: String,
    pub seq: i64,
    /// 1 for the first attempt at this event, 2 for its first retry, …
    pub attempt: i64,
    pub at_ms: i64,
    /// The HTTP status, if an answer came.
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

const COLUMNS: &str = "id, url, event_types, integration_id, description, enabled, disabled_reason, \
     disabled_ms, created_ms, updated_ms, delivered_through, failures, failing_since_ms, \
     next_attempt_ms, lease_owner, lease_until_ms";

fn types_of(r: &impl Cols) -> Result<Vec<String>> {
    let text: String = col(r, "event_types")?;
    serde_json::from_str(&text).map_err(|e| crate::StoreError::Corrupt {
        what: "webhook_subscriptions.event_types",
        detail: e.to_string(),
    })
}

fn webhook(r: &impl Cols) -> Result<Webhook> {
    Ok(Webhook {
        id: col(r, "id")?,
        url: col(r, "url")?,
        event_types: types_of(r)?,
        integration_id: col(r, "integration_id")?,
        description: col(r, "description")?,
        enabled: col::<i64>(r, "enabled")? != 0,
        disabled_reason: col(r, "disabled_reason")?,
        disabled_ms: col(r, "disabled_ms")?,
        created_ms: col(r, "created_ms")?,
        updated_ms: col(r, "updated_ms")?,
        delivered_through: col(r, "delivered_through")?,
        failures: col(r, "failures")?,
        failing_since_ms: col(r, "failing_since_ms")?,
        next_attempt_ms: col(r, "next_attempt_ms")?,
        lease_owner: col(r, "lease_owner")?,
        lease_until_ms: col(r, "lease_until_ms")?,
    })
}

const ATTEMPT_ARGS: usize = 7;

impl Tx<'_> {
    pub async fn insert_webhook(&mut self, w: &NewWebhook) -> Result<()> {
        let types = serde_json::to_string(&w.event_types).unwrap_or_else(|_| "[]".into());
        let q = self.sql(
            "INSERT INTO webhook_subscriptions (id, url, event_types, integration_id, description, secret, \
             enabled, created_ms, updated_ms, delivered_through, failures, next_attempt_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8, 0, 0)",
        );
        self.run(
            &q,
            &[
                (&w.id).into(),
                (&w.url).into(),
                types.as_str().into(),
                (&w.integration_id).into(),
                (&w.description).into(),
                (&w.secret).into(),
                w.now_ms.into(),
                w.delivered_through.into(),
            ],
            "creating a webhook subscription",
        )
        .await?;
        Ok(())
    }

    /// Every subscription, oldest first.
    pub async fn webhooks(&mut self) -> Result<Vec<Webhook>> {
        let q = format!("SELECT {COLUMNS} FROM webhook_subscriptions ORDER BY created_ms, id");
        let rows = self.fetch(&q, &[], "listing webhook subscriptions").await?;
        rows.iter().map(webhook).collect()
    }

    pub async fn webhook(&mut self, id: &str) -> Result<Option<Webhook>> {
        let q = self.sql(&format!(
            "SELECT {COLUMNS} FROM webhook_subscriptions WHERE id = $1"
        ));
        self.fetch_opt(&q, &[id.into()], "reading a webhook subscription")
            .await?
            .as_ref()
            .map(webhook)
            .transpose()
    }

    /// Disables a subscription (an operator's or the dispatcher's decision);
    /// false when there is no such subscription. A dispatcher holding its
    /// lease stops at its next renewal.
    pub async fn disable_webhook(&mut self, id: &str, reason: &str, now_ms: i64) -> Result<bool> {
        let q = self.sql(
            "UPDATE webhook_subscriptions SET enabled = 0, disabled_reason = $2, \
             disabled_ms = $3, updated_ms = $3 WHERE id = $1",
        );
        let n = self
            .run(
                &q,
                &[id.into(), reason.into(), now_ms.into()],
                "disabling a webhook subscription",
            )
            .await?;
        Ok(n == 1)
    }

    /// Enables a subscription again, its failures forgotten: delivery goes on
    /// from where it stopped (`delivered_through`). False when there is no
    /// such subscription.
    pub async fn enable_webhook(&mut self, id: &str, now_ms: i64) -> Result<bool> {
        let q = self.sql(
            "UPDATE webhook_subscriptions SET enabled = 1, disabled_reason = NULL, disabled_ms = NULL, \
             failures = 0, failing_since_ms = NULL, next_attempt_ms = 0, updated_ms = $2 WHERE id = $1",
        );
        let n = self
            .run(
                &q,
                &[id.into(), now_ms.into()],
                "enabling a webhook subscription",
            )
            .await?;
        Ok(n == 1)
    }

    /// Delivers again from `from_seq` on: `delivered_through` set to
    /// `from_seq - 1`, failures forgotten, the lease's epoch bumped (the
    /// holder's next record is refused: it stops and releases the lease,
    /// which no one else takes meanwhile), and the subscription enabled again
    /// when `enable`. False when there is no such subscription.
    pub async fn redeliver_webhook(
        &mut self,
        id: &str,
        from_seq: i64,
        enable: bool,
        now_ms: i64,
    ) -> Result<bool> {
        let q = self.sql(
            "UPDATE webhook_subscriptions SET delivered_through = $2, failures = 0, failing_since_ms = NULL, \
             next_attempt_ms = 0, lease_epoch = lease_epoch + 1, updated_ms = $3, \
             enabled = CASE WHEN $4 = 1 THEN 1 ELSE enabled END, \
             disabled_reason = CASE WHEN $4 = 1 THEN NULL ELSE disabled_reason END, \
             disabled_ms = CASE WHEN $4 = 1 THEN NULL ELSE disabled_ms END \
             WHERE id = $1",
        );
        let n = self
            .run(
                &q,
                &[
                    id.into(),
                    (from_seq - 1).into(),
                    now_ms.into(),
                    flag(enable).into(),
                ],
                "resetting a webhook subscription for redelivery",
            )
            .await?;
        Ok(n == 1)
    }

    /// Up to `limit` subscriptions with something to deliver now: enabled,
    /// due (`next_attempt_ms <= now_ms`), behind `head` (the outbox's last
    /// `seq`), and not leased (or the lease expired); the longest waiting first.
    pub async fn due_webhooks(
        &mut self,
        now_ms: i64,
        head: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let q = self.sql(
            "SELECT id FROM webhook_subscriptions WHERE enabled = 1 AND next_attempt_ms <= $1 \
             AND delivered_through < $2 AND (lease_owner IS NULL OR lease_until_ms < $1) \
             ORDER BY next_attempt_ms, id LIMIT $3",
        );
        let rows = self
            .fetch(
                &q,
                &[now_ms.into(), head.into(), limit.into()],
                "looking for due webhook subscriptions",
            )
            .await?;
        rows.iter().map(|r| col(r, "id")).collect()
    }

    /// Takes (or renews) the lease of an enabled subscription for `owner`
    /// until `until_ms`, unless another owner holds an unexpired one; with
    /// the lease, what to deliver with.
    pub async fn acquire_webhook_lease(
        &mut self,
        id: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<Leased>> {
        let q = self.sql(
            "UPDATE webhook_subscriptions SET lease_owner = $2, lease_until_ms = $3 \
             WHERE id = $1 AND enabled = 1 \
             AND (lease_owner IS NULL OR lease_until_ms < $4 OR lease_owner = $2)",
        );
        let n = self
            .run(
                &q,
                &[id.into(), owner.into(), until_ms.into(), now_ms.into()],
                "taking a webhook subscription's lease",
            )
            .await?;
        if n != 1 {
            return Ok(None);
        }
        let q = self.sql(
            "SELECT id, url, event_types, integration_id, secret, delivered_through, failures, \
             failing_since_ms, lease_epoch FROM webhook_subscriptions WHERE id = $1",
        );
        let Some(r) = self
            .fetch_opt(&q, &[id.into()], "reading a leased webhook subscription")
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Leased {
            id: col(&r, "id")?,
            url: col(&r, "url")?,
            event_types: types_of(&r)?,
            integration_id: col(&r, "integration_id")?,
            secret: col(&r, "secret")?,
            delivered_through: col(&r, "delivered_through")?,
            failures: col(&r, "failures")?,
            failing_since_ms: col(&r, "failing_since_ms")?,
            epoch: col(&r, "lease_epoch")?,
        }))
    }

    /// Records the lease holder's progress (and renews, releases or, with
    /// `disable`, disables); false when `owner` no longer holds the lease of
    /// an enabled subscription under the epoch it took it in (it expired and
    /// another took it, a redelivery bumped the epoch, or it was disabled):
    /// nothing is written then, and the holder must stop and
    /// [release](Tx::release_webhook_lease) the lease.
    pub async fn record_webhook_progress(
        &mut self,
        id: &str,
        owner: &str,
        p: &Progress,
        now_ms: i64,
    ) -> Result<bool> {
        let release = p.release || p.disable.is_some();
        let q = self.sql(
            "UPDATE webhook_subscriptions SET delivered_through = $3, failures = $4, \
             failing_since_ms = $5, next_attempt_ms = $6, \
             lease_owner = CASE WHEN $7 = 1 THEN NULL ELSE lease_owner END, \
             lease_until_ms = CASE WHEN $7 = 1 THEN NULL ELSE $8 END, \
             enabled = CASE WHEN $9 = 1 THEN 0 ELSE 1 END, \
             disabled_reason = $10, disabled_ms = CASE WHEN $9 = 1 THEN $11 ELSE NULL END, \
             updated_ms = CASE WHEN $9 = 1 THEN $11 ELSE updated_ms END \
             WHERE id = $1 AND lease_owner = $2 AND enabled = 1 AND lease_epoch = $12",
        );
        let n = self
            .run(
                &q,
                &[
                    id.into(),
                    owner.into(),
                    p.delivered_through.into(),
                    p.failures.into(),
                    p.failing_since_ms.into(),
                    p.next_attempt_ms.into(),
                    flag(release).into(),
                    p.lease_until_ms.into(),
                    flag(p.disable.is_some()).into(),
                    (&p.disable).into(),
                    now_ms.into(),
                    p.epoch.into(),
                ],
                "recording webhook delivery progress",
            )
            .await?;
        Ok(n == 1)
    }

    /// Gives a lease up without recording progress.
    pub async fn release_webhook_lease(&mut self, id: &str, owner: &str) -> Result<()> {
        let q = self.sql(
            "UPDATE webhook_subscriptions SET lease_owner = NULL, lease_until_ms = NULL \
             WHERE id = $1 AND lease_owner = $2",
        );
        self.run(&q, &[id.into(), owner.into()], "releasing a webhook lease")
            .await?;
        Ok(())
    }

    /// Records attempts, many rows per statement.
    pub async fn insert_webhook_attempts(&mut self, attempts: &[Attempt]) -> Result<()> {
        static TEXT: RowsSql = RowsSql::new();
        let text = |n: usize| {
            let mut q = String::from(
                "INSERT INTO webhook_attempts (subscription_id, seq, attempt, at_ms, status, latency_ms, error) VALUES ",
            );
            q.push_str(&crate::repeat_row("(?, ?, ?, ?, ?, ?, ?)", n, 1, ","));
            q
        };
        for chunk in attempts.chunks(200) {
            let mut args: Vec<Arg<'_>> = Vec::with_capacity(chunk.len() * ATTEMPT_ARGS);
            for a in chunk {
                args.extend([
                    Arg::from(&a.subscription_id),
                    a.seq.into(),
                    a.attempt.into(),
                    a.at_ms.into(),
                    a.status.into(),
                    a.latency_ms.into(),
                    (&a.error).into(),
                ]);
            }
            let q = TEXT.get(self.backend, chunk.len(), text);
            self.run(&q, &args, "recording webhook attempts").await?;
        }
        Ok(())
    }

    /// The latest `limit` attempts of a subscription, newest first.
    pub async fn webhook_attempts(&mut self, id: &str, limit: i64) -> Result<Vec<Attempt>> {
        let q = self.sql(
            "SELECT subscription_id, seq, attempt, at_ms, status, latency_ms, error \
             FROM webhook_attempts WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2",
        );
        let rows = self
            .fetch(&q, &[id.into(), limit.into()], "listing webhook attempts")
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Attempt {
                    subscription_id: col(r, "subscription_id")?,
                    seq: col(r, "seq")?,
                    attempt: col(r, "attempt")?,
                    at_ms: col(r, "at_ms")?,
                    status: col(r, "status")?,
                    latency_ms: col(r, "latency_ms")?,
                    error: col(r, "error")?,
                })
            })
            .collect()
    }

    /// Deletes attempts recorded before `before_ms` (retention); returns how many.
    pub async fn prune_webhook_attempts(&mut self, before_ms: i64) -> Result<u64> {
        let q = self.sql("DELETE FROM webhook_attempts WHERE at_ms < $1");
        self.run(&q, &[before_ms.into()], "pruning webhook attempts")
            .await
    }
}
