//! `POST /data-source/:ds/test` and `POST /connection-test` over real HTTP, against SQLite files,
//! loopback listeners and the live PostgreSQL and MariaDB servers of scripts/test-databases.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jackal::app::api_keys::KeyCredentials;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    error_json, ok_json, spawn_app, spawn_app_with, test_key, wait_until, TestApp,
};

#[path = "../../drivers/tests/common/mod.rs"]
pub mod live;

/// A host that never answers (see `live::silent_listener`).
struct SilentListener {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

async fn silent_listener() -> SilentListener {
    let (port, accepted) = live::silent_listener().await;
    SilentListener { port, accepted }
}

async fn test_unsaved(app: &TestApp, uri: &str) -> Value {
    let body = serde_urlencoded::to_string([("configUri", uri)]).unwrap();
    ok_json(app.form(Method::POST, "/connection-test", &body).await).await
}

/// `POST /data-source/{key}/test`: the result.
pub async fn test_stored(app: &TestApp, key: &str) -> Value {
    ok_json(
        app.request(Method::POST, &format!("/data-source/{key}/test"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn phases(result: &Value) -> Vec<(String, bool)> {
    result["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["ok"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn assert_failure(result: &Value, code: &str) {
    assert_eq!(result["success"], false, "{result}");
    assert_eq!(result["errorCode"], code, "{result}");
    assert!(result["message"].as_str().unwrap().len() > 20, "{result}");
    assert!(result["durationMs"].as_f64().is_some(), "{result}");
}

#[tokio::test]
async fn sqlite_file_under_an_allowed_dir_reports_its_version() {
    let files = tempfile::tempdir().unwrap();
    let db = files.path().join("inventory.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE item (id INTEGER PRIMARY KEY)")
        .unwrap();
    let expected: String = conn
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    let allowed = files.path().to_owned();
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.drivers.sqlite.allowed_dirs = vec![allowed];
    })
    .await;
    let created = app
        .create(&[
            ("name", "inv"),
            ("alias", "inv"),
            ("configUri", &format!("sqlite://{}", db.display())),
        ])
        .await;
    let result = test_stored(&app, created["id"].as_str().unwrap()).await;
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["version"]["productName"], "SQLite");
    assert_eq!(result["version"]["productVersion"], expected.as_str());
    assert_eq!(result["version"]["description"], expected.as_str());
    assert_eq!(result["tls"]["enabled"], false);
    assert!(phases(&result).iter().all(|(_, ok)| *ok), "{result}");
    assert!(result.get("message").is_none() && result.get("errorCode").is_none());

    // A missing file is reported and never created.
    let missing = files.path().join("missing.db");
    let result = test_unsaved(&app, &format!("sqlite://{}", missing.display())).await;
    assert_failure(&result, "unknown_database");
    assert!(!missing.exists(), "the test must not create a file");
}

#[tokio::test]
async fn sqlite_outside_the_allowed_dirs_is_denied_naming_the_setting() {
    let app = spawn_app().await;
    let db = app.dir.path().join("jackal.db");
    let result = test_unsaved(&app, &format!("sqlite://{}", db.display())).await;
    assert_failure(&result, "denied_by_policy");
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains("[drivers.sqlite] allowed_dirs"),
        "{result}"
    );
}

#[tokio::test]
async fn unparsable_uri_is_a_failed_result_and_a_missing_one_a_400() {
    let app = spawn_app().await;
    let result = test_unsaved(&app, "oracle://u:Sup3rS3cret@h/db").await;
    assert_failure(&result, "invalid_uri");
    assert!(!result.to_string().contains("Sup3rS3cret"));
    let res = app.form(Method::POST, "/connection-test", "").await;
    error_json(res, 400, "missing_argument").await;
    let res = app
        .request(Method::POST, "/data-source/nope/test")
        .send()
        .await
        .unwrap();
    error_json(res, 404, "data_source_not_found").await;
    let res = app
        .request(Method::GET, "/connection-test")
        .send()
        .await
        .unwrap();
    error_json(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn closed_port_is_refused_with_the_address_dialled() {
    let app = spawn_app().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = test_unsaved(
        &app,
        &format!("postgresql://u:pw@127.0.0.1:{port}/db?ssl=false"),
    )
    .await;
    assert_failure(&result, "refused");
    assert_eq!(result["address"], format!("127.0.0.1:{port}"));
    assert_eq!(
        phases(&result).last().unwrap(),
        &("connect".to_owned(), false)
    );
}

#[tokio::test]
async fn a_host_that_never_answers_times_out_within_the_deadline() {
    let app = spawn_app().await;
    let silent = silent_listener().await;
    for scheme in ["postgresql", "mysql"] {
        let uri = format!(
            "{scheme}://u:pw@127.0.0.1:{}/db?connectTimeout=1",
            silent.port
        );
        let started = Instant::now();
        let result = test_unsaved(&app, &uri).await;
        let elapsed = started.elapsed();
        assert_failure(&result, "timeout");
        assert!(
            elapsed < Duration::from_secs(2),
            "{scheme}: answered after {elapsed:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(900),
            "{scheme}: gave up early, {elapsed:?}"
        );
        let message = result["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("127.0.0.1:{}", silent.port)),
            "{message}"
        );
        assert!(message.contains("within 1 s"), "{message}");
    }
}

#[tokio::test]
async fn egress_policy_denies_before_any_packet_is_sent() {
    let silent = silent_listener().await;
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.egress.deny = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let created = app
        .create(&[
            ("name", "x"),
            (
                "configUri",
                &format!("mysql://u:pw@127.0.0.1:{}/db", silent.port),
            ),
        ])
        .await;
    let result = test_stored(&app, created["id"].as_str().unwrap()).await;
    assert_failure(&result, "denied_by_policy");
    assert_eq!(result["address"], Value::Null);
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains("[egress] deny"),
        "{result}"
    );
    // A negative: a dial the refusal let through would reach the listener well within 100 ms.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        silent.accepted.load(Ordering::SeqCst),
        0,
        "nothing was dialled"
    );
    // Link-local (cloud metadata) is denied by default.
    let app = spawn_app().await;
    let result = test_unsaved(&app, "postgresql://u:pw@169.254.169.254/db").await;
    assert_failure(&result, "denied_by_policy");
}

#[tokio::test]
async fn a_flood_of_hanging_tests_neither_blocks_crud_nor_outlives_its_deadline() {
    let silent = silent_listener().await;
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.test.max_concurrent = 4;
        // The whole pool for this one key: this test is about the pool's queue.
        s.test.key_share = 1.0;
        s.test.timeout = 1.0;
        s.server.workers = 2;
        // The flood is deliberate: above the per-key default burst of 10.
        s.limits.tests_burst = 40;
    })
    .await;
    let app = Arc::new(app);
    let uri = format!("postgresql://u:pw@127.0.0.1:{}/db?ssl=false", silent.port);
    let flood_started = Instant::now();
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let app = app.clone();
            let uri = uri.clone();
            tokio::spawn(async move {
                let result = test_unsaved(&app, &uri).await;
                (result, Instant::now())
            })
        })
        .collect();
    // While 40 tests hang or wait for one of 4 slots, the CRUD endpoints still answer at once:
    // every CRUD call below finishes before the flood's 1 s deadline has passed.
    wait_until(
        Duration::from_secs(1),
        "the flood holds all 4 slots",
        || async { silent.accepted.load(Ordering::SeqCst) >= 4 },
    )
    .await;
    for i in 0..5 {
        app.create(&[
            ("name", &format!("during-{i}")),
            ("configUri", "mysql://h/db"),
        ])
        .await;
        ok_json(app.get("/data-source").await).await;
    }
    let crud_done = flood_started.elapsed();
    assert!(
        crud_done < Duration::from_millis(900),
        "CRUD waited for the tests: {crud_done:?}"
    );
    // Before the first deadline, exactly max_concurrent tests have dialled; the rest queue.
    assert_eq!(
        silent.accepted.load(Ordering::SeqCst),
        4,
        "tests running at once"
    );

    for task in flood {
        let (result, answered) = task.await.unwrap();
        assert_failure(&result, "timeout");
        let took = answered - flood_started;
        assert!(
            took < Duration::from_secs(2),
            "a test answered after {took:?}"
        );
    }
}

