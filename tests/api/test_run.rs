//! `POST /test-run` over real HTTP: many saved data sources tested at once, streamed as NDJSON
//! or answered as one object; filters; the run's place in the key's test allowance; the audit.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;

use crate::connection_test::live;
use crate::helpers::{error_json, ok_json, spawn_app_with, test_key, TestApp};

/// A server whose keys hold `burst` tests, refilled at one a minute (none during a test).
async fn app_with_burst(burst: u32) -> TestApp {
    spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.limits.tests_burst = burst;
        s.limits.tests_per_minute = 1;
    })
    .await
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn run(app: &TestApp, query: &str) -> reqwest::Response {
    app.request(Method::POST, &format!("/test-run{query}"))
        .send()
        .await
        .unwrap()
}

/// The lines of a streamed run, each with when it arrived (from the request's start).
async fn streamed(app: &TestApp, query: &str) -> Vec<(Value, Duration)> {
    let started = Instant::now();
    let res = app
        .request(Method::POST, &format!("/test-run{query}"))
        .header("Accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let mut body = res.bytes_stream();
    let (mut lines, mut pending) = (Vec::new(), Vec::new());
    while let Some(chunk) = body.next().await {
        pending.extend_from_slice(&chunk.unwrap());
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            lines.push((serde_json::from_slice(&line).unwrap(), started.elapsed()));
        }
    }
    assert!(pending.is_empty(), "a line without its newline");
    lines
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn results_stream_as_they_finish_then_the_summary() {
    live::require(&[&live::PG_MAIN]);
    let app = app_with_burst(20).await;
    let (silent, _) = live::silent_listener().await;
    app.create(&[
        ("name", "slow"),
        ("alias", "slow"),
        (
            "configUri",
            &format!("postgresql://u@127.0.0.1:{silent}/db?connectTimeout=3"),
        ),
    ])
    .await;
    app.create(&[
        ("name", "main"),
        ("alias", "main"),
        (
            "configUri",
            &format!("{}?ssl=false", live::pg_admin_url("postgres")),
        ),
    ])
    .await;
    let lines = streamed(&app, "").await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    // The passing test arrives long before the silent host's deadline.
    let (first, at) = &lines[0];
    assert_eq!(first["dataSource"]["alias"], "main", "{first}");
    assert_eq!(first["result"]["success"], true, "{first}");
    assert!(
        *at < Duration::from_secs(2),
        "the first line came after {at:?}"
    );
    let (second, at) = &lines[1];
    assert_eq!(second["dataSource"]["alias"], "slow");
    assert_eq!(second["result"]["errorCode"], "timeout", "{second}");
    assert!(*at >= Duration::from_millis(2900), "{at:?}");
    let (summary, _) = &lines[2];
    let summary = &summary["summary"];
    assert_eq!(
        (
            &summary["total"],
            &summary["succeeded"],
            &summary["failed"],
            &summary["skipped"]
        ),
        (
            &Value::from(2),
            &Value::from(1),
            &Value::from(1),
            &Value::from(0)
        ),
        "{summary}"
    );
    assert!(summary["durationMs"].as_u64().unwrap() >= 2900, "{summary}");
}

#[tokio::test]
async fn filters_name_data_sources_or_a_role_and_the_answer_is_one_object_without_streaming() {
    let app = app_with_burst(50).await;
    let port = closed_port();
    let mut ids = Vec::new();
    for alias in ["a", "b", "c"] {
        let created = app
            .create(&[
                ("name", alias),
                ("alias", alias),
                (
                    "configUri",
                    &format!("postgresql://u@127.0.0.1:{port}/{alias}"),
                ),
            ])
            .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let aliases = |answer: &Value| -> Vec<String> {
        let mut got: Vec<String> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dataSource"]["alias"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        got
    };
    let all = ok_json(run(&app, "").await).await;
    assert_eq!(aliases(&all), ["a", "b", "c"]);
    assert_eq!(all["summary"]["failed"], 3, "{all}");
    assert_eq!(all["results"][0]["result"]["errorCode"], "refused");
    // By alias and by id, each once however often named.
    let named = ok_json(
        run(
            &app,
            &format!("?dataSource=a&dataSource={}&dataSource=a", ids[2]),
        )
        .await,
    )
    .await;
    assert_eq!(aliases(&named), ["a", "c"]);
    // By role.
    ok_json(app.form(Method::POST, "/role", "name=ops").await).await;
    let added = app
        .request(Method::PUT, "/role/ops/data-source/b")
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let by_role = ok_json(run(&app, "?role=ops").await).await;
    assert_eq!(aliases(&by_role), ["b"]);
    // Bad selections are refused before anything is tested.
    error_json(
        run(&app, "?dataSource=nope").await,
        404,
        "data_source_not_found",
    )
    .await;
    error_json(
        run(&app, "?role=ops&dataSource=a").await,
        400,
        "invalid_argument",
    )
    .await;
    error_json(run(&app, "?limit=3").await, 400, "invalid_argument").await;
    // One audit record for each run, and one for each test.
    let audit = ok_json(app.get("/audit?limit=100").await).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    let runs = actions
        .iter()
        .filter(|a| **a == "connection.test_run")
        .count();
    let tests = actions.iter().filter(|a| **a == "connection.test").count();
    assert_eq!((runs, tests), (3, 6), "{actions:?}");
}

/// The run takes one test from the key's allowance; each destination never tested takes one
/// more, and those it cannot cover are skipped (never dialled). Known destinations are free.
#[tokio::test]
async fn new_destinations_spend_the_allowance_and_known_ones_do_not() {
    let app = app_with_burst(4).await;
    let (silent, accepted) = live::silent_listener().await;
    for i in 0..5 {
        app.create(&[
            ("name", &format!("ds{i}")),
            (
                "configUri",
                &format!("postgresql://u@127.0.0.1:{silent}/db{i}?connectTimeout=1"),
            ),
        ])
        .await;
    }
    let first = ok_json(run(&app, "").await).await;
    // 4 in the bucket: 1 for the run, 3 destinations tested, 2 skipped.
    assert_eq!(first["summary"]["failed"], 3, "{first}");
    assert_eq!(first["summary"]["skipped"], 2, "{first}");
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "only 3 dialled"
    );
    let skipped = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.get("skipped").is_some())
        .unwrap();
    assert!(
        skipped["skipped"]
            .as_str()
            .unwrap()
            .contains("tests_per_minute"),
        "{skipped}"
    );
    // The bucket is empty: the next run is a 429 before anything else.
    error_json(run(&app, "").await, 429, "rate_limited").await;
}
