//! Passwords are encrypted at rest, and the key file is guarded.

use std::os::unix::fs::PermissionsExt;

use jackal::startup::Application;
use reqwest::Method;

use crate::helpers::{ok_json, settings_in, spawn_app, spawn_app_in, test_key};

const PASSWORDS: [&str; 3] = ["Plaintext-Pw-1", "second pw with spaces", "p@ss/w:rd?#%"];

/// Every file the store wrote (database, WAL, shared memory), not the key file.
fn store_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("jackal.db") && !name.ends_with(".key")
        })
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_sqlite_files_hold_no_plaintext_password() {
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
    let files = store_bytes(dir.path());
    assert!(files.iter().any(|(name, _)| name.ends_with("jackal.db")));
    for (name, bytes) in &files {
        for pw in PASSWORDS {
            assert!(!contains(bytes, pw), "{name} holds {pw:?}");
            assert!(!contains(bytes, &encode(pw)), "{name} holds {pw:?} encoded");
        }
    }
    let key_file = dir.path().join("jackal.db.key");
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
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 1000).unwrap();
    drop(conn);
    let err = Application::build(&settings_in(dir.path()), Some(&test_key()))
        .await
        .err()
        .expect("refused");
    let message = format!("{err:#}");
    assert!(message.contains("newer Jackal"), "{message}");
    assert!(message.contains(path.to_str().unwrap()), "{message}");
}
