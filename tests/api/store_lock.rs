//! Changes wait their turn when another process holds the store's write lock.

use std::sync::mpsc;
use std::time::Duration;

use reqwest::Method;
use rusqlite::TransactionBehavior;

use crate::helpers::{ok_json, pg_store, spawn_app};

/// Another writer on the same file (a `jackal secrets rotate`, say; on PostgreSQL another
/// session with a table lock) holds the lock while an update, a delete and a create with an
/// alias (each reads before it writes) arrive. They must wait for the lock, not fail with
/// "database is locked".
#[tokio::test]
async fn changes_wait_while_another_writer_holds_the_lock() {
    let app = spawn_app().await;
    let kept = app
        .create(&[("name", "kept"), ("configUri", "postgresql://u:p@h/db")])
        .await;
    let doomed = app
        .create(&[("name", "doomed"), ("configUri", "mysql://u:p@h/db")])
        .await;
    let kept_id = kept["id"].as_str().unwrap().to_owned();
    let doomed_id = doomed["id"].as_str().unwrap().to_owned();

    let (kept_path, doomed_path) = (
        format!("/data-source/{kept_id}"),
        format!("/data-source/{doomed_id}"),
    );
    let requests = || async {
        tokio::join!(
            app.form(Method::PATCH, &kept_path, "name=renamed"),
            app.delete(&doomed_path),
            app.form(
                Method::POST,
                "/data-source",
                "name=new&alias=fresh&configUri=sqlite%3A%2F%2F%2Fsrv%2Fa.db"
            ),
        )
    };

    let (update, delete, create) = if let Some(mut client) = pg_store(app.dir.path()).await {
        // PostgreSQL: another session holds a lock that lets readers through but no writer of
        // data sources, as a rotation's transaction would.
        let tx = client.transaction().await.unwrap();
        tx.batch_execute("LOCK TABLE data_source IN EXCLUSIVE MODE")
            .await
            .unwrap();
        let release = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            tx.commit().await.unwrap();
        };
        let (answers, ()) = tokio::join!(requests(), release);
        answers
    } else {
        let path = app.dir.path().join("jackal.db");
        let (locked, is_locked) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let mut conn = rusqlite::Connection::open(path).unwrap();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            locked.send(()).unwrap();
            // Held until the requests are in flight and have had time to reach the store.
            released.recv().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            tx.commit().unwrap();
        });
        is_locked.recv().unwrap();
        release.send(()).unwrap();
        let answers = requests().await;
        holder.join().unwrap();
        answers
    };
    assert_eq!(ok_json(update).await["name"], "renamed");
    ok_json(delete).await;
    assert_eq!(ok_json(create).await["alias"], "fresh");

    let list = ok_json(app.get("/data-source").await).await;
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["new", "renamed"]);
}
