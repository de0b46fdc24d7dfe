//! Failed authentications counted per client address, delayed then blocked (see the module
//! above for the policy).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use super::{lock, seconds_ceil};

/// The delay of the first failure past `auth_failures_before_delay`; each next one doubles it.
const FIRST_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(1);

/// The address failures are counted under: IPv4 as is, IPv6 by its /64.
pub fn client_key(peer: Option<IpAddr>) -> IpAddr {
    match peer.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V6(v6)) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

#[derive(Debug)]
pub struct AuthFailures {
    before_delay: u32,
    pub before_block: u32,
    window_ms: i64,
    capacity: usize,
    clients: Mutex<HashMap<IpAddr, FailureRecord>>,
}

/// Failures counted from the first one in a fixed window; a block lasts a window from its start.
#[derive(Debug, Clone, Copy)]
struct FailureRecord {
    window_start: i64,
    failures: u32,
    blocked_until: Option<i64>,
}

impl FailureRecord {
    fn fresh(now: i64) -> Self {
        Self {
            window_start: now,
            failures: 0,
            blocked_until: None,
        }
    }

    /// Still counting (or blocking); a record that is not live is as good as none.
    fn live(&self, now: i64, window_ms: i64) -> bool {
        match self.blocked_until {
            Some(until) => now < until,
            None => now < self.window_start.saturating_add(window_ms),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Answer the 401, after `delay`.
    Answer { delay: Duration },
    /// This failure crossed the limit: answer 429.
    Block { retry_after: u64 },
}

impl AuthFailures {
    pub fn new(before_delay: u32, before_block: u32, window_ms: i64, capacity: usize) -> Self {
        Self {
            before_delay,
            before_block,
            window_ms: window_ms.max(1),
            capacity: capacity.max(1),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `client` may try again, if it is blocked now.
    pub fn blocked(&self, client: IpAddr, now: i64) -> Option<u64> {
        let mut clients = lock(&self.clients);
        let record = *clients.get(&client)?;
        if !record.live(now, self.window_ms) {
            clients.remove(&client);
            return None;
        }
        record.blocked_until.map(|until| seconds_ceil(until - now))
    }

    pub fn record_failure(&self, client: IpAddr, now: i64) -> AfterFailure {
        let mut clients = lock(&self.clients);
        if !clients.contains_key(&client) && clients.len() >= self.capacity {
            self.evict(&mut clients, now);
        }
        let record = clients
            .entry(client)
            .or_insert_with(|| FailureRecord::fresh(now));
        if !record.live(now, self.window_ms) {
            *record = FailureRecord::fresh(now);
        }
        // Blocked by a concurrent request after this one passed the check.
        if let Some(until) = record.blocked_until {
            return AfterFailure::Block {
                retry_after: seconds_ceil(until - now),
            };
        }
        record.failures = record.failures.saturating_add(1);
        if record.failures > self.before_block {
            record.blocked_until = Some(now.saturating_add(self.window_ms));
            return AfterFailure::Block {
                retry_after: seconds_ceil(self.window_ms),
            };
        }
        let over = record.failures.saturating_sub(self.before_delay);
        let delay = if over == 0 {
            Duration::ZERO
        } else {
            FIRST_DELAY
                .saturating_mul(1u32 << (over - 1).min(16))
                .min(MAX_DELAY)
        };
        AfterFailure::Answer { delay }
    }

    /// Makes room: drops every record that has run out, then, if still full, the stalest record
    /// that is not blocking (or the stalest of all).
    fn evict(&self, clients: &mut HashMap<IpAddr, FailureRecord>, now: i64) {
        clients.retain(|_, record| record.live(now, self.window_ms));
        while clients.len() >= self.capacity {
            let stalest = clients
                .iter()
                .min_by_key(|(_, r)| (r.blocked_until.is_some(), r.window_start))
                .map(|(client, _)| *client);
            match stalest {
                Some(client) => clients.remove(&client),
                None => break,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure answered without delay.
    const AT_ONCE: AfterFailure = AfterFailure::Answer {
        delay: Duration::ZERO,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        assert_eq!(
            client_key(Some(ip("2001:db8:1:2:aaaa::1"))),
            client_key(Some(ip("2001:db8:1:2:bbbb::9")))
        );
        assert_ne!(
            client_key(Some(ip("2001:db8:1:2::1"))),
            client_key(Some(ip("2001:db8:1:3::1")))
        );
        assert_eq!(client_key(Some(ip("::ffff:10.1.2.3"))), ip("10.1.2.3"));
    }

    #[test]
    fn failures_are_answered_then_delayed_then_blocked_for_a_window() {
        let limiter = AuthFailures::new(2, 5, 60_000, 100);
        let client = ip("203.0.113.9");
        let delays: Vec<_> = (0..5)
            .map(|_| match limiter.record_failure(client, 1_000) {
                AfterFailure::Answer { delay } => delay.as_millis(),
                blocked => panic!("{blocked:?}"),
            })
            .collect();
        assert_eq!(delays, [0, 0, 50, 100, 200]);
        assert_eq!(limiter.blocked(client, 1_000), None);
        assert_eq!(
            limiter.record_failure(client, 2_000),
            AfterFailure::Block { retry_after: 60 }
        );
        assert_eq!(limiter.blocked(client, 2_500), Some(60));
        assert_eq!(limiter.blocked(client, 61_001), Some(1));
        assert_eq!(limiter.blocked(ip("203.0.113.10"), 2_500), None);
        assert_eq!(limiter.blocked(client, 62_000), None);
        assert_eq!(limiter.record_failure(client, 62_000), AT_ONCE);
    }

    #[test]
    fn delays_are_capped() {
        let limiter = AuthFailures::new(0, 1_000, 60_000, 100);
        let client = ip("203.0.113.9");
        let last = (0..40)
            .map(|_| limiter.record_failure(client, 0))
            .last()
            .unwrap();
        assert_eq!(last, AfterFailure::Answer { delay: MAX_DELAY });
    }

    #[test]
    fn a_window_without_a_block_runs_out() {
        let limiter = AuthFailures::new(1, 3, 10_000, 100);
        let client = ip("198.51.100.1");
        for _ in 0..3 {
            limiter.record_failure(client, 0);
        }
        // The window that began with the first failure has passed: counting starts over.
        assert_eq!(limiter.record_failure(client, 10_000), AT_ONCE);
    }

    #[test]
    fn memory_stays_bounded_and_blocked_clients_are_kept_longest() {
        let limiter = AuthFailures::new(0, 1, 60_000, 3);
        let blocked = ip("198.51.100.1");
        limiter.record_failure(blocked, 0);
        limiter.record_failure(blocked, 0);
        assert!(limiter.blocked(blocked, 1).is_some());
        for i in 0..50 {
            limiter.record_failure(ip(&format!("10.0.0.{i}")), i);
        }
        assert!(lock(&limiter.clients).len() <= 3);
        assert!(limiter.blocked(blocked, 100).is_some());
        // Records that ran out are dropped first.
        limiter.record_failure(ip("10.9.9.9"), 200_000);
        assert_eq!(lock(&limiter.clients).len(), 1);
    }
}
