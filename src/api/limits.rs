//! Abuse limits, and who may speak plain HTTP.
//!
//! - Failed authentications are counted per client address (an IPv6 client by its /64, which
//!   one host can hold entirely). Past `[limits] auth_failures_before_delay` within the window
//!   each 401 is answered after a growing delay; past `auth_failures_before_block` the address
//!   gets 429 for a whole window, even with a correct key, so a secret cannot be guessed by
//!   trying fast or by watching for the one attempt that works. A success does not reset the
//!   count, so guesses cannot be interleaved with a known key to stay under it.
//! - Connection tests are limited per API key by a token bucket (`tests_per_minute`,
//!   `tests_burst`), checked before anything is resolved or dialled.
//! - With `[server] require_tls` and no TLS, plain HTTP is answered only to loopback peers.
//!
//! The client address is the TCP peer. `X-Forwarded-For` is not trusted: behind a proxy every
//! client shares the proxy's address, which then counts for all of them.

use std::collections::HashMap;
use std::future::{ready, Future, Ready};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use super::error::{ApiError, ErrorCode};
use crate::auth::Caller;
use crate::clock::Clock;
use crate::config::Settings;

/// Client addresses whose failures are remembered at once; past it the stalest are forgotten.
pub const MAX_TRACKED_CLIENTS: usize = 10_000;
/// The delay of the first failure past `auth_failures_before_delay`; each next one doubles it.
const FIRST_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(1);

/// Shared by every worker (registered as `web::Data<Limits>`).
#[derive(Debug)]
pub struct Limits {
    clock: Arc<dyn Clock>,
    auth: AuthFailures,
    tests: TestRate,
    /// `require_tls` is on and this server speaks plain HTTP.
    plain_http_only_from_loopback: bool,
    window_secs: u64,
    tests_per_minute: u32,
    tests_burst: u32,
    body_timeout: Duration,
}

impl Limits {
    pub fn new(settings: &Settings, tls: bool, clock: Arc<dyn Clock>) -> Self {
        let limits = &settings.limits;
        let window_ms = (limits.auth_failure_window * 1000.0).ceil() as i64;
        Self {
            clock,
            auth: AuthFailures::new(
                limits.auth_failures_before_delay,
                limits.auth_failures_before_block,
                window_ms,
                MAX_TRACKED_CLIENTS,
            ),
            tests: TestRate::new(limits.tests_per_minute, limits.tests_burst),
            plain_http_only_from_loopback: settings.server.require_tls && !tls,
            window_secs: seconds_ceil(window_ms),
            tests_per_minute: limits.tests_per_minute,
            tests_burst: limits.tests_burst,
            body_timeout: Duration::from_secs_f64(settings.server.body_timeout),
        }
    }

    /// How long a request body may take to arrive (`[server] body_timeout`).
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// Takes one connection test from `key_id`'s bucket, or refuses with 429 when it is empty.
    pub fn take_test(&self, key_id: &str) -> Result<(), TooManyRequests> {
        let Err(retry_after) = self.tests.take(key_id, self.clock.now_millis()) else {
            return Ok(());
        };
        tracing::info!(key_id, retry_after, "connection test rate-limited");
        Err(TooManyRequests::new(
            ErrorCode::RateLimited,
            format!(
                "this API key has run its connection tests for now ([limits] tests_per_minute = {}, \
                 tests_burst = {}): retry in {retry_after} s, or raise those settings",
                self.tests_per_minute, self.tests_burst
            ),
            retry_after,
        ))
    }

    fn blocked(&self, retry_after: u64) -> TooManyRequests {
        TooManyRequests::new(
            ErrorCode::TooManyAuthFailures,
            format!(
                "too many failed authentications from this address (more than {} within {} s, \
                 [limits] auth_failures_before_block): every request from it is refused for \
                 {retry_after} s more; then check the key id and secret before retrying",
                self.auth.before_block, self.window_secs
            ),
            retry_after,
        )
    }
}

/// One connection test granted to the calling API key. As a handler argument it spends one test
/// from the key's bucket before the handler runs, so a refused test resolves and dials nothing.
#[derive(Debug)]
pub struct TestAllowance;

impl FromRequest for TestAllowance {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (Some(limits), Some(caller)) = (
            req.app_data::<web::Data<Limits>>(),
            req.extensions().get::<Caller>().cloned(),
        ) else {
            return ready(Err(ApiError::internal(
                "connection test reached without limits or an authenticated caller",
            )
            .into()));
        };
        ready(
            limits
                .take_test(&caller.key_id)
                .map(|()| TestAllowance)
                .map_err(Into::into),
        )
    }
}

