//! Everything answered 200 before a restart is there after it, passwords included.

use reqwest::Method;

use crate::helpers::{ok_json, spawn_app, spawn_app_in};

#[tokio::test]
async fn everything_written_before_a_restart_is_there_after() {
    let app = spawn_app().await;
    let keep = app
        .create(&[
            ("name", "Keep"),
            ("alias", "keep"),
            ("configUri", "postgresql://u:p%40ss@db.local:5432/k"),
        ])
        .await;
    let gone = app
        .create(&[("name", "Gone"), ("configUri", "mysql://u:x@h/g")])
        .await;
    let changed = app
        .create(&[("name", "Before"), ("configUri", "sqlite:///srv/data/c.db")])
        .await;
    let changed_id = changed["id"].as_str().unwrap();
    ok_json(
        app.form(
            Method::PATCH,
            &format!("/data-source/{changed_id}"),
            "name=After&alias=changed",
        )
        .await,
    )
    .await;
    ok_json(
        app.delete(&format!("/data-source/{}", gone["id"].as_str().unwrap()))
            .await,
    )
    .await;
    let list_before = ok_json(app.get("/data-source").await).await;
    let detail_before = ok_json(app.get("/data-source/keep/detail").await).await;

    let (dir, key) = app.stop().await;
    let app = spawn_app_in(dir, key).await;

    assert_eq!(ok_json(app.get("/data-source").await).await, list_before);
    let detail_after = ok_json(app.get("/data-source/keep/detail").await).await;
    assert_eq!(detail_after, detail_before);
    assert_eq!(
        detail_after["configUri"],
        "postgresql://u:p%40ss@db.local:5432/k?validateSsl=false&ssl=true"
    );
    assert_eq!(detail_after["id"], keep["id"]);
    assert_eq!(
        ok_json(app.get("/data-source/changed").await).await["name"],
        "After"
    );
}