/// `POST /connection-test` of `uri` as `key`.
async fn test_unsaved_as(app: &TestApp, key: &KeyCredentials, uri: &str) -> Value {
    let body = serde_urlencoded::to_string([("configUri", uri)]).unwrap();
    ok_json(
        app.request_as(key, Method::POST, "/connection-test")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_queued_test_answers_by_its_own_deadline_saying_why() {
    let silent = silent_listener().await;
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.test.max_concurrent = 1;
    })
    .await;
    let other = app.create_key("other").await;
    let app = Arc::new(app);
    let holder = {
        let app = app.clone();
        let uri = format!(
            "postgresql://u:pw@127.0.0.1:{}/db?ssl=false&connectTimeout=3",
            silent.port
        );
        tokio::spawn(async move { test_unsaved(&app, &uri).await })
    };
    while silent.accepted.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let uri = format!(
        "postgresql://u:pw@127.0.0.1:{}/db?ssl=false&connectTimeout=1",
        silent.port
    );
    // Another key waits for the one slot of the pool; the same key for its own one slot.
    for (key, why) in [
        (&other, "[test] max_concurrent"),
        (&app.key, "[test] key_share"),
    ] {
        let started = Instant::now();
        let queued = test_unsaved_as(&app, key, &uri).await;
        let took = started.elapsed();
        assert_failure(&queued, "timeout");
        assert!(
            queued["message"].as_str().unwrap().contains(why),
            "{queued}"
        );
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
    assert_eq!(
        silent.accepted.load(Ordering::SeqCst),
        1,
        "the queued tests dialled nothing"
    );
    assert_failure(&holder.await.unwrap(), "timeout");
}

#[tokio::test]
async fn one_key_flooding_silent_hosts_leaves_slots_for_the_others() {
    let silent = silent_listener().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.test.max_concurrent = 4;
        // Each key holds at most 2 of the 4 slots.
        s.test.key_share = 0.5;
        s.limits.tests_burst = 40;
    })
    .await;
    let other = app.create_key("other").await;
    let app = Arc::new(app);
    let hanging = format!(
        "postgresql://u:pw@127.0.0.1:{}/db?ssl=false&connectTimeout=3",
        silent.port
    );
    let flood: Vec<_> = (0..12)
        .map(|_| {
            let (app, uri) = (app.clone(), hanging.clone());
            tokio::spawn(async move { test_unsaved(&app, &uri).await })
        })
        .collect();
    wait_until(
        Duration::from_secs(2),
        "the flooding key dials its 2 slots",
        || async { silent.accepted.load(Ordering::SeqCst) >= 2 },
    )
    .await;
    // A negative: a third slot taken would show as a third dial within these 200 ms.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        silent.accepted.load(Ordering::SeqCst),
        2,
        "the flooding key holds its share, no more"
    );
    // The other key is not queued behind the flood: its test runs and answers at once.
    let started = Instant::now();
    let refused = test_unsaved_as(
        &app,
        &other,
        &format!("postgresql://u:pw@127.0.0.1:{closed_port}/db?ssl=false"),
    )
    .await;
    assert_failure(&refused, "refused");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    for task in flood {
        let result = task.await.unwrap();
        assert_failure(&result, "timeout");
    }
}

