//! Webhooks: subscriptions (`manage`, and their routes in `routes`) and the
//! dispatcher that delivers the outbox to them (`dispatch`: the loop;
//! `subscription`: one subscription's turn; `attempt`: one HTTP attempt;
//! `guard`: the addresses it may connect to).
//! Behaviour and guarantees: docs/EVENTS.md, "Webhooks"; docs/webhooks-security.md.

pub mod attempt;
pub mod dispatch;
pub mod guard;
pub mod manage;
pub mod routes;
pub mod subscription;

use std::time::Duration;

use store::Store;

use crate::config::Delivery;

/// Stops this process's dispatcher: see [`Stopper::stop`].
#[derive(Debug)]
pub struct Stopper {
    stop: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Stopper {
    /// Stops polling, abandons the attempts in flight (not recorded: their
    /// events are delivered again, with the same `webhook-id`), records every
    /// turn's progress and releases its lease, so that another instance (or
    /// this one restarted) takes the subscriptions over at once instead of
    /// after the lease expires. Returns when every turn has ended.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(t) = task {
            if let Err(e) = t.await {
                tracing::warn!(error = %e, "the webhook dispatcher ended abnormally");
            }
        }
    }
}

/// Starts this process's dispatcher (with the delivery task, when
/// `[delivery] webhooks` is true); `None` when its client cannot be built.
pub fn spawn(
    store: Store,
    config: &Delivery,
    counters: std::sync::Arc<super::DeliveryCounters>,
) -> Option<Stopper> {
    let timeout = Duration::from_secs(config.timeout_secs.max(1));
    let client = match attempt::client(timeout, config.allow_private_networks) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client: webhooks are not delivered by this process");
            return None;
        }
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 4);
    let shared = subscription::Shared {
        store,
        client,
        owner: format!(
            "{}-{}",
            std::process::id(),
            hex::encode(crate::auth::random_bytes::<6>())
        ),
        schedule: config.schedule(),
        allow_private_networks: config.allow_private_networks,
        lease_ms: timeout_ms.saturating_mul(2).saturating_add(5_000),
        turn: config
            .turn_ms
            .map_or(subscription::TURN, Duration::from_millis),
        stop: stopped,
        counters,
    };
    let dispatcher = dispatch::Dispatcher::new(shared, config.max_parallel);
    let poll = Duration::from_millis(config.poll_ms.max(10));
    let task = tokio::spawn(dispatcher.run(poll));
    Some(Stopper {
        stop,
        task: std::sync::Mutex::new(Some(task)),
    })
}
