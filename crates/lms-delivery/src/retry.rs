//! When a failed webhook delivery is tried again: exponential backoff with
//! jitter, until the subscription has failed for a whole window (3 days by
//! default), when it is disabled.

/// What an attempt's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Any 2xx: the event is delivered.
    Delivered,
    /// `410 Gone`: the receiver asks us to stop; the subscription is disabled.
    Gone,
    /// Anything else — another status (redirects are not followed), a
    /// timeout, a refused connection: tried again later.
    Retry,
}

/// `status` is `None` when no answer arrived (timeout, connection error).
pub fn classify(status: Option<u16>) -> Outcome {
    match status {
        Some(200..=299) => Outcome::Delivered,
        Some(410) => Outcome::Gone,
        _ => Outcome::Retry,
    }
}

/// The retry schedule of failed deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The delay before the first retry, in ms; each later one doubles it.
    pub first_delay_ms: i64,
    /// No delay is longer than this.
    pub max_delay_ms: i64,
    /// A subscription failing for this long (since its first failure
    /// without a success after it) is disabled.
    pub window_ms: i64,
}

impl Default for Schedule {
    /// 5 s, 10 s, 20 s, … up to 6 hours between attempts, for 3 days.
    fn default() -> Self {
        Schedule {
            first_delay_ms: 5_000,
            max_delay_ms: 6 * 3_600_000,
            window_ms: 3 * 24 * 3_600_000,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time (Unix ms).
    RetryAt(i64),
    /// The window is over: disable the subscription.
    Disable,
}

impl Schedule {
    /// The delay after the `failures`-th consecutive failure (1 for the
    /// first), before jitter.
    pub fn delay_ms(&self, failures: u32) -> i64 {
        let doublings = failures.saturating_sub(1).min(40);
        self.first_delay_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay_ms)
            .max(0)
    }

    /// After the `failures`-th consecutive failure at `now_ms`, of a
    /// subscription failing since `failing_since_ms`: when to try again, or to
    /// give up. `jitter` in [0, 1) spreads retries over ±20 % of the delay so
    /// that receivers coming back are not hit by every sender at once.
    pub fn after_failure(
        &self,
        failing_since_ms: i64,
        now_ms: i64,
        failures: u32,
        jitter: f64,
    ) -> Next {
        if now_ms.saturating_sub(failing_since_ms) >= self.window_ms {
            return Next::Disable;
        }
        let base = self.delay_ms(failures) as f64;
        let spread = base * (0.8 + 0.4 * jitter.clamp(0.0, 1.0));
        let at = now_ms.saturating_add(spread as i64);
        // The last attempt falls at the end of the window, not after it.
        Next::RetryAt(at.min(failing_since_ms.saturating_add(self.window_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answers_are_classified_as_the_big_senders_do() {
        assert_eq!(classify(Some(200)), Outcome::Delivered);
        assert_eq!(classify(Some(204)), Outcome::Delivered);
        assert_eq!(classify(Some(410)), Outcome::Gone);
        for s in [301, 302, 307, 400, 404, 429, 500, 503] {
            assert_eq!(classify(Some(s)), Outcome::Retry, "{s}");
        }
        assert_eq!(classify(None), Outcome::Retry);
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let s = Schedule::default();
        assert_eq!(s.delay_ms(1), 5_000);
        assert_eq!(s.delay_ms(2), 10_000);
        assert_eq!(s.delay_ms(5), 80_000);
        assert_eq!(s.delay_ms(30), 6 * 3_600_000);
        assert_eq!(s.delay_ms(u32::MAX), 6 * 3_600_000);
    }

    #[test]
    fn a_subscription_failing_for_the_whole_window_is_disabled() {
        let s = Schedule::default();
        let t0 = 1_000_000;
        assert_eq!(
            s.after_failure(t0, t0 + s.window_ms, 40, 0.5),
            Next::Disable
        );
        assert!(matches!(
            s.after_failure(t0, t0 + s.window_ms - 1, 40, 0.5),
            Next::RetryAt(at) if at == t0 + s.window_ms
        ));
    }

    proptest! {
        #[test]
        fn retries_stay_within_the_jitter_and_the_window(
            failures in 1u32..60,
            since in 0i64..1_000_000_000,
            elapsed in 0i64..(4 * 24 * 3_600_000),
            jitter in 0.0f64..1.0,
        ) {
            let s = Schedule::default();
            let now = since + elapsed;
            match s.after_failure(since, now, failures, jitter) {
                Next::Disable => prop_assert!(elapsed >= s.window_ms),
                Next::RetryAt(at) => {
                    prop_assert!(elapsed < s.window_ms);
                    prop_assert!(at > now || at == since + s.window_ms);
                    prop_assert!(at <= since + s.window_ms);
                    let d = s.delay_ms(failures);
                    prop_assert!(at - now <= d + d / 5 + 1);
                }
            }
        }
    }
}