fn pg_uri(password: Option<&str>, address: &str) -> String {
    let userinfo = match password {
        Some(pw) => format!("{}:{pw}", live::USER.get()),
        None => live::USER.get().to_owned(),
    };
    format!(
        "postgresql://{userinfo}@{address}/{}?ssl=false",
        live::DATABASE.get()
    )
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, MARIADB_PLAIN (scripts/test-databases)"]
async fn live_postgresql_and_mariadb_through_the_api() {
    live::require(&[&live::PG_MAIN, &live::MARIADB_PLAIN]);
    let app = spawn_app().await;
    let pg = test_unsaved(&app, &(live::pg_admin_url("postgres") + "?ssl=true")).await;
    assert_eq!(pg["success"], true, "{pg}");
    assert_eq!(pg["version"]["productName"], "PostgreSQL");
    assert_eq!(pg["tls"]["enabled"], true);
    // The extensions of issue 19: the certificate's facts and what to do about them.
    assert_eq!(pg["tls"]["serverCertificate"]["selfSigned"], true, "{pg}");
    assert!(pg["tls"]["serverCertificate"]["daysLeft"].is_i64(), "{pg}");
    assert!(pg["tls"]["cipherSuite"]
        .as_str()
        .unwrap()
        .starts_with("TLS"));
    assert_eq!(pg["tls"]["clientCertificateRequested"], false);
    let warnings = pg["tls"]["warnings"].as_array().unwrap();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("validateSsl=false"),
        "{pg}"
    );
    assert!(pg["version"]["versionString"]
        .as_str()
        .unwrap()
        .starts_with("PostgreSQL "));
    assert!(pg["version"].get("compatibleWith").is_none(), "{pg}");
    assert_eq!(pg["address"], live::PG_MAIN.get());
    let names: Vec<String> = phases(&pg).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["resolve", "connect", "tls", "auth", "query"]);

    let uri = format!(
        "mysql://{}:{}@{}/{}?ssl=false",
        live::USER.get(),
        live::PASSWORD.get(),
        live::MARIADB_PLAIN.get(),
        live::DATABASE.get()
    );
    let maria = test_unsaved(&app, &uri).await;
    assert_eq!(maria["success"], true, "{maria}");
    assert_eq!(maria["version"]["productName"], "MariaDB");
    // mysql_async ran no TLS here, and tells nothing of a handshake anyway: no extensions.
    assert!(maria["tls"].get("serverCertificate").is_none(), "{maria}");
}

