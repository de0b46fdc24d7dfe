//! Abuse limits: authentication failures per client address, connection tests per API key.
//!
//! Every request here comes from 127.0.0.1, so "another address is unaffected" cannot be shown
//! over the network; the unit tests in src/api/limits.rs show it on the limiter itself. Windows
//! and buckets run on the server's clock, a `ManualClock` the tests move, so no test sleeps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use jackal::app::api_keys::KeyCredentials;
use jackal::clock::ManualClock;
use jackal::config::Settings;
use jackal::startup::Application;
use reqwest::{Response, StatusCode};
use tempfile::TempDir;

use crate::helpers::{error_json, ok_json, settings_in, test_key, USER_AGENT, VENDOR_ACCEPT};

struct LimitedApp {
    address: String,
    key: KeyCredentials,
    clock: ManualClock,
    client: reqwest::Client,
    dir: TempDir,
    _handle: ServerHandle,
}

/// A server on port 0 with adjusted settings, whose clock only moves when the test says so.
async fn spawn(configure: impl FnOnce(&mut Settings)) -> LimitedApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_in(dir.path());
    configure(&mut settings);
    let clock = ManualClock::new(1_750_000_000_000);
    let key = test_key();
    let app = Application::build_with_clock(&settings, Some(&key), Arc::new(clock.clone()))
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    LimitedApp {
        address,
        key,
        clock,
        client: reqwest::Client::new(),
        dir,
        _handle: handle,
    }
}

impl LimitedApp {
    async fn whoami_as(&self, id: &str, secret: &str) -> Response {
        self.client
            .get(format!("{}/api/v2/whoami", self.address))
            .header("User-Agent", USER_AGENT)
            .header("Accept", VENDOR_ACCEPT)
            .basic_auth(format!("{id}@api"), Some(secret))
            .send()
            .await
            .unwrap()
    }

    async fn whoami(&self) -> Response {
        self.whoami_as(&self.key.id, &self.key.secret).await
    }

    async fn wrong_secret(&self) -> Response {
        self.whoami_as(&self.key.id, "not-the-secret-0123456789")
            .await
    }

    async fn connection_test(&self, key: &KeyCredentials, config_uri: &str) -> Response {
        self.client
            .post(format!("{}/api/v2/connection-test", self.address))
            .header("User-Agent", USER_AGENT)
            .basic_auth(format!("{}@api", key.id), Some(&key.secret))
            .form(&[("configUri", config_uri)])
            .send()
            .await
            .unwrap()
    }
}

