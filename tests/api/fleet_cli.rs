//! `jackal test`, the real binary against a real server: exit statuses, the table (failures
//! first), `--format json`, and the progress bar only on a terminal.

use std::process::{Command, Output};

use serde_json::Value;

use crate::connection_test::live;
use crate::helpers::{spawn_app_with, test_key, TestApp};

async fn app() -> TestApp {
    spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.limits.tests_burst = 100;
    })
    .await
}

/// `jackal test ARGS` against `app`, with its key in the environment.
fn jackal_test(app: &TestApp, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jackal"));
    cmd.arg("test")
        .args(args)
        .arg("--url")
        .arg(&app.address)
        .env("JACKDB_API_KEY_ID", &app.key.id)
        .env("JACKDB_API_KEY_SECRET", &app.key.secret)
        .env_remove("JACKAL_URL");
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two data sources: `up` (PG_MAIN) and `down` (a closed port); `up` alone in the role `good`.
async fn fleet(app: &TestApp) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    app.create(&[
        ("name", "up"),
        ("alias", "up"),
        (
            "configUri",
            &format!("{}?ssl=false", live::pg_admin_url("postgres")),
        ),
    ])
    .await;
    app.create(&[
        ("name", "down"),
        ("alias", "down"),
        ("configUri", &format!("postgresql://u@127.0.0.1:{port}/db")),
    ])
    .await;
    let body = "name=good";
    app.form(reqwest::Method::POST, "/role", body).await;
    app.request(reqwest::Method::PUT, "/role/good/data-source/up")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn exit_status_says_whether_all_passed_and_the_table_lists_failures_first() {
    live::require(&[&live::PG_MAIN]);
    let app = app().await;
    fleet(&app).await;

    let out = output(jackal_test(&app, &["--all"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("DATA SOURCE"), "{table}");
    assert!(
        rows[1].starts_with("down") && rows[1].contains("refused"),
        "{table}"
    );
    assert!(
        rows[2].starts_with("up") && rows[2].contains("PostgreSQL"),
        "{table}"
    );
    assert!(
        table.contains("2 tested: 1 succeeded, 1 failed, 0 skipped"),
        "{table}"
    );
    // Not a terminal: no progress bar.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    let out = output(jackal_test(&app, &["--role", "good"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = output(jackal_test(&app, &["up"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let out = output(jackal_test(&app, &["--all", "--format", "json"])).await;
    assert_eq!(out.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["summary"]["failed"], 1, "{answer}");
    assert_eq!(answer["results"].as_array().unwrap().len(), 2, "{answer}");
}

#[tokio::test]
async fn usage_and_connection_errors_exit_with_2() {
    let app = app().await;
    // Nothing to test named.
    let out = output(jackal_test(&app, &[])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--all"), "{}", text(&out.stderr));
    // A wrong key: the server's 401, said.
    let mut cmd = jackal_test(&app, &["--all"]);
    cmd.env("JACKDB_API_KEY_SECRET", "wrong-secret-0123456789");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    // No key at all.
    let mut cmd = jackal_test(&app, &["--all"]);
    cmd.env_remove("JACKDB_API_KEY_ID");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("JACKDB_API_KEY_ID"));
    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jackal"));
    cmd.args(["test", "--all", "--url", &url])
        .env("JACKDB_API_KEY_ID", &app.key.id)
        .env("JACKDB_API_KEY_SECRET", &app.key.secret);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nothing is listening"),
        "{}",
        text(&out.stderr)
    );
    // An unknown option: clap's usage error.
    let out = output(jackal_test(&app, &["--everything"])).await;
    assert_eq!(out.status.code(), Some(2));
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), a progress line is drawn.
#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn a_terminal_gets_a_progress_bar() {
    live::require(&[&live::PG_MAIN]);
    let app = app().await;
    fleet(&app).await;
    let line = format!(
        "{} test up --url {}",
        env!("CARGO_BIN_EXE_jackal"),
        app.address
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("JACKDB_API_KEY_ID", &app.key.id)
        .env("JACKDB_API_KEY_SECRET", &app.key.secret);
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let shown = text(&out.stdout);
    assert!(shown.contains("tested,"), "no progress line: {shown:?}");
    assert!(shown.contains("1 tested: 1 succeeded"), "{shown:?}");
}

/// `jackal test` run with `url` (and `app`'s key): its exit status and what it printed on stderr,
/// which must be one line naming the command, never the HTTP library's own words.
async fn test_with_url(app: &TestApp, url: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jackal"));
    cmd.args(["test", "--all", "--url", url])
        .args(extra)
        .env("JACKDB_API_KEY_ID", &app.key.id)
        .env("JACKDB_API_KEY_SECRET", &app.key.secret)
        .env_remove("JACKAL_URL")
        .env_remove("JACKDB_API_URL");
    let out = output(cmd).await;
    let stderr = text(&out.stderr);
    if out.status.code() == Some(2) {
        assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
        assert!(stderr.starts_with("jackal test: "), "{stderr}");
        for library_words in [
            "builder error",
            "error sending request",
            "error trying to connect",
        ] {
            assert!(!stderr.contains(library_words), "{stderr}");
        }
    }
    (out.status.code(), stderr)
}

#[tokio::test]
async fn url_is_the_servers_base_or_the_apis_and_each_failure_says_what_to_do() {
    let app = app().await;
    let server = app.address.clone();
    let host_port = server.trim_start_matches("http://").to_owned();

    // The server's base and the API's (as JACKDB_API_URL holds it) both reach the API; an empty
    // store tests nothing, and nothing failed.
    for url in [
        server.clone(),
        format!("{server}/"),
        format!("{server}/api/v2"),
        format!("{server}/api/v2/"),
    ] {
        let (status, stderr) = test_with_url(&app, &url, &[]).await;
        assert_eq!(status, Some(0), "{url}: {stderr}");
    }
    // Without --url, JACKDB_API_URL names the server.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jackal"));
    cmd.args(["test", "--all"])
        .env("JACKDB_API_URL", format!("{server}/api/v2"))
        .env("JACKDB_API_KEY_ID", &app.key.id)
        .env("JACKDB_API_KEY_SECRET", &app.key.secret)
        .env_remove("JACKAL_URL");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A missing scheme: the URL to write instead.
    let (status, stderr) = test_with_url(&app, &host_port, &[]).await;
    assert_eq!(status, Some(2));
    assert!(
        stderr.contains("no scheme") && stderr.contains(&format!("write http://{host_port}")),
        "{stderr}"
    );
    // A path that is neither the server's nor the API's.
    let (status, stderr) = test_with_url(&app, &format!("{server}/api"), &[]).await;
    assert_eq!(status, Some(2));
    assert!(stderr.contains("/api/v2"), "{stderr}");

    // Nothing listening: start the server or correct --url.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_at = closed.local_addr().unwrap();
    drop(closed);
    let (status, stderr) = test_with_url(&app, &format!("http://{closed_at}"), &[]).await;
    assert_eq!(status, Some(2));
    assert!(
        stderr.contains(&format!("nothing is listening at {closed_at}"))
            && stderr.contains("jackal serve"),
        "{stderr}"
    );

    // A 401: which variables hold the key, and how to make one.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jackal"));
    cmd.args(["test", "--all", "--url", &server])
        .env("JACKDB_API_KEY_ID", &app.key.id)
        .env("JACKDB_API_KEY_SECRET", "wrong-secret-0123456789")
        .env_remove("JACKAL_URL");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("401")
            && stderr.contains("JACKDB_API_KEY_SECRET")
            && stderr.contains("jackal api-key create"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-secret"),
        "never the secret: {stderr}"
    );
}

#[tokio::test]
async fn a_refused_server_certificate_says_to_pass_its_ca() {
    let (app, pki, port) = crate::https::https_app().await;
    let url = format!("https://127.0.0.1:{port}");
    let (status, stderr) = test_with_url(&app, &url, &[]).await;
    assert_eq!(status, Some(2));
    assert!(
        stderr.contains(&format!("the server at 127.0.0.1:{port}"))
            && stderr.contains("does not trust")
            && stderr.contains("--ca-cert"),
        "{stderr}"
    );

    // With its CA, the same URL (and the API's) works.
    let ca = app.dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let ca = ca.to_str().unwrap();
    for url in [url.clone(), format!("{url}/api/v2")] {
        let (status, stderr) = test_with_url(&app, &url, &["--ca-cert", ca]).await;
        assert_eq!(status, Some(0), "{url}: {stderr}");
    }

    // Plain HTTP asked of the HTTPS port, and TLS asked of a plain one: one sentence each.
    let (status, stderr) = test_with_url(&app, &format!("http://127.0.0.1:{port}"), &[]).await;
    assert_eq!(status, Some(2), "{stderr}");
    let plain = self::app().await;
    let plain_port = plain.address.rsplit(':').next().unwrap().to_owned();
    let (status, stderr) = test_with_url(
        &plain,
        &format!("https://127.0.0.1:{plain_port}"),
        &["--ca-cert", ca],
    )
    .await;
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("TLS handshake"), "{stderr}");
}