#[tokio::test]
#[ignore = "live: needs PG_TLS, PG_PLAIN (scripts/test-databases)"]
async fn a_stored_password_is_never_sent_to_a_changed_destination() {
    live::require(&[&live::PG_TLS, &live::PG_PLAIN]);
    let app = spawn_app().await;
    let (tls, plain) = (live::PG_TLS.get(), live::PG_PLAIN.get());
    let created = app
        .create(&[
            ("name", "pg"),
            ("configUri", &pg_uri(Some(live::PASSWORD.get()), tls)),
        ])
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(test_stored(&app, id).await["success"], true);

    // Same user on another port, without a password: the stored one is dropped, not replayed.
    let body = serde_urlencoded::to_string([("configUri", pg_uri(None, plain))]).unwrap();
    ok_json(
        app.form(Method::PATCH, &format!("/data-source/{id}"), &body)
            .await,
    )
    .await;
    let detail = ok_json(app.get(&format!("/data-source/{id}/detail")).await).await;
    assert!(!detail["configUri"]
        .as_str()
        .unwrap()
        .contains(live::PASSWORD.get()));
    let result = test_stored(&app, id).await;
    assert_failure(&result, "auth_failed");
    assert!(
        result["message"].as_str().unwrap().contains("has none"),
        "{result}"
    );

    // Pointing it back does not bring the password back either.
    let body = serde_urlencoded::to_string([("configUri", pg_uri(None, tls))]).unwrap();
    ok_json(
        app.form(Method::PATCH, &format!("/data-source/{id}"), &body)
            .await,
    )
    .await;
    assert_failure(&test_stored(&app, id).await, "auth_failed");
}

/// A refused server certificate is shown: `tls` carries what the server presented, so an admin
/// sees why it was refused without reaching for openssl.
#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn a_refused_server_certificate_is_shown_in_the_answer() {
    live::require(&[&live::PG_MAIN]);
    let app = spawn_app().await;
    let uri = format!("{}?validateSsl=true", live::pg_admin_url("postgres"));
    let result = test_unsaved(&app, &uri).await;
    assert_failure(&result, "tls_failed");
    let tls = &result["tls"];
    assert_eq!(tls["enabled"], true, "{result}");
    assert_eq!(tls["verified"], true, "{result}");
    let cert = &tls["serverCertificate"];
    let subject = cert["subject"]
        .as_str()
        .expect("the presented certificate's subject");
    assert!(!subject.is_empty(), "{result}");
    assert!(cert["fingerprintSha256"].as_str().is_some(), "{result}");
    assert!(
        result["message"].as_str().unwrap().contains(subject),
        "{result}"
    );
}
