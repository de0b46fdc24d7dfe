//! `GET /data-source/:ds/test-history` and the per-data-source series of `/metrics`, over real
//! HTTP: tests by hand and fleet runs recorded, newest first, bounded; series set, relabelled
//! and removed with the data source.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::connection_test::{live, test_stored};
use crate::helpers::{error_json, ok_json, spawn_app_with, test_key, wait_until, TestApp};

async fn app(history: usize) -> TestApp {
    spawn_app_with(tempfile::tempdir().unwrap(), test_key(), move |s| {
        s.limits.tests_burst = 100;
        s.test.history = history;
    })
    .await
}

async fn history(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let answer = ok_json(
        app.get(&format!("/data-source/{key}/test-history{query}"))
            .await,
    )
    .await;
    answer.as_array().unwrap().clone()
}

/// A data source at a closed port (its tests fail fast with `refused`).
async fn down(app: &TestApp, alias: &str) -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let created = app
        .create(&[
            ("name", alias),
            ("alias", alias),
            ("configUri", &format!("postgresql://u@127.0.0.1:{port}/db")),
        ])
        .await;
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_test_is_kept_newest_first_and_bounded() {
    let app = app(3).await;
    down(&app, "down").await;
    assert!(history(&app, "down", "").await.is_empty());
    for _ in 0..2 {
        test_stored(&app, "down").await;
    }
    ok_json(app.request(Method::POST, "/test-run").send().await.unwrap()).await;
    let kept = history(&app, "down", "").await;
    assert_eq!(kept.len(), 3, "{kept:?}");
    for entry in &kept {
        assert_eq!(entry["success"], false);
        assert_eq!(entry["errorCode"], "refused");
        assert!(entry["durationMs"].as_f64().unwrap() >= 0.0);
    }
    let times: Vec<&str> = kept
        .iter()
        .map(|e| e["testedAt"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    // Two more: still three, the oldest gone.
    for _ in 0..2 {
        test_stored(&app, "down").await;
    }
    let kept_now = history(&app, "down", "").await;
    assert_eq!(kept_now.len(), 3);
    assert!(
        kept_now
            .iter()
            .all(|e| e["testedAt"].as_str().unwrap() >= times[0]),
        "{kept_now:?}"
    );
    // limit and since.
    assert_eq!(history(&app, "down", "?limit=1").await.len(), 1);
    assert!(history(&app, "down", "?since=2999-01-01T00:00:00Z")
        .await
        .is_empty());
    assert_eq!(
        history(&app, "down", "?since=2000-01-01T00:00:00Z")
            .await
            .len(),
        3
    );
    // Bad queries, unknown data sources.
    error_json(
        app.get("/data-source/down/test-history?limit=0").await,
        400,
        "invalid_argument",
    )
    .await;
    error_json(
        app.get("/data-source/down/test-history?since=yesterday")
            .await,
        400,
        "invalid_argument",
    )
    .await;
    error_json(
        app.get("/data-source/down/test-history?page=2").await,
        400,
        "unknown_argument",
    )
    .await;
    error_json(
        app.get("/data-source/nope/test-history").await,
        404,
        "data_source_not_found",
    )
    .await;
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn metrics_carry_each_data_sources_last_test_and_drop_it_with_the_data_source() {
    live::require(&[&live::PG_MAIN]);
    let app = app(100).await;
    let down_id = down(&app, "down").await;
    let up = app
        .create(&[
            ("name", "up"),
            ("alias", "up"),
            (
                "configUri",
                &format!("{}?ssl=false", live::pg_admin_url("postgres")),
            ),
        ])
        .await;
    let up_id = up["id"].as_str().unwrap().to_owned();
    ok_json(app.request(Method::POST, "/test-run").send().await.unwrap()).await;
    let text = app.metrics().await;
    // By id and type: no alias unless [metrics] alias_labels.
    let series =
        |name: &str, id: &str, _alias: &str| format!("{name}{{id=\"{id}\",type=\"postgresql\"}}");
    assert!(
        text.contains(&format!(
            "{} 0",
            series("jackal_data_source_up", &down_id, "down")
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{} 1",
            series("jackal_data_source_up", &up_id, "up")
        )),
        "{text}"
    );
    assert!(text.contains(&series(
        "jackal_data_source_last_success_timestamp_seconds",
        &up_id,
        "up"
    )));
    assert!(!text.contains(&series(
        "jackal_data_source_last_success_timestamp_seconds",
        &down_id,
        "down"
    )));
    assert!(text.contains(&series(
        "jackal_data_source_last_test_duration_seconds",
        &down_id,
        "down"
    )));

    // A new alias changes no label: the series stay; deleted: all go.
    ok_json(
        app.form(Method::PATCH, "/data-source/up", "alias=up2")
            .await,
    )
    .await;
    let text = app.metrics().await;
    assert!(text.contains(&format!("id=\"{up_id}\"")), "{text}");
    assert!(!text.contains("alias="), "{text}");
    ok_json(
        app.request(Method::DELETE, "/data-source/down")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let text = app.metrics().await;
    assert!(!text.contains(&format!("id=\"{down_id}\"")), "{text}");
    test_stored(&app, "up2").await;
    assert!(app.metrics().await.contains(&format!(
        "{} 1",
        series("jackal_data_source_up", &up_id, "up2")
    )));
}

/// A result is kept only for the destination it was a test of: a configUri changed while the
/// test ran leaves no history (and no "tested" mark that a fleet run would take as known).
#[tokio::test]
async fn a_test_of_a_destination_changed_meanwhile_is_not_kept() {
    let app = app(100).await;
    let (silent, accepted) = live::silent_listener().await;
    app.create(&[
        ("name", "moving"),
        ("alias", "moving"),
        (
            "configUri",
            &format!("postgresql://u@127.0.0.1:{silent}/db?connectTimeout=2"),
        ),
    ])
    .await;
    let testing = {
        let request = app.request(Method::POST, "/data-source/moving/test");
        tokio::spawn(async move { request.send().await.unwrap() })
    };
    // The test has dialled the old destination (and hangs there) before the change.
    wait_until(
        Duration::from_secs(5),
        "the test dials the silent host",
        || async { accepted.load(Ordering::SeqCst) > 0 },
    )
    .await;
    ok_json(
        app.form(
            Method::PATCH,
            "/data-source/moving",
            "configUri=postgresql%3A%2F%2Fu%40127.0.0.1%3A1%2Fother",
        )
        .await,
    )
    .await;
    let tested = ok_json(testing.await.unwrap()).await;
    assert_eq!(tested["errorCode"], "timeout", "{tested}");
    assert!(history(&app, "moving", "").await.is_empty());
    // Tested again, at its new destination: kept.
    test_stored(&app, "moving").await;
    assert_eq!(history(&app, "moving", "").await.len(), 1);
}
