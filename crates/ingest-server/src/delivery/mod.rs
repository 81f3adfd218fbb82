//! Delivery to the LMS: the change feed (`GET /api/v1/events`), and the
//! background task that gives PostgreSQL's new events their `seq`, prunes
//! events past retention and runs the webhook dispatcher (docs/EVENTS.md).

pub mod event;
pub mod feed;
pub mod webhooks;

use std::time::Duration;

use store::Store;

use crate::config::Delivery;

/// Events sequenced per transaction.
const SEQUENCE_CHUNK: i64 = 10_000;
/// Events pruned per transaction.
const PRUNE_CHUNK: i64 = 10_000;
/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Gives every committed event without a `seq` one (PostgreSQL; nothing on
/// SQLite, where events get theirs at insert). Returns how many.
pub async fn sequence(store: &Store) -> Result<u64, store::StoreError> {
    if store.backend() != store::Backend::Postgres {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        {
            let mut tx = store.read().await?;
            if !tx.has_unsequenced_events().await? {
                return Ok(total);
            }
        }
        let mut tx = store.begin().await?;
        let n = tx.sequence_events(SEQUENCE_CHUNK).await?;
        tx.commit().await?;
        total += n;
        if n < SEQUENCE_CHUNK as u64 {
            return Ok(total);
        }
    }
}

/// Deletes the events older than the retention period; returns how many.
pub async fn prune(
    store: &Store,
    config: &Delivery,
    now_ms: i64,
) -> Result<u64, store::StoreError> {
    let before = now_ms.saturating_sub(config.retention_days.saturating_mul(86_400_000));
    let mut total = 0;
    loop {
        let mut tx = store.begin().await?;
        let n = tx.prune_events(before, PRUNE_CHUNK).await?;
        tx.commit().await?;
        total += n;
        if n < PRUNE_CHUNK as u64 {
            break;
        }
    }
    // Webhook attempts are kept as long as events.
    let mut tx = store.begin().await?;
    tx.prune_webhook_attempts(before).await?;
    tx.commit().await?;
    Ok(total)
}

/// What this process's webhook dispatcher did (`/metrics`).
#[derive(Debug)]
pub struct DeliveryCounters {
    /// Events a receiver acknowledged (2xx).
    pub delivered: prometheus_client::metrics::counter::Counter,
    /// Attempts that failed (another status, a timeout, a connection error).
    pub failed: prometheus_client::metrics::counter::Counter,
    /// Subscriptions disabled (410 Gone, the retry window over, behind retention).
    pub disabled: prometheus_client::metrics::counter::Counter,
    /// Seconds from an event's creation (`at_ms`) to its acknowledged delivery.
    pub lag: prometheus_client::metrics::histogram::Histogram,
}

impl Default for DeliveryCounters {
    fn default() -> Self {
        Self {
            delivered: Default::default(),
            failed: Default::default(),
            disabled: Default::default(),
            // 50 ms … about 7.3 days, each bucket 4× the one before.
            lag: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.05, 4.0, 13),
            ),
        }
    }
}

/// Stops the delivery task and the webhook dispatcher ([`stop`](Stopper::stop)).
pub struct Stopper {
    stop: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    webhooks: Option<webhooks::Stopper>,
}

impl Stopper {
    /// Stops the dispatcher (see [`webhooks::Stopper::stop`]), then the
    /// sequencer and retention loop; returns when both have ended.
    pub async fn stop(&self) {
        if let Some(w) = &self.webhooks {
            w.stop().await;
        }
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

/// Starts the background task (with the app; see `App::new`): the
/// PostgreSQL sequencer and retention, and the webhook dispatcher when
/// `[delivery] webhooks`.
pub fn spawn(
    store: Store,
    config: Delivery,
    counters: std::sync::Arc<DeliveryCounters>,
) -> Stopper {
    let dispatcher = if config.webhooks {
        webhooks::spawn(store.clone(), &config, counters)
    } else {
        None
    };
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut last_prune: Option<std::time::Instant> = None;
        let poll = Duration::from_millis(config.poll_ms.max(10));
        while !*stopped.borrow() {
            if let Err(e) = sequence(&store).await {
                tracing::warn!(error = %e, "sequencing events failed; retrying");
            }
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(std::time::Instant::now());
                match prune(&store, &config, crate::clock::now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(events = n, "events past retention pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning events failed; retrying later"),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = stopped.changed() => {}
            }
        }
    });
    Stopper {
        stop,
        task: std::sync::Mutex::new(Some(task)),
        webhooks: dispatcher,
    }
}
