//! Stores written by the release before the application layer and the shared migration
//! numbering (commit e966ac1), one per backend (`tests/fixtures/store-e966ac1`, made by its
//! `make.sh` with that release's binary): today's Jackal opens and upgrades them in place, and
//! answers exactly what that release answered, byte for byte.

use std::path::Path;

use jackal::app::api_keys::KeyCredentials;
use jackal::clock::SystemClock;
use jackal::config::Settings;
use jackal::startup::Application;

use crate::connection_test::live;
use crate::helpers::{create_database, pg_connect, test_store_admin, USER_AGENT};

const KEY_ID: &str = "0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e";
const SECRET: &str = "fixture-secret-0123456789";

fn fixture(part: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store-e966ac1")
        .join(part)
}

/// The requests `make.sh` recorded: the trail first (it was recorded last, holding the
/// recording's own read of the password), the password read last.
const RECORDED: &[(&str, &str)] = &[
    ("audit.json", "/api/v2/audit"),
    ("data-sources.json", "/api/v2/data-source"),
    ("ledger.json", "/api/v2/data-source/ledger"),
    ("ledger-schema.json", "/api/v2/data-source/ledger/schema"),
    ("ledger-roles.json", "/api/v2/data-source/ledger/role"),
    ("people.json", "/api/v2/person"),
    ("roles.json", "/api/v2/role"),
    ("finance-people.json", "/api/v2/role/Finance/person"),
    ("permissions.json", "/api/v2/permission"),
    ("ann-data-sources.json", "/api/v2/person/ann/data-source"),
    ("mode-data-sources.json", "/api/jackal/data_sources"),
    ("ledger-detail.json", "/api/v2/data-source/ledger/detail"),
];

/// Starts today's Jackal with `settings` and asks what `make.sh` asked the old one.
async fn answers_as_recorded(settings: Settings, expected: &Path) {
    let key = KeyCredentials {
        id: KEY_ID.to_owned(),
        secret: SECRET.to_owned(),
    };
    let app =
        Application::build_with_clock(&settings, Some(&key), std::sync::Arc::new(SystemClock))
            .await
            .expect("today's Jackal opens the old store");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    for (file, path) in RECORDED {
        let mode = path.starts_with("/api/jackal");
        let user = if mode {
            KEY_ID.to_owned()
        } else {
            format!("{KEY_ID}@api")
        };
        let res = client
            .get(format!("{address}{path}"))
            .header("User-Agent", USER_AGENT)
            .basic_auth(user, Some(SECRET))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.unwrap();
        let recorded = std::fs::read_to_string(expected.join(file)).unwrap();
        assert_eq!(
            body, recorded,
            "{path} answers differently from the old release"
        );
    }
    handle.stop(true).await;
}

#[tokio::test]
async fn an_sqlite_store_of_the_previous_release_opens_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["jackal.db", "jackal.db.key"] {
        std::fs::copy(fixture("sqlite").join(file), dir.path().join(file)).unwrap();
    }
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.workers = 1;
    settings.store.path = dir.path().join("jackal.db");
    answers_as_recorded(settings, &fixture("sqlite/expected")).await;
    // Upgraded in place to today's version: the same numbers as the PostgreSQL store now.
    let version: i64 = rusqlite::Connection::open(dir.path().join("jackal.db"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, jackal::store::migrations::LATEST);
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
async fn a_postgresql_store_of_the_previous_release_is_renumbered_and_answers_the_same() {
    let admin = test_store_admin().unwrap_or_else(|| live::pg_admin_url("postgres"));
    let db = format!("jackal_t_upgrade_{}", std::process::id());
    if let Err(e) = create_database(&admin, &db).await {
        panic!("live test: no PostgreSQL at {admin}: {e}; run scripts/test-databases");
    }
    let client = pg_connect(&admin, &db).await.unwrap();
    // A plain pg_dump: its psql commands (\restrict) are not SQL.
    let dump: String = std::fs::read_to_string(fixture("postgres/store.sql"))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n");
    client.batch_execute(&dump).await.unwrap();
    // The dump empties the session's search path.
    client.batch_execute("RESET search_path").await.unwrap();
    let legacy: i64 = client
        .query_one("SELECT version FROM jackal_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(legacy, 3, "the old numbering");

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("postgres/jackal.key"),
        dir.path().join("jackal.key"),
    )
    .unwrap();
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.workers = 1;
    settings.store.url = Some(crate::helpers::jackal_url(&admin, &db));
    settings.secrets.key_file = Some(dir.path().join("jackal.key"));
    answers_as_recorded(settings, &fixture("postgres/expected")).await;
    let (version, sequence): (i64, String) = client
        .query_one("SELECT version, sequence FROM jackal_schema", &[])
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(
        (version, sequence.as_str()),
        (jackal::store::migrations::LATEST, "shared")
    );
    drop(client);
    let admin_client = pg_connect(&admin, &crate::helpers::split_admin_db(&admin))
        .await
        .unwrap();
    admin_client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
        .await
        .unwrap();
}