/// A 429 with `Retry-After` and the contract's error body.
#[derive(Debug)]
pub struct TooManyRequests {
    error: ApiError,
    retry_after: u64,
}

impl TooManyRequests {
    fn new(code: ErrorCode, message: String, retry_after: u64) -> Self {
        Self {
            error: ApiError::new(code, message),
            retry_after,
        }
    }
}

impl std::fmt::Display for TooManyRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl TooManyRequests {
    /// The error the 429 carries and the seconds to wait.
    pub fn parts(&self) -> (&ApiError, u64) {
        (&self.error, self.retry_after)
    }

    /// The 429 with the body `render` gives the error (a dialect's error shape), and
    /// `Retry-After`.
    pub fn render_with(&self, render: impl Fn(&ApiError) -> HttpResponse) -> HttpResponse {
        let mut response = render(&self.error);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        response
    }
}

impl ResponseError for TooManyRequests {
    fn status_code(&self) -> StatusCode {
        StatusCode::TOO_MANY_REQUESTS
    }

    fn error_response(&self) -> HttpResponse {
        self.render_with(ApiError::error_response)
    }
}

/// Runs `attempt` (the authentication) unless the client is blocked, and counts its failure.
/// A failure is a 401 to a request that presented credentials: a request without any guesses
/// nothing. While blocked, every request is refused before its credentials are even checked.
pub async fn limit_auth_failures(
    req: &ServiceRequest,
    attempt: impl Future<Output = Result<Caller, ApiError>>,
) -> Result<Caller, HttpResponse> {
    limit_auth_failures_as(req, attempt, ApiError::error_response).await
}

/// `limit_auth_failures` with errors rendered by `render` (a dialect's error shape).
pub async fn limit_auth_failures_as(
    req: &ServiceRequest,
    attempt: impl Future<Output = Result<Caller, ApiError>>,
    render: impl Fn(&ApiError) -> HttpResponse,
) -> Result<Caller, HttpResponse> {
    let Some(limits) = req.app_data::<web::Data<Limits>>() else {
        return attempt.await.map_err(|e| render(&e));
    };
    let client = client_key(req.peer_addr().map(|a| a.ip()));
    if let Some(retry_after) = limits.auth.blocked(client, limits.clock.now_millis()) {
        return Err(limits.blocked(retry_after).render_with(render));
    }
    let error = match attempt.await {
        Ok(caller) => return Ok(caller),
        Err(e) => e,
    };
    if error.status != StatusCode::UNAUTHORIZED
        || !req.headers().contains_key(header::AUTHORIZATION)
    {
        return Err(render(&error));
    }
    match limits
        .auth
        .record_failure(client, limits.clock.now_millis())
    {
        AfterFailure::Answer { delay } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Err(render(&error))
        }
        AfterFailure::Block { retry_after } => {
            tracing::warn!(%client, retry_after, "client blocked after repeated authentication failures");
            Err(limits.blocked(retry_after).render_with(render))
        }
    }
}

