//! The dispatch loop: every poll, the subscriptions with something to
//! deliver are given a turn each ([`super::subscription::deliver`]), at most
//! `max_parallel` at once, each in a task of its own (one request in flight
//! per subscription). Nothing here waits on a receiver: a slow or dead one
//! holds one of those places, never the ingest's writer or the sync.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::subscription::{Shared, deliver};
use crate::clock::now_ms;

pub struct Dispatcher {
    shared: Arc<Shared>,
    places: Arc<Semaphore>,
    /// The subscriptions this process is delivering now.
    running: Arc<Mutex<HashSet<String>>>,
}

impl Dispatcher {
    pub fn new(shared: Shared, max_parallel: usize) -> Self {
        Self {
            shared: Arc::new(shared),
            places: Arc::new(Semaphore::new(max_parallel.max(1))),
            running: Arc::default(),
        }
    }

    /// Polls forever, every `poll`.
    pub async fn run(self, poll: Duration) {
        loop {
            if let Err(e) = self.poll().await {
                tracing::warn!(error = %e, "looking for webhook deliveries failed; retrying");
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Starts a turn for every due subscription there is a place for.
    pub async fn poll(&self) -> Result<(), store::StoreError> {
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
                if let Err(e) = deliver(&shared, &id).await {
                    tracing::warn!(subscription = %id, error = %e, "webhook delivery interrupted; it resumes at the next poll");
                }
                if let Ok(mut r) = running.lock() {
                    r.remove(&id);
                }
                drop(place);
            });
        }
        Ok(())
    }
}
