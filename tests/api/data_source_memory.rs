//! On SQLite a server answers `GET /data-source/{id}` from memory while nothing has been
//! committed since it read the row (`src/app/data_source_cache.rs`). What it must never do is
//! answer with a row that changed: every write made through the server is read at once, and a
//! change made in the store by another process within 100 ms: no read sent later than that
//! after the commit may see the old row. On PostgreSQL nothing is remembered, and the same
//! tests ask that no read after the commit sees the old row.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{commit_in_store, error_json, ok_json, spawn_app, store_backend, TestApp};

/// The window allowed on SQLite between another process's commit and the last read that may
/// still see the old row: the same as for a revoked API key.
const WINDOW: Duration = Duration::from_millis(100);

/// Reads `path` again and again after `committed` until `seen` holds for the answer (status,
/// body). Returns how long after the commit the last read that still saw the old state was
/// sent (zero when none did), and how many did: a read's own round trip is not the server's
/// delay.
async fn stale_after(
    app: &TestApp,
    path: &str,
    committed: Instant,
    seen: impl Fn(u16, &Value) -> bool,
) -> (Duration, usize) {
    let (mut last_stale, mut stale) = (Duration::ZERO, 0);
    loop {
        let sent = committed.elapsed();
        let res = app.get(path).await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        if seen(status, &body) {
            return (last_stale, stale);
        }
        assert_eq!(status, 200, "{body}");
        (last_stale, stale) = (sent, stale + 1);
        assert!(
            committed.elapsed() < Duration::from_secs(5),
            "{path} still answers {body} 5 s after the change"
        );
    }
}

#[tokio::test]
async fn a_change_committed_by_another_process_is_read_within_100_ms() {
    let app = spawn_app().await;
    let mut windows = Vec::new();
    let mut stale_reads = 0;
    for round in 0..5 {
        let ds = app
            .create(&[
                ("name", &format!("round {round}")),
                ("alias", &format!("memory-{round}")),
                ("configUri", "postgresql://u:p@db.example.com/app"),
            ])
            .await;
        let id = ds["id"].as_str().unwrap().to_owned();
        let path = format!("/data-source/{id}");
        let shown = ok_json(app.get(&path).await).await;
        assert_eq!(shown["name"], ds["name"]);
        for _ in 0..20 {
            assert_eq!(ok_json(app.get(&path).await).await, shown);
        }
        // Renamed in the store, by another connection.
        let committed = commit_in_store(
            app.dir.path(),
            "UPDATE data_source SET name = 'renamed elsewhere' WHERE id = $1",
            &id,
        )
        .await;
        let (window, stale) = stale_after(&app, &path, committed, |_, body| {
            body["name"] == "renamed elsewhere"
        })
        .await;
        windows.push(window);
        stale_reads += stale;
        // By alias too, which was remembered as a lookup of its own.
        let by_alias = ok_json(app.get(&format!("/data-source/memory-{round}")).await).await;
        assert_eq!(by_alias["name"], "renamed elsewhere");
        // Deleted in the store: 404 within the window.
        let committed =
            commit_in_store(app.dir.path(), "DELETE FROM data_source WHERE id = $1", &id).await;
        let (window, stale) = stale_after(&app, &path, committed, |status, _| status == 404).await;
        windows.push(window);
        stale_reads += stale;
        error_json(app.get(&path).await, 404, "data_source_not_found").await;
    }
    eprintln!(
        "on {}: the last read that saw the old row was sent {windows:?} after the commit \
         ({stale_reads} reads saw it)",
        store_backend()
    );
    if store_backend() == "postgresql" {
        assert_eq!(stale_reads, 0, "PostgreSQL reads each change at once");
    }
    for window in &windows {
        assert!(*window <= WINDOW, "{windows:?}");
    }
}

#[tokio::test]
async fn every_write_through_the_server_is_read_at_once() {
    let app = spawn_app().await;
    let ds = app
        .create(&[
            ("name", "first"),
            ("alias", "first-alias"),
            ("configUri", "postgresql://u:p@db.example.com/app"),
        ])
        .await;
    let id = ds["id"].as_str().unwrap().to_owned();
    let path = format!("/data-source/{id}");
    for round in 0..100 {
        // Remembered, by id and by alias...
        let before = ok_json(app.get(&path).await).await;
        let alias = before["alias"].as_str().unwrap().to_owned();
        assert_eq!(
            ok_json(app.get(&format!("/data-source/{alias}")).await).await,
            before
        );
        // ...then changed, and read back at once: the new name and alias, the old alias gone.
        let (name, new_alias) = (format!("name {round}"), format!("alias-{round}"));
        let updated = ok_json(
            app.form(
                Method::PATCH,
                &path,
                &serde_urlencoded::to_string([("name", &name), ("alias", &new_alias)]).unwrap(),
            )
            .await,
        )
        .await;
        let read = ok_json(app.get(&path).await).await;
        assert_eq!(read["name"], name.as_str(), "round {round}");
        assert_eq!(read["alias"], new_alias.as_str());
        assert_eq!(read["updatedAt"], updated["updatedAt"]);
        assert_eq!(
            ok_json(app.get(&format!("/data-source/{new_alias}")).await).await,
            read
        );
        error_json(
            app.get(&format!("/data-source/{alias}")).await,
            404,
            "data_source_not_found",
        )
        .await;
    }
    // A new configUri, another type: read at once, and the one read agrees with the list.
    let moved = ok_json(
        app.form(
            Method::PATCH,
            &path,
            "configUri=mysql%3A%2F%2Fu%40mysql.example.com%2Fsales",
        )
        .await,
    )
    .await;
    let after = ok_json(app.get(&path).await).await;
    assert_eq!(after["configUri"], moved["configUri"]);
    assert_eq!(after["type"], "mysql", "{after}");
    let listed = ok_json(app.get("/data-source").await).await;
    let in_list = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id.as_str())
        .unwrap();
    assert_eq!(&after, in_list);
    // Deleted through the server: gone at once, by id and by alias.
    ok_json(app.delete(&path).await).await;
    error_json(app.get(&path).await, 404, "data_source_not_found").await;
    error_json(
        app.get("/data-source/alias-99").await,
        404,
        "data_source_not_found",
    )
    .await;
}
