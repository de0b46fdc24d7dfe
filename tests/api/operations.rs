//! Operations endpoints (contract §6): `/healthz`, `/readyz`, `/metrics`, outside `/api/v2`,
//! answered without vendor headers or credentials.

use reqwest::Method;

use crate::helpers::{error_json, ok_json, pg_store, spawn_app, TestApp};

/// A bare GET: no User-Agent, no Accept, no credentials.
async fn bare_get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn healthz_and_readyz_answer_without_credentials() {
    let app = spawn_app().await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let res = bare_get(&app, path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], status, "{path}");
    }
    // Only GET is public: another method needs a key, and then gets its 405.
    let post = || reqwest::Client::new().post(format!("{}/healthz", app.address));
    assert_eq!(post().send().await.unwrap().status(), 401);
    let res = post()
        .basic_auth(format!("{}@api", app.key.id), Some(&app.key.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
}

/// A store that cannot answer (here its `meta` table is gone) makes `/readyz` 503, without the
/// cause, which stays in the log; `/healthz` still says the process is up.
#[tokio::test]
async fn readyz_is_503_when_the_store_fails() {
    let app = spawn_app().await;
    if let Some(client) = pg_store(app.dir.path()).await {
        client
            .batch_execute("DROP TABLE meta CASCADE")
            .await
            .unwrap();
    } else {
        let conn = rusqlite::Connection::open(app.dir.path().join("jackal.db")).unwrap();
        conn.execute_batch("DROP TABLE meta").unwrap();
    }
    let res = bare_get(&app, "/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("see the server log"), "{message}");
    assert!(!message.contains("meta"), "{message}");
    assert_eq!(bare_get(&app, "/healthz").await.status(), 200);
}

/// The value of the one sample line that starts with `name{` and has every label in `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = text.lines().filter(|line| {
        line.starts_with(&format!("{name}{{")) && labels.iter().all(|l| line.contains(l))
    });
    let line = found.next()?;
    assert!(found.next().is_none(), "more than one {name} {labels:?}");
    line.rsplit_once(' ').map(|(_, v)| v.parse().unwrap())
}

#[tokio::test]
async fn metrics_count_requests_by_route_tests_by_outcome_and_time_the_store() {
    let app = spawn_app().await;
    let created = app
        .create(&[
            ("name", "metered"),
            ("configUri", "postgresql://u:Metrics-Secret-Pw@h/db"),
        ])
        .await;
    let id = created["id"].as_str().unwrap();
    for _ in 0..3 {
        ok_json(app.get(&format!("/data-source/{id}")).await).await;
    }
    error_json(
        app.get("/data-source/no-such-id").await,
        404,
        "data_source_not_found",
    )
    .await;
    error_json(app.get("/scanner/probe/xyz").await, 404, "route_not_found").await;
    let test = ok_json(
        app.form(Method::POST, "/connection-test", "configUri=nonsense")
            .await,
    )
    .await;
    assert_eq!(test["errorCode"], "invalid_uri");

    let res = bare_get(&app, "/metrics").await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();

    let count = "jackal_http_request_duration_seconds_count";
    let route = r#"route="/api/v2/data-source/{data_source}""#;
    let get = r#"method="GET""#;
    assert_eq!(
        sample(&text, count, &[route, get, r#"status="200""#]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, count, &[route, get, r#"status="404""#]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            count,
            &[r#"route="/api/v2/data-source""#, r#"method="POST""#]
        ),
        Some(1.0)
    );
    // Unknown paths share one series, and never appear themselves.
    assert_eq!(sample(&text, count, &[r#"route="unmatched""#]), Some(1.0));
    assert!(!text.contains("scanner") && !text.contains("no-such-id"));
    assert_eq!(
        sample(
            &text,
            "jackal_connection_tests_total",
            &[r#"outcome="invalid_uri""#]
        ),
        Some(1.0)
    );
    let store = "jackal_store_operation_duration_seconds_count";
    assert!(sample(&text, store, &[r#"operation="read""#]).unwrap() >= 4.0);
    assert!(sample(&text, store, &[r#"operation="write""#]).unwrap() >= 2.0);
    assert!(!text.contains("Metrics-Secret-Pw"));
}