/// Middleware: with `require_tls` on and no TLS, refuses plain HTTP from non-loopback peers.
pub async fn require_tls(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let only_loopback = req
        .app_data::<web::Data<Limits>>()
        .is_some_and(|l| l.plain_http_only_from_loopback);
    if refuses_plain_http(only_loopback, req.peer_addr().map(|a| a.ip())) {
        let error = ApiError::new(
            ErrorCode::TlsRequired,
            "this server accepts plain HTTP only from its own host ([server] require_tls = true): \
             use https:// through a TLS endpoint on this host, or set [server] tls_cert and \
             tls_key so Jackal serves HTTPS itself",
        );
        return Ok(req.into_response(error.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Whether a plain-HTTP request from `peer` is refused. An unknown peer is refused: only a
/// known loopback address proves the request never crossed a network.
pub fn refuses_plain_http(plain_http_only_from_loopback: bool, peer: Option<IpAddr>) -> bool {
    plain_http_only_from_loopback && !peer.is_some_and(is_loopback)
}

/// 127.0.0.0/8, ::1, and IPv4 loopback written as IPv6 (`::ffff:127.x.y.z`).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The address failures are counted under: IPv4 as is, IPv6 by its /64.
fn client_key(peer: Option<IpAddr>) -> IpAddr {
    match peer.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V6(v6)) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn seconds_ceil(millis: i64) -> u64 {
    (millis.max(0) as u64).div_ceil(1000).max(1)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain counters behind, which are still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug)]
struct AuthFailures {
    before_delay: u32,
    before_block: u32,
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
enum AfterFailure {
    /// Answer the 401, after `delay`.
    Answer { delay: Duration },
    /// This failure crossed the limit: answer 429.
    Block { retry_after: u64 },
}

impl AuthFailures {
    fn new(before_delay: u32, before_block: u32, window_ms: i64, capacity: usize) -> Self {
        Self {
            before_delay,
            before_block,
            window_ms: window_ms.max(1),
            capacity: capacity.max(1),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `client` may try again, if it is blocked now.
    fn blocked(&self, client: IpAddr, now: i64) -> Option<u64> {
        let mut clients = lock(&self.clients);
        let record = *clients.get(&client)?;
        if !record.live(now, self.window_ms) {
            clients.remove(&client);
            return None;
        }
        record.blocked_until.map(|until| seconds_ceil(until - now))
    }

    fn record_failure(&self, client: IpAddr, now: i64) -> AfterFailure {
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

/// A token bucket per API key: `burst` tokens, refilled at `per_minute`. Tokens are counted in
/// sixty-thousandths, so a millisecond refills a whole number of them and no rounding drifts.
#[derive(Debug)]
struct TestRate {
    per_minute: i64,
    burst: i64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

const TOKEN: i64 = 60_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: i64,
    at: i64,
}

impl TestRate {
    fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_minute: i64::from(per_minute.max(1)),
            burst: i64::from(burst.max(1)) * TOKEN,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, bucket: Bucket, now: i64) -> Bucket {
        let elapsed = now.saturating_sub(bucket.at).max(0);
        Bucket {
            tokens: bucket
                .tokens
                .saturating_add(elapsed.saturating_mul(self.per_minute))
                .min(self.burst),
            at: bucket.at.max(now),
        }
    }

    /// Takes one test for `key_id`, or says in how many seconds one will be there.
    fn take(&self, key_id: &str, now: i64) -> Result<(), u64> {
        let mut buckets = lock(&self.buckets);
        // Only authenticated keys get here, so the map is bounded by the store's keys; a full
        // bucket is the same as none, so those are dropped from time to time all the same.
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(key_id) {
            buckets.retain(|_, b| self.refilled(*b, now).tokens < self.burst);
        }
        let bucket = buckets.entry(key_id.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        *bucket = self.refilled(*bucket, now);
        if bucket.tokens >= TOKEN {
            bucket.tokens -= TOKEN;
            return Ok(());
        }
        let wait_ms = (TOKEN - bucket.tokens + self.per_minute - 1) / self.per_minute;
        Err(seconds_ceil(wait_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn plain_http_is_refused_to_every_non_loopback_peer() {
        // The API tests can only send traffic over loopback, so the refusal itself is proven
        // here, on the decision, with the addresses a real remote client would have.
        for remote in [
            "10.0.0.7",
            "192.168.1.20",
            "203.0.113.9",
            "0.0.0.0",
            "2001:db8::1",
            "fe80::1",
            "::ffff:10.0.0.7",
            "::",
        ] {
            assert!(refuses_plain_http(true, Some(ip(remote))), "{remote}");
            assert!(!refuses_plain_http(false, Some(ip(remote))), "{remote}");
        }
        assert!(refuses_plain_http(true, None), "an unknown peer");
        for local in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(!refuses_plain_http(true, Some(ip(local))), "{local}");
        }
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
        assert_eq!(
            limiter.record_failure(client, 62_000),
            AfterFailure::Answer {
                delay: Duration::ZERO
            }
        );
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
        assert_eq!(
            limiter.record_failure(client, 10_000),
            AfterFailure::Answer {
                delay: Duration::ZERO
            }
        );
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

    #[test]
    fn test_buckets_allow_a_burst_then_the_rate() {
        let rate = TestRate::new(60, 3);
        for _ in 0..3 {
            assert_eq!(rate.take("key", 0), Ok(()));
        }
        assert_eq!(rate.take("key", 0), Err(1));
        assert_eq!(rate.take("other", 0), Ok(()), "each key has its own bucket");
        assert_eq!(rate.take("key", 999), Err(1));
        assert_eq!(rate.take("key", 1_000), Ok(()));
        assert_eq!(rate.take("key", 1_000), Err(1));
        // A long pause refills only up to the burst.
        for _ in 0..3 {
            assert_eq!(rate.take("key", 3_600_000), Ok(()));
        }
        assert_eq!(rate.take("key", 3_600_000), Err(1));
    }

    #[test]
    fn a_slow_rate_says_how_long_to_wait() {
        let rate = TestRate::new(1, 1);
        assert_eq!(rate.take("key", 0), Ok(()));
        assert_eq!(rate.take("key", 0), Err(60));
        assert_eq!(rate.take("key", 30_000), Err(30));
    }
}
