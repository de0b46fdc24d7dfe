//! Starts the real application on port 0 with a fresh store in a temporary directory.

use std::sync::Arc;

use actix_web::dev::ServerHandle;
use jackal::auth::KeyCredentials;
use jackal::clock::{Clock, ManualClock, SystemClock};
use jackal::config::Settings;
use jackal::startup::Application;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tempfile::TempDir;

pub const USER_AGENT: &str = "jackal-tests/1.0";
pub const VENDOR_ACCEPT: &str = "application/vnd.jackdb.v2+json";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub key: KeyCredentials,
    pub dir: TempDir,
    handle: ServerHandle,
}

pub fn test_key() -> KeyCredentials {
    KeyCredentials {
        id: uuid::Uuid::new_v4().to_string(),
        secret: "test-secret-0123456789abcdef".to_owned(),
    }
}

pub fn settings_in(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.workers = 1;
    settings.store.path = dir.join("jackal.db");
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), test_key()).await
}

/// Starts a server on the store in `dir` (new or left by an earlier server).
pub async fn spawn_app_in(dir: TempDir, key: KeyCredentials) -> TestApp {
    spawn_app_with(dir, key, |_| {}).await
}

/// Starts a server with settings adjusted by `configure`.
pub async fn spawn_app_with(
    dir: TempDir,
    key: KeyCredentials,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = settings_in(dir.path());
    configure(&mut settings);
    start(dir, key, &settings, Arc::new(SystemClock)).await
}

/// Starts a server whose "now" is `clock` (a `ManualClock` the test moves).
pub async fn spawn_app_with_clock(clock: ManualClock) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_in(dir.path());
    start(dir, test_key(), &settings, Arc::new(clock)).await
}

async fn start(
    dir: TempDir,
    key: KeyCredentials,
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> TestApp {
    let app = Application::build_with_clock(settings, Some(&key), clock)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        key,
        dir,
        handle,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v2{path}", self.address)
    }

    /// A request with the headers curl sends in the vendor examples.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("User-Agent", USER_AGENT)
            .header("Accept", VENDOR_ACCEPT)
            .basic_auth(format!("{}@api", self.key.id), Some(&self.key.secret))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    /// A raw form body, exactly as `curl -d` sends it.
    pub async fn form(&self, method: Method, path: &str, body: &str) -> Response {
        self.request(method, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub async fn json(&self, method: Method, path: &str, body: &Value) -> Response {
        self.request(method, path).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path).send().await.unwrap()
    }

    /// Creates a data source from form pairs (each value form-encoded) and returns its JSON.
    pub async fn create(&self, pairs: &[(&str, &str)]) -> Value {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        let res = self.form(Method::POST, "/data-source", &body).await;
        ok_json(res).await
    }

    /// Stops the server and hands back its directory, for a restart on the same store.
    pub async fn stop(self) -> (TempDir, KeyCredentials) {
        self.handle.stop(true).await;
        (self.dir, self.key)
    }
}

/// Asserts a 200 with the contract's content type and returns the body.
pub async fn ok_json(res: Response) -> Value {
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "body: {body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    serde_json::from_str(&body).unwrap()
}

/// Asserts an error status with the contract's `{"error": {"message", "code"}}` body; returns it.
pub async fn error_json(res: Response, status: u16, code: &str) -> Value {
    let actual = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    assert_eq!(actual, status, "body: {body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/json; charset=utf-8"),
        "body: {body}"
    );
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["error"]["code"], code, "body: {body}");
    let message = value["error"]["message"].as_str().unwrap();
    assert!(
        message.len() > 10,
        "a message that says what to fix: {body}"
    );
    value
}
