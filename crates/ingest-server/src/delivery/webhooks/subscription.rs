//! One turn of one subscription's delivery: take its lease, deliver the
//! events after `delivered_through` in `seq` order, one request at a time,
//! until it is caught up, an attempt fails (then wait for the retry), the
//! receiver answers 410, or the turn's time is up; record progress and
//! attempts every 150 ms or 1,000 attempts (`FLUSH_EVERY`, `FLUSH_ATTEMPTS`;
//! at least once: what was delivered since the last record is delivered
//! again after a crash, with the same `webhook-id`).

use std::time::{Duration, Instant};

use lms_delivery::events::event_id;
use lms_delivery::retry::Next;
use lms_delivery::{EventType, Outcome, Schedule, Secret, TypeFilter, classify};
use store::{Attempt, Leased, Progress, Store, StoreError};

use super::attempt;
use crate::clock::now_ms;

/// Events read per query.
const CHUNK: i64 = 500;
/// Progress and attempts are recorded at least this often while delivering…
const FLUSH_EVERY: Duration = Duration::from_millis(150);
/// …and whenever this many attempts wait to be recorded.
const FLUSH_ATTEMPTS: usize = 1_000;
/// A turn gives its place (and lease) up after this long (checked after
/// every delivered event), so that other subscriptions get theirs when more are due
/// than run at once: the default of `Shared::turn`.
pub const TURN: Duration = Duration::from_secs(30);

/// What every turn of this process shares.
pub struct Shared {
    /// The database (the outbox, subscriptions, leases, attempts).
    pub store: Store,
    /// What was delivered, failed and disabled (`/metrics`).
    pub counters: std::sync::Arc<crate::delivery::DeliveryCounters>,
    /// The HTTP client of every attempt ([`super::attempt::client`]).
    pub client: reqwest::Client,
    /// This process's lease owner name (random).
    pub owner: String,
    /// When failed deliveries are retried, and when a subscription is disabled.
    pub schedule: Schedule,
    /// `[delivery] allow_private_networks` (literal IP hosts are checked
    /// before each attempt; host names by the client's resolver).
    pub allow_private_networks: bool,
    /// How long a lease lasts without renewal: longer than an attempt's
    /// timeout plus a record, so that a live holder never loses it.
    pub lease_ms: i64,
    /// How long a turn lasts at most ([`TURN`] unless configured).
    pub turn: Duration,
    /// True when this process stops delivering (`Stopper::stop`).
    pub stop: tokio::sync::watch::Receiver<bool>,
}

/// Resolves when `stop` turns true (never if its sender is gone without
/// saying so: delivery then goes on as before).
pub async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Why a turn ended early.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A turn in progress: the position and failures, and the attempts not yet recorded.
struct Turn<'a> {
    shared: &'a Shared,
    id: String,
    /// The lease's epoch ([`store::Leased::epoch`]).
    epoch: i64,
    cursor: i64,
    failures: i64,
    failing_since_ms: Option<i64>,
    attempts: Vec<Attempt>,
    last_flush: Instant,
}

impl Turn<'_> {
    /// Records the attempts and the progress; false when the lease is lost
    /// (nothing but the attempts recorded then: stop).
    async fn flush(&mut self, next_attempt_ms: i64, end: End) -> Result<bool, DeliveryError> {
        // The time is taken once the transaction has its connection (which
        // may wait): the renewed lease then lasts its whole length from now.
        let mut tx = self.shared.store.begin().await?;
        let now = now_ms();
        let progress = Progress {
            epoch: self.epoch,
            delivered_through: self.cursor,
            failures: self.failures,
            failing_since_ms: self.failing_since_ms,
            next_attempt_ms,
            lease_until_ms: now + self.shared.lease_ms,
            release: matches!(end, End::Release),
            disable: match end {
                End::Disable(reason) => Some(reason),
                _ => None,
            },
        };
        let disabling = progress.disable.clone();
        tx.insert_webhook_attempts(&self.attempts).await?;
        let held = tx
            .record_webhook_progress(&self.id, &self.shared.owner, &progress, now)
            .await?;
        if !held {
            // Lost: expired and taken (the release changes nothing then), or
            // a redelivery bumped the epoch (the lease is still ours, and no
            // one else may deliver until it is given up).
            tx.release_webhook_lease(&self.id, &self.shared.owner)
                .await?;
        }
        tx.commit().await?;
        if let (Some(reason), true) = (disabling, held) {
            self.shared.counters.disabled.inc();
            tracing::warn!(subscription = %self.id, %reason, "webhook subscription disabled");
        }
        self.attempts.clear();
        self.last_flush = Instant::now();
        Ok(held)
    }

    fn record(&mut self, seq: i64, at_ms: i64, r: &attempt::AttemptResult) {
        self.attempts.push(Attempt {
            subscription_id: self.id.clone(),
            seq,
            attempt: self.failures + 1,
            at_ms,
            status: r.status.map(i64::from),
            latency_ms: r.latency_ms,
            error: r.error.clone(),
        });
    }
}

/// How a record ends the turn.
enum End {
    /// The turn goes on (the lease renewed).
    Renew,
    /// The turn is over.
    Release,
    /// The subscription is disabled, for this reason.
    Disable(String),
}

