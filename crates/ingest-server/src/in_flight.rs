//! The `stored` times handed to batches as they enter the writer's queue,
//! and the ones still open: what `X-Experience-API-Consistent-Through` may
//! claim.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use time::OffsetDateTime;

use crate::clock::now;

/// Tracks the `stored` times of write transactions still open in this process,
/// so that `X-Experience-API-Consistent-Through` never claims a time before
/// which a statement could still appear; and hands those times out.
#[derive(Debug, Default)]
pub struct InFlight {
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    /// `stored` (nanoseconds) → batches still open with it.
    times: std::collections::BTreeMap<i128, usize>,
    /// The last time handed out.
    last: i128,
}

/// A `stored` time handed out by [`InFlight`], open until dropped.
pub struct InFlightGuard {
    set: Arc<InFlight>,
    key: i128,
}

impl InFlight {
    fn open(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A `stored` time for a batch about to be written: now, and later than
    /// every time handed out before (even where the clock steps back), open
    /// until the guard is dropped. Taken under the same lock as
    /// [`InFlight::consistent_through`] reads, so that no answer can claim a
    /// time past it before the batch is counted as open.
    pub fn enter_now(self: &Arc<Self>) -> (OffsetDateTime, InFlightGuard) {
        let mut open = self.open();
        let key = now().unix_timestamp_nanos().max(open.last + 1);
        open.last = key;
        *open.times.entry(key).or_default() += 1;
        drop(open);
        let stored = OffsetDateTime::from_unix_timestamp_nanos(key).unwrap_or_else(|_| now());
        (
            stored,
            InFlightGuard {
                set: self.clone(),
                key,
            },
        )
    }

    /// Everything stored before this time is visible.
    pub fn consistent_through(&self, now: OffsetDateTime) -> OffsetDateTime {
        let oldest = self.open().times.keys().next().copied();
        match oldest.and_then(|k| OffsetDateTime::from_unix_timestamp_nanos(k - 1_000_000).ok()) {
            Some(t) if t < now => t,
            _ => now,
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut open = self.set.open();
        if let Some(n) = open.times.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.times.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::now;

    /// Stamps handed out one after another always go up, even many within
    /// one tick of the clock; while one is open, no answer claims
    /// consistency past it; once all are answered, it is now again.
    #[test]
    fn stamps_go_up_and_hold_consistency_back_while_open() {
        let set = std::sync::Arc::new(super::InFlight::default());
        let mut last = None;
        let mut guards = Vec::new();
        for _ in 0..10_000 {
            let (t, guard) = set.enter_now();
            if let Some(last) = last {
                assert!(t > last, "{t} after {last}");
            }
            last = Some(t);
            guards.push((t, guard));
        }
        let oldest = guards[0].0;
        assert!(set.consistent_through(now()) < oldest);
        // The oldest answered: the next one holds it back.
        let (_, first) = guards.remove(0);
        drop(first);
        let next = guards[0].0;
        let through = set.consistent_through(now());
        assert!(through < next && through >= oldest - time::Duration::milliseconds(1));
        guards.clear();
        let before = now();
        assert!(set.consistent_through(now()) >= before);
        // After the clock stepped back, still later than the last.
        set.open().last = (now() + time::Duration::hours(1)).unix_timestamp_nanos();
        let (t, _g) = set.enter_now();
        assert!(t > now() + time::Duration::minutes(59));
    }
}
