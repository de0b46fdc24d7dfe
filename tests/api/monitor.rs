//! `[monitor] interval`: every data source tested by the server itself, spread over the
//! interval, into the history and `/metrics`, not the audit trail. (Two servers on one store:
//! `two_servers`.)

use std::time::{Duration, Instant};

use crate::helpers::{ok_json, spawn_app_with, test_key};

#[tokio::test]
async fn periodic_tests_are_spread_over_the_interval() {
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.monitor.interval = 2.0;
    })
    .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for i in 0..4 {
        app.create(&[
            ("name", &format!("m{i}")),
            ("alias", &format!("m{i}")),
            (
                "configUri",
                &format!("postgresql://u@127.0.0.1:{port}/db{i}"),
            ),
        ])
        .await;
    }
    // Within two periods every one has a result; the first of each came at its own time.
    let started = Instant::now();
    let mut firsts = Vec::new();
    for i in 0..4 {
        loop {
            let history = ok_json(app.get(&format!("/data-source/m{i}/test-history")).await).await;
            if let Some(oldest) = history.as_array().unwrap().last() {
                assert_eq!(oldest["errorCode"], "refused", "{oldest}");
                let at = chrono::DateTime::parse_from_rfc3339(oldest["testedAt"].as_str().unwrap())
                    .unwrap();
                firsts.push(at.timestamp_millis());
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(6),
                "m{i} never tested"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    firsts.sort();
    // Evenly spaced over 2 s: about 500 ms apart, not one burst.
    for pair in firsts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (300..=800).contains(&gap),
            "gaps between first tests: {firsts:?}"
        );
    }
    // In the history and the metrics; not in the audit trail.
    let metrics = app.metrics().await;
    let m0 = ok_json(app.get("/data-source/m0").await).await;
    assert!(
        metrics.contains(&format!(
            "jackal_data_source_up{{id=\"{}\"",
            m0["id"].as_str().unwrap()
        )),
        "{metrics}"
    );
    let audit = ok_json(app.get("/audit?limit=100").await).await;
    assert!(
        !audit.to_string().contains("connection.test\""),
        "a periodic test was audited: {audit}"
    );
}