/// The `Retry-After` seconds of a 429, after checking its contract body and code.
async fn too_many(res: Response, code: &str) -> (u64, String) {
    let retry_after = res
        .headers()
        .get("retry-after")
        .expect("a 429 says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = error_json(res, 429, code).await;
    (
        retry_after,
        body["error"]["message"].as_str().unwrap().to_owned(),
    )
}

/// Parses without dialling: a connection test that sends no packet.
const UNSUPPORTED_URI: &str = "oracle://db.example.com/orcl";

#[tokio::test]
async fn auth_failures_are_slowed_then_blocked_even_for_the_right_key_until_the_window_passes() {
    let app = spawn(|s| {
        s.limits.auth_failures_before_delay = 2;
        s.limits.auth_failures_before_block = 4;
        s.limits.auth_failure_window = 60.0;
    })
    .await;

    for _ in 0..2 {
        error_json(app.wrong_secret().await, 401, "unauthorized").await;
    }
    // A success in between does not reset the count.
    ok_json(app.whoami().await).await;
    // Failures 3 and 4: still 401, each after a growing delay (50 ms, then 100 ms).
    for at_least in [Duration::from_millis(50), Duration::from_millis(100)] {
        let started = Instant::now();
        let res = app.wrong_secret().await;
        let took = started.elapsed();
        error_json(res, 401, "unauthorized").await;
        assert!(took >= at_least, "a delayed failure took only {took:?}");
    }
    // Failure 5 crosses auth_failures_before_block: 429 for the whole window.
    let (retry_after, message) = too_many(app.wrong_secret().await, "too_many_auth_failures").await;
    assert_eq!(retry_after, 60);
    assert!(message.contains("auth_failures_before_block"), "{message}");

    // While blocked, the right key is refused too, so a correct guess is not recognisable.
    app.clock.advance(Duration::from_secs(30));
    let (retry_after, _) = too_many(app.whoami().await, "too_many_auth_failures").await;
    assert_eq!(retry_after, 30);
    // So is a request without credentials, and a blocked request does not extend the block.
    let res = app
        .client
        .get(format!("{}/api/v2/whoami", app.address))
        .header("User-Agent", USER_AGENT)
        .send()
        .await
        .unwrap();
    too_many(res, "too_many_auth_failures").await;

    app.clock.advance(Duration::from_secs(30));
    ok_json(app.whoami().await).await;
    // The count started over: the next failure is an immediate 401.
    error_json(app.wrong_secret().await, 401, "unauthorized").await;
}

#[tokio::test]
async fn requests_without_credentials_are_not_counted_as_failures() {
    let app = spawn(|s| {
        s.limits.auth_failures_before_delay = 0;
        s.limits.auth_failures_before_block = 1;
    })
    .await;
    for _ in 0..5 {
        let res = app
            .client
            .get(format!("{}/api/v2/whoami", app.address))
            .header("User-Agent", USER_AGENT)
            .send()
            .await
            .unwrap();
        error_json(res, 401, "unauthorized").await;
    }
    ok_json(app.whoami().await).await;
}

#[tokio::test]
async fn the_default_limits_leave_a_few_failures_unhindered() {
    let app = spawn(|_| {}).await;
    // The conventions tests make about eight failures in one test: all answered at once.
    let started = Instant::now();
    for _ in 0..10 {
        let res = app.wrong_secret().await;
        error_json(res, 401, "unauthorized").await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no delay below auth_failures_before_delay"
    );
    ok_json(app.whoami().await).await;
}

#[tokio::test]
async fn connection_tests_are_limited_per_key_and_refill_at_the_rate() {
    let app = spawn(|s| {
        s.limits.tests_burst = 3;
        s.limits.tests_per_minute = 2;
    })
    .await;
    let first = app.key.clone();
    for _ in 0..3 {
        let body = ok_json(app.connection_test(&first, UNSUPPORTED_URI).await).await;
        assert_eq!(body["errorCode"], "invalid_uri", "{body}");
    }
    let (retry_after, message) = too_many(
        app.connection_test(&first, UNSUPPORTED_URI).await,
        "rate_limited",
    )
    .await;
    assert_eq!(retry_after, 30, "2 per minute: a test every 30 s");
    assert!(message.contains("tests_per_minute"), "{message}");

    // The saved-data-source test spends from the same bucket, and is refused before the
    // data source is even looked up.
    let res = app
        .client
        .post(format!(
            "{}/api/v2/data-source/no-such-source/test",
            app.address
        ))
        .header("User-Agent", USER_AGENT)
        .basic_auth(format!("{}@api", first.id), Some(&first.secret))
        .send()
        .await
        .unwrap();
    too_many(res, "rate_limited").await;

    // Another API key has its own bucket.
    let store = jackal::store::Store::connect(&settings_in(app.dir.path()).store)
        .await
        .unwrap();
    let second = jackal::app::api_keys::create(&store, "second key")
        .await
        .unwrap();
    for _ in 0..3 {
        ok_json(app.connection_test(&second, UNSUPPORTED_URI).await).await;
    }
    too_many(
        app.connection_test(&second, UNSUPPORTED_URI).await,
        "rate_limited",
    )
    .await;

    // Half a minute later the first key has one test again, and only one.
    app.clock.advance(Duration::from_secs(30));
    ok_json(app.connection_test(&first, UNSUPPORTED_URI).await).await;
    let (retry_after, _) = too_many(
        app.connection_test(&first, UNSUPPORTED_URI).await,
        "rate_limited",
    )
    .await;
    assert_eq!(retry_after, 30);
}

#[tokio::test]
async fn a_refused_connection_test_dials_nothing() {
    let app = spawn(|s| {
        s.limits.tests_burst = 1;
        s.limits.tests_per_minute = 1;
    })
    .await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let uri = format!(
        "postgresql://u:pw@127.0.0.1:{}/db?ssl=false",
        listener.local_addr().unwrap().port()
    );
    ok_json(app.connection_test(&app.key, UNSUPPORTED_URI).await).await;
    let (retry_after, _) =
        too_many(app.connection_test(&app.key, &uri).await, "rate_limited").await;
    assert_eq!(retry_after, 60);
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the refused test connected: {other:?}"),
    }
}

#[tokio::test]
async fn the_default_burst_is_ten_tests_and_a_high_limit_lets_more_through() {
    let app = spawn(|_| {}).await;
    for _ in 0..10 {
        ok_json(app.connection_test(&app.key, UNSUPPORTED_URI).await).await;
    }
    let (retry_after, _) = too_many(
        app.connection_test(&app.key, UNSUPPORTED_URI).await,
        "rate_limited",
    )
    .await;
    assert_eq!(retry_after, 1, "60 per minute: one more each second");

    let generous = spawn(|s| {
        s.limits.tests_burst = 200;
        s.limits.tests_per_minute = 10_000;
    })
    .await;
    for _ in 0..100 {
        let res = generous
            .connection_test(&generous.key, UNSUPPORTED_URI)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}
