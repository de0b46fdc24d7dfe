//! Passwords are encrypted at rest, and the key file is guarded.

use std::os::unix::fs::PermissionsExt;

use jackal::startup::Application;
use reqwest::Method;

use crate::helpers::{
    database_name, holds, key_file_in, ok_json, pg_store, settings_in, spawn_app, spawn_app_in,
    store_contents, test_key,
};

const PASSWORDS: [&str; 3] = ["Plaintext-Pw-1", "second pw with spaces", "p@ss/w:rd?#%"];

#[tokio::test]
/// On SQLite every file the store wrote (database, WAL, shared memory); on PostgreSQL every row
/// of every table of the store's database.
async fn the_store_holds_no_plaintext_password() {
    let app = spawn_app().await;
    let encode = |pw: &str| {
        percent_encoding::utf8_percent_encode(pw, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let created = app
        .create(&[
            ("name", "a"),
            (
                "configUri",
                &format!("postgresql://u:{}@h/db", encode(PASSWORDS[0])),
            ),
        ])
        .await;
    let id = created["id"].as_str().unwrap();
    let body = serde_urlencoded::to_string([(
        "configUri",
        format!("mysql://u:{}@h/db", encode(PASSWORDS[1])),
    )])
    .unwrap();
    ok_json(
        app.form(Method::PATCH, &format!("/data-source/{id}"), &body)
            .await,
    )
    .await;
    app.create(&[
        ("name", "c"),
        (
            "configUri",
            &format!("mysql://u:{}@h/db", encode(PASSWORDS[2])),
        ),
    ])
    .await;
    // The password really went in: /detail gives it back.
    let detail = ok_json(app.get(&format!("/data-source/{id}/detail")).await).await;
    assert!(detail["configUri"]
        .as_str()
        .unwrap()
        .contains(&encode(PASSWORDS[1])));

    let (dir, _) = app.stop().await;
    let places = store_contents(dir.path()).await;
    for (name, bytes) in &places {
        for pw in PASSWORDS {
            assert!(!holds(bytes, pw), "{name} holds {pw:?}");
            assert!(!holds(bytes, &encode(pw)), "{name} holds {pw:?} encoded");
        }
    }
    // The check can see a password where there is one: the configUri without it is stored.
    assert!(
        places.iter().any(|(_, bytes)| holds(bytes, "mysql://u@h")),
        "{}",
        places
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let key_file = key_file_in(dir.path());
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "key file readable by its owner only");
}

#[tokio::test]
async fn a_missing_key_file_stops_start_up_and_names_the_file() {
    let app = spawn_app().await;
    app.create(&[("name", "a"), ("configUri", "postgresql://u:pw@h/db")])
        .await;
    let (dir, key) = app.stop().await;
    let key_file = dir.path().join("jackal.db.key");
    std::fs::rename(&key_file, dir.path().join("moved.key")).unwrap();

    let err = Application::build(&settings_in(dir.path()), Some(&key))
        .await
        .err()
        .expect("refused");
    let message = format!("{err:#}");
    assert!(message.contains(key_file.to_str().unwrap()), "{message}");
    assert!(message.contains("missing"), "{message}");
    assert!(!key_file.exists(), "no new key was made in its place");

    std::fs::rename(dir.path().join("moved.key"), &key_file).unwrap();
    let app = spawn_app_in(dir, key).await;
    let detail = ok_json(app.get("/data-source").await).await;
    assert_eq!(detail.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_wrong_key_file_stops_start_up_and_names_the_file() {
    let app = spawn_app().await;
    let (dir, key) = app.stop().await;
    let key_file = dir.path().join("jackal.db.key");
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    let err = Application::build(&settings_in(dir.path()), Some(&key))
        .await
        .err()
        .expect("refused");
    let message = format!("{err:#}");
    assert!(message.contains(key_file.to_str().unwrap()), "{message}");
    assert!(message.contains("not the key"), "{message}");
}

#[tokio::test]
async fn a_store_from_a_newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jackal.db");
    // Where the message must point: the SQLite file, or the PostgreSQL database.
    let location = if let Some(client) = pg_store(dir.path()).await {
        // The PostgreSQL store records its schema version in the table jackal_schema.
        client
            .batch_execute(
                "CREATE TABLE jackal_schema (version BIGINT NOT NULL); \
                 INSERT INTO jackal_schema (version) VALUES (1000)",
            )
            .await
            .unwrap();
        database_name(dir.path())
    } else {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 1000).unwrap();
        path.display().to_string()
    };
    let err = Application::build(&settings_in(dir.path()), Some(&test_key()))
        .await
        .err()
        .expect("refused");
    let message = format!("{err:#}");
    assert!(message.contains("newer Jackal"), "{message}");
    assert!(message.contains(&location), "{message}");
}