/// A number in [0, 1) from the operating system's random source.
fn jitter() -> f64 {
    let b = crate::auth::random_bytes::<4>();
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

/// One turn of subscription `id` (nothing when another instance holds its lease).
pub async fn deliver(shared: &Shared, id: &str) -> Result<(), DeliveryError> {
    let leased = {
        let mut tx = shared.store.begin().await?;
        let now = now_ms();
        let l = tx
            .acquire_webhook_lease(id, &shared.owner, now, now + shared.lease_ms)
            .await?;
        tx.commit().await?;
        l
    };
    let Some(leased) = leased else {
        return Ok(());
    };
    let mut turn = Turn {
        shared,
        id: leased.id.clone(),
        epoch: leased.epoch,
        cursor: leased.delivered_through,
        failures: leased.failures,
        failing_since_ms: leased.failing_since_ms,
        attempts: Vec::new(),
        last_flush: Instant::now(),
    };
    let (secret, types) = match (
        Secret::parse(&leased.secret),
        TypeFilter::new(&leased.event_types),
    ) {
        (Ok(s), Ok(t)) => (s, t),
        _ => {
            turn.flush(
                0,
                End::Disable("the stored secret or event types are not valid".into()),
            )
            .await?;
            return Ok(());
        }
    };
    let epoch = shared.store.read().await?.outbox_state().await?.epoch;
    let started = Instant::now();
    let mut stop = shared.stop.clone();
    loop {
        if *stop.borrow() {
            turn.flush(0, End::Release).await?;
            return Ok(());
        }
        let (events, pruned_through) = {
            let mut tx = shared.store.read().await?;
            let events = tx.events_after(turn.cursor, CHUNK).await?;
            // Read after the events (PostgreSQL: each statement sees what is
            // committed when it starts): a prune that ran before or during
            // this read is seen, never taken for a gap.
            (events, tx.outbox_state().await?.pruned_through)
        };
        if turn.cursor < pruned_through {
            let reason = format!(
                "the events up to {pruned_through} were pruned (retention) before they were delivered: resynchronize from the list APIs, then redeliver from {}",
                pruned_through + 1
            );
            turn.flush(0, End::Disable(reason)).await?;
            return Ok(());
        }
        if events.is_empty() {
            turn.flush(0, End::Release).await?;
            return Ok(());
        }
        if turn.last_flush.elapsed() >= FLUSH_EVERY && !turn.flush(0, End::Renew).await? {
            return Ok(());
        }
        for e in &events {
            if !wanted(&leased, &types, e) {
                turn.cursor = e.seq;
                continue;
            }
            let body = match crate::delivery::event::event_json(&epoch, e) {
                Ok(b) => b,
                Err(corrupt) => {
                    // Never deliverable: recorded and passed over.
                    let r = attempt::AttemptResult {
                        status: None,
                        latency_ms: 0,
                        error: Some(format!("not delivered: {corrupt}")),
                    };
                    turn.record(e.seq, now_ms(), &r);
                    turn.cursor = e.seq;
                    continue;
                }
            };
            if turn.last_flush.elapsed() >= FLUSH_EVERY && !turn.flush(0, End::Renew).await? {
                return Ok(());
            }
            let at_ms = now_ms();
            let msg_id = event_id(&epoch, e.seq);
            let sent = attempt::post(
                &shared.client,
                shared.allow_private_networks,
                &leased.url,
                &secret,
                &msg_id,
                body,
            );
            let r = tokio::select! {
                r = sent => r,
                () = stopped(&mut stop) => {
                    // Abandoned (not recorded): delivered again after the
                    // recorded position, with the same `webhook-id`.
                    turn.flush(0, End::Release).await?;
                    return Ok(());
                }
            };
            turn.record(e.seq, at_ms, &r);
            match classify(r.status) {
                Outcome::Delivered => {
                    shared.counters.delivered.inc();
                    let lag_ms = now_ms().saturating_sub(e.at_ms).max(0);
                    shared.counters.lag.observe(lag_ms as f64 / 1000.0);
                    turn.cursor = e.seq;
                    turn.failures = 0;
                    turn.failing_since_ms = None;
                }
                Outcome::Gone => {
                    let reason = "the receiver answered 410 Gone".to_owned();
                    turn.flush(0, End::Disable(reason)).await?;
                    return Ok(());
                }
                Outcome::Retry => {
                    shared.counters.failed.inc();
                    tracing::warn!(
                        subscription = %turn.id,
                        seq = e.seq,
                        status = r.status,
                        error = r.error.as_deref().unwrap_or_default(),
                        "webhook delivery failed; it will be retried"
                    );
                    turn.failures += 1;
                    let since = *turn.failing_since_ms.get_or_insert(at_ms);
                    let now = now_ms();
                    let failures = u32::try_from(turn.failures).unwrap_or(u32::MAX);
                    match shared
                        .schedule
                        .after_failure(since, now, failures, jitter())
                    {
                        Next::RetryAt(at) => {
                            turn.flush(at, End::Release).await?;
                        }
                        Next::Disable => {
                            let reason = format!(
                                "failing since {} for the whole retry window ({} failed attempts)",
                                lms_delivery::rfc3339_ms(since).unwrap_or_default(),
                                turn.failures
                            );
                            turn.flush(0, End::Disable(reason)).await?;
                        }
                    }
                    return Ok(());
                }
            }
            if started.elapsed() >= shared.turn {
                // Checked after every delivered event, not only between
                // chunks: a slow receiver with a long backlog (each answer a
                // 2xx just within the timeout) must not keep the place. Due
                // again at once, but after the subscriptions that have
                // waited longer (`due_webhooks` takes the earliest first).
                turn.flush(now_ms(), End::Release).await?;
                return Ok(());
            }
            if turn.attempts.len() >= FLUSH_ATTEMPTS && !turn.flush(0, End::Renew).await? {
                return Ok(());
            }
        }
    }
}

/// Whether the subscription takes this event (its types and integration).
fn wanted(leased: &Leased, types: &TypeFilter, e: &store::FeedEvent) -> bool {
    EventType::parse(&e.event_type).is_some_and(|t| types.matches(t))
        && leased
            .integration_id
            .as_deref()
            .is_none_or(|i| i == e.integration_id)
}
