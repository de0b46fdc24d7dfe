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
//! - With `[server] allowed_hosts`, only requests naming one of those hosts are answered
//!   ([`allowed_hosts`]); with `[metrics] require_key`, `/metrics` is not public (the gate).
//!
//! The client address is the TCP peer. `X-Forwarded-For` is not trusted: behind a proxy every
//! client shares the proxy's address, which then counts for all of them.

pub mod allowed_hosts;
mod auth_failures;
pub mod plain_http;
mod test_rate;

pub use plain_http::is_loopback;

use std::future::{ready, Future, Ready};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use self::auth_failures::{client_key, AfterFailure, AuthFailures};
use self::test_rate::TestRate;
use super::error::{ApiError, ErrorCode};
use crate::app::api_keys::Caller;
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::host::AllowedHost;

/// Client addresses whose failures are remembered at once; past it the stalest are forgotten.
pub const MAX_TRACKED_CLIENTS: usize = 10_000;

/// Shared by every worker (registered as `web::Data<Limits>`).
#[derive(Debug)]
pub struct Limits {
    clock: Arc<dyn Clock>,
    auth: AuthFailures,
    tests: TestRate,
    /// `require_tls` is on and this server speaks plain HTTP.
    plain_http_only_from_loopback: bool,
    /// This server speaks HTTPS.
    tls: bool,
    window_secs: u64,
    tests_per_minute: u32,
    tests_burst: u32,
    body_timeout: Duration,
    /// `[server] allowed_hosts`: empty admits every host.
    allowed_hosts: Vec<AllowedHost>,
    /// `[metrics] require_key`.
    metrics_need_key: bool,
}

impl Limits {
    pub fn new(settings: &Settings, tls: bool, clock: Arc<dyn Clock>) -> Self {
        let limits = &settings.limits;
        let window_ms = (limits.auth_failure_window * 1000.0).ceil() as i64;
        Self {
            clock: clock.clone(),
            auth: AuthFailures::new(
                limits.auth_failures_before_delay,
                limits.auth_failures_before_block,
                window_ms,
                MAX_TRACKED_CLIENTS,
            ),
            tests: TestRate::new(
                limits.tests_per_minute,
                limits.tests_burst,
                MAX_TRACKED_CLIENTS,
                clock.clone(),
            ),
            plain_http_only_from_loopback: settings.server.require_tls && !tls,
            tls,
            window_secs: seconds_ceil(window_ms),
            tests_per_minute: limits.tests_per_minute,
            tests_burst: limits.tests_burst,
            body_timeout: Duration::from_secs_f64(settings.server.body_timeout),
            allowed_hosts: settings.server.allowed_hosts.clone(),
            metrics_need_key: settings.metrics.require_key,
        }
    }

    /// Whether `/metrics` needs an API key (`[metrics] require_key`).
    pub fn metrics_need_key(&self) -> bool {
        self.metrics_need_key
    }

    /// Whether this server speaks HTTPS (actix's own `AppConfig::secure` is not set by the
    /// server Jackal assembles; see `crate::startup`).
    pub fn serves_tls(&self) -> bool {
        self.tls
    }

    /// How long a request body may take to arrive (`[server] body_timeout`).
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// Takes one connection test from `key_id`'s bucket, or refuses with 429 when it is empty.
    pub fn take_test(&self, key_id: &str) -> Result<(), TooManyRequests> {
        let Err(retry_after) = self.tests.take(key_id) else {
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
    let presented = req.headers().contains_key(header::AUTHORIZATION);
    limits
        .counted(req.peer_addr().map(|a| a.ip()), presented, attempt)
        .await
        .map_err(|refused| match refused {
            Refused::Failed(error) => render(&error),
            Refused::Blocked(blocked) => blocked.render_with(render),
        })
}

/// Why an authentication counted by [`Limits::counted`] did not pass.
#[derive(Debug)]
pub enum Refused {
    /// It failed (a 401 when credentials were presented), after any delay.
    Failed(ApiError),
    /// The client address is blocked: a 429.
    Blocked(TooManyRequests),
}

impl Limits {
    /// Runs `attempt` (an authentication by the client at `peer`) unless that client is
    /// blocked, and counts its failure when it `presented` credentials: the rule of
    /// [`limit_auth_failures`], for the API and the status page's sign-in alike.
    pub async fn counted(
        &self,
        peer: Option<IpAddr>,
        presented: bool,
        attempt: impl Future<Output = Result<Caller, ApiError>>,
    ) -> Result<Caller, Refused> {
        let client = client_key(peer);
        if let Some(retry_after) = self.auth.blocked(client, self.clock.now_millis()) {
            return Err(Refused::Blocked(self.blocked(retry_after)));
        }
        let error = match attempt.await {
            Ok(caller) => return Ok(caller),
            Err(e) => e,
        };
        if error.status != StatusCode::UNAUTHORIZED || !presented {
            return Err(Refused::Failed(error));
        }
        match self.auth.record_failure(client, self.clock.now_millis()) {
            AfterFailure::Answer { delay } => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Err(Refused::Failed(error))
            }
            AfterFailure::Block { retry_after } => {
                tracing::warn!(%client, retry_after, "client blocked after repeated authentication failures");
                Err(Refused::Blocked(self.blocked(retry_after)))
            }
        }
    }
}

pub(super) fn seconds_ceil(millis: i64) -> u64 {
    (millis.max(0) as u64).div_ceil(1000).max(1)
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain counters behind, which are still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
/// Middleware, before the gate: refuses what no credentials could make acceptable. First a
/// request naming a host not in `[server] allowed_hosts` (421, [`allowed_hosts`]), then plain
/// HTTP from another host under `[server] require_tls` ([`plain_http`]).
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let refusal = req.app_data::<web::Data<Limits>>().and_then(|limits| {
        allowed_hosts::refusal_for(req.request(), limits)
            .or_else(|| plain_http::refusal_for(&req, limits))
    });
    match refusal {
        Some(error) => Ok(req.into_response(error.error_response())),
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}
