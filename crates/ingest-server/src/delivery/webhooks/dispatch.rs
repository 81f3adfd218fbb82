//! The dispatch loop: every poll, the subscriptions with something to
//! deliver are given a turn each ([`super::subscription::deliver`]), at most
//! `max_parallel` at once, each in a task of its own (one request in flight
//! per subscription). Nothing here waits on a receiver: a slow or dead one
//! holds one of those places, never the ingest's writer or the sync.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use super::subscription::{Shared, deliver, stopped};
use crate::clock::now_ms;

/// The loop that finds subscriptions with events due and delivers them, at
/// most `max_parallel` at once, each in order.
pub struct Dispatcher {
    shared: Arc<Shared>,
    places: Arc<Semaphore>,
    /// How many places there are.
    max_parallel: usize,
    /// The subscriptions this process is delivering now.
    running: Arc<Mutex<HashSet<String>>>,
}

impl Dispatcher {
    /// A dispatcher over `shared` with `max_parallel` places (at least one).
    pub fn new(shared: Shared, max_parallel: usize) -> Self {
        let max_parallel = max_parallel.max(1);
        Self {
            shared: Arc::new(shared),
            places: Arc::new(Semaphore::new(max_parallel)),
            max_parallel,
            running: Arc::default(),
        }
    }

    /// Polls every `poll` until `shared.stop` says to stop; then returns
    /// when every turn has ended (each records its progress and releases
    /// its lease).
    pub async fn run(self, poll: Duration) {
        let mut stop: watch::Receiver<bool> = self.shared.stop.clone();
        while !*stop.borrow() {
            if let Err(e) = self.poll().await {
                tracing::warn!(error = %e, "looking for webhook deliveries failed; retrying");
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = stopped(&mut stop) => {}
            }
        }
        let all = u32::try_from(self.max_parallel).unwrap_or(u32::MAX);
        let _ = self.places.acquire_many(all).await;
    }

    /// Starts a turn for every due subscription there is a place for.
    pub async fn poll(&self) -> Result<(), store::StoreError> {
        if *self.shared.stop.borrow() {
            return Ok(());
        }
        let free = self.places.available_permits();
        if free == 0 {
            return Ok(());
        }
        let busy = self.running.lock().map(|r| r.len()).unwrap_or(0);
        let due = {
            let mut tx = self.shared.store.read().await?;
            let head = tx.outbox_state().await?.last_seq;
            tx.due_webhooks(now_ms(), head, (free + busy) as i64)
                .await?
        };
        for id in due {
            let Ok(mut running) = self.running.lock() else {
                return Ok(());
            };
            if running.contains(&id) {
                continue;
            }
            let Ok(place) = self.places.clone().try_acquire_owned() else {
                break;
            };
            running.insert(id.clone());
            drop(running);
            let (shared, running) = (self.shared.clone(), self.running.clone());
            tokio::spawn(async move {
                // Out of the running set and the place given back however
                // the turn ends, a panic included.
                let _running = RunningEntry(running, id.clone());
                let _place = place;
                if let Err(e) = deliver(&shared, &id).await {
                    tracing::warn!(subscription = %id, error = %e, "webhook delivery interrupted; it resumes at the next poll");
                    // The turn could not record its end: give the lease up
                    // (best effort) so that the next poll resumes it instead
                    // of waiting for the lease to expire.
                    if let Ok(mut tx) = shared.store.begin().await
                        && tx.release_webhook_lease(&id, &shared.owner).await.is_ok()
                    {
                        let _ = tx.commit().await;
                    }
                }
            });
        }
        Ok(())
    }
}

/// A subscription's entry in the running set, removed when dropped.
struct RunningEntry(Arc<Mutex<HashSet<String>>>, String);

impl Drop for RunningEntry {
    fn drop(&mut self) {
        if let Ok(mut r) = self.0.lock() {
            r.remove(&self.1);
        }
    }
}
