//! Connection tests per API key: a token bucket (`[limits] tests_per_minute`, `tests_burst`),
//! which is what governor's GCRA limiter is, keyed by API key id and read on Jackal's clock.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;

/// Jackal's clock as governor reads it: nanoseconds since the epoch (never before it).
#[derive(Debug, Clone)]
struct JackalClock(Arc<dyn Clock>);

impl GovernorClock for JackalClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let millis = u64::try_from(self.0.now_millis()).unwrap_or(0);
        Nanos::from(millis.saturating_mul(1_000_000))
    }
}

type Limiter = RateLimiter<String, HashMapStateStore<String>, JackalClock, NoOpMiddleware<Nanos>>;

#[derive(Debug)]
pub struct TestRate {
    limiter: Limiter,
    clock: JackalClock,
    max_keys: usize,
}

impl TestRate {
    /// `burst` tests at once, refilled at `per_minute`; at most `max_keys` keys remembered.
    pub fn new(per_minute: u32, burst: u32, max_keys: usize, clock: Arc<dyn Clock>) -> Self {
        let one = NonZeroU32::MIN;
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(one))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(one));
        let clock = JackalClock(clock);
        Self {
            limiter: RateLimiter::hashmap_with_clock(quota, clock.clone()),
            clock,
            max_keys,
        }
    }

    /// Takes one test for `key_id`, or says in how many whole seconds one will be there.
    pub fn take(&self, key_id: &str) -> Result<(), u64> {
        // Only authenticated keys get here, so the map is bounded by the store's keys; a full
        // bucket is the same as none, so those are dropped from time to time all the same.
        if self.limiter.len() >= self.max_keys {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key_id.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now());
                seconds_ceil(wait)
            })
    }
}

fn seconds_ceil(wait: Duration) -> u64 {
    let secs = wait.as_secs();
    if wait.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn rate(per_minute: u32, burst: u32) -> (TestRate, ManualClock) {
        let clock = ManualClock::new(0);
        (
            TestRate::new(per_minute, burst, 10_000, Arc::new(clock.clone())),
            clock,
        )
    }

    #[test]
    fn test_buckets_allow_a_burst_then_the_rate() {
        let (rate, clock) = rate(60, 3);
        for _ in 0..3 {
            assert_eq!(rate.take("key"), Ok(()));
        }
        assert_eq!(rate.take("key"), Err(1));
        assert_eq!(rate.take("other"), Ok(()), "each key has its own bucket");
        clock.set_millis(999);
        assert_eq!(rate.take("key"), Err(1));
        clock.set_millis(1_000);
        assert_eq!(rate.take("key"), Ok(()));
        assert_eq!(rate.take("key"), Err(1));
        // A long pause refills only up to the burst.
        clock.set_millis(3_600_000);
        for _ in 0..3 {
            assert_eq!(rate.take("key"), Ok(()));
        }
        assert_eq!(rate.take("key"), Err(1));
    }

    #[test]
    fn a_slow_rate_says_how_long_to_wait() {
        let (rate, clock) = rate(1, 1);
        assert_eq!(rate.take("key"), Ok(()));
        assert_eq!(rate.take("key"), Err(60));
        clock.set_millis(30_000);
        assert_eq!(rate.take("key"), Err(30));
        clock.set_millis(59_999);
        assert_eq!(rate.take("key"), Err(1));
        clock.set_millis(60_000);
        assert_eq!(rate.take("key"), Ok(()));
    }

    #[test]
    fn keys_past_the_bound_are_forgotten_once_their_buckets_are_full() {
        let (rate, clock) = rate(60, 1);
        for key in ["a", "b", "c"] {
            assert_eq!(rate.take(key), Ok(()));
        }
        let rate = TestRate {
            max_keys: 3,
            ..rate
        };
        clock.set_millis(2_000);
        assert_eq!(rate.take("d"), Ok(()));
        assert_eq!(rate.limiter.len(), 1, "a, b and c had refilled");
    }
}
