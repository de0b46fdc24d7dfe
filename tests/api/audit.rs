//! The audit trail: every change, password read and connection test is recorded with who, from
//! where and what changed, secrets removed; and no response, log line or audit record outside
//! `/detail` carries a stored password.

use reqwest::Method;
use serde_json::Value;

use crate::cli::{jackal, jackal_with_key, run, serve};
use crate::helpers::{error_json, ok_json, spawn_app, TestApp, USER_AGENT};

const PASSWORD: &str = "Aud1t-S3cret-pw";

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let events = ok_json(app.get(&format!("/audit{query}")).await).await;
    events.as_array().unwrap().clone()
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_change_read_and_test_is_recorded_with_who_and_what() {
    let app = spawn_app().await;
    let ds = app
        .create(&[
            ("name", "GL"),
            ("alias", "gl"),
            (
                "configUri",
                &format!("postgresql://gl:{PASSWORD}@a.example.com:5432/gl?ssl=false"),
            ),
        ])
        .await;
    let id = ds["id"].as_str().unwrap();
    let body = serde_urlencoded::to_string([(
        "configUri",
        "postgresql://gl@b.example.com:5432/gl?ssl=true",
    )])
    .unwrap();
    ok_json(app.form(Method::PATCH, "/data-source/gl", &body).await).await;
    ok_json(app.get("/data-source/gl/detail").await).await;
    // A connection test that needs no network: the egress policy denies link-local.
    let body = serde_urlencoded::to_string([("configUri", "mysql://u@169.254.1.1/db")]).unwrap();
    ok_json(app.form(Method::POST, "/connection-test", &body).await).await;
    ok_json(
        app.request(Method::POST, "/data-source/gl/test")
            .send()
            .await
            .unwrap(),
    )
    .await;
    app.form(
        Method::POST,
        "/person",
        "name=Ann&email=ann@x.io&username=ann",
    )
    .await;
    app.form(Method::POST, "/role", "name=HR").await;
    ok_json(
        app.request(Method::PUT, "/role/HR/person/ann")
            .send()
            .await
            .unwrap(),
    )
    .await;
    ok_json(
        app.request(Method::PUT, "/role/HR/person/ann")
            .send()
            .await
            .unwrap(),
    )
    .await;
    ok_json(
        app.form(
            Method::POST,
            "/data-source/gl/permission/person/ann",
            "duration=60",
        )
        .await,
    )
    .await;
    ok_json(app.delete("/data-source/gl/permission").await).await;
    ok_json(
        app.request(Method::POST, "/person/ann/lock")
            .send()
            .await
            .unwrap(),
    )
    .await;
    ok_json(app.delete("/person/ann").await).await;
    ok_json(app.delete("/data-source/gl").await).await;

    let events = audit(&app, "").await;
    assert_eq!(
        actions(&events),
        [
            "data_source.create",
            "data_source.update",
            "data_source.read_password",
            "connection.test",
            "connection.test",
            "person.create",
            "role.create",
            "role.add_person",
            "permission.grant",
            "permission.revoke_all",
            "person.lock",
            "person.delete",
            "data_source.delete",
        ],
        "the repeated PUT changed nothing and is not recorded"
    );
    for event in &events {
        assert_eq!(event["apiKeyId"], app.key.id.as_str(), "{event}");
        assert_eq!(event["clientAddress"], "127.0.0.1", "{event}");
        assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
        assert!(
            !event.to_string().contains(PASSWORD),
            "a password in {event}"
        );
    }
    let update = &events[1];
    assert_eq!(update["objectId"], id);
    assert_eq!(update["changes"]["host"]["from"], "a.example.com");
    assert_eq!(update["changes"]["host"]["to"], "b.example.com");
    assert_eq!(update["changes"]["ssl"]["from"], false);
    assert_eq!(update["changes"]["ssl"]["to"], true);
    assert_eq!(
        update["changes"]["password"], "removed",
        "a new host drops the password"
    );
    assert_eq!(events[2]["changes"]["hasPassword"], false);
    assert_eq!(events[3]["changes"]["errorCode"], "denied_by_policy");
    assert_eq!(events[3]["objectType"], "connection_test");
    assert_eq!(events[4]["objectId"], id);
}

#[tokio::test]
async fn the_trail_filters_by_object_time_and_cursor_and_refuses_bad_queries() {
    let app = spawn_app().await;
    let a = app
        .create(&[("name", "a"), ("configUri", "mysql://h/a")])
        .await;
    app.create(&[("name", "b"), ("configUri", "mysql://h/b")])
        .await;
    let a_id = a["id"].as_str().unwrap();
    ok_json(
        app.form(Method::PATCH, &format!("/data-source/{a_id}"), "name=a2")
            .await,
    )
    .await;

    let of_a = audit(&app, &format!("?objectId={a_id}")).await;
    assert_eq!(actions(&of_a), ["data_source.create", "data_source.update"]);
    let all = audit(&app, "").await;
    assert_eq!(all.len(), 3);
    assert_eq!(audit(&app, "?limit=1").await, all[..1]);
    let first_id = all[0]["id"].as_str().unwrap();
    assert_eq!(audit(&app, &format!("?after={first_id}")).await, all[1..]);
    assert_eq!(audit(&app, "?since=2999-01-01T00:00:00Z").await.len(), 0);
    assert_eq!(audit(&app, "?until=2000-01-01T00:00:00Z").await.len(), 0);
    assert_eq!(
        audit(&app, "?since=2000-01-01T00:00:00%2B01:00")
            .await
            .len(),
        3
    );

    for (query, code) in [
        ("?since=yesterday", "invalid_argument"),
        ("?limit=0", "invalid_argument"),
        ("?limit=10001", "invalid_argument"),
        ("?after=x", "invalid_argument"),
        ("?object=x", "unknown_argument"),
    ] {
        error_json(app.get(&format!("/audit{query}")).await, 400, code).await;
    }
}

#[tokio::test]
async fn no_response_log_line_or_audit_record_but_detail_holds_a_stored_password() {
    let dir = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let secret = "audit-sweep-secret-0123456789";
    let mut cmd = jackal_with_key(dir.path(), &id, secret);
    cmd.env("RUST_LOG", "debug");
    let (mut server, _) = serve(cmd, dir.path());
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}/api/v2", server.1);
    let call = |method: Method, path: &str, body: Option<String>| {
        let mut req = client
            .request(method, format!("{base}{path}"))
            .header("User-Agent", USER_AGENT)
            .basic_auth(format!("{id}@api"), Some(secret));
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
        }
        req.send()
    };
    let form = |pairs: &[(&str, &str)]| Some(serde_urlencoded::to_string(pairs).unwrap());
    let uri = format!("postgresql://u:{PASSWORD}@127.0.0.1:1/db?ssl=false&connectTimeout=1");
    let created: Value = call(
        Method::POST,
        "/data-source",
        form(&[("name", "x"), ("alias", "x"), ("configUri", &uri)]),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let mut outside_detail = Vec::new();
    for (method, path, body) in [
        (Method::GET, "/data-source".to_owned(), None),
        (Method::GET, "/data-source/x".to_owned(), None),
        (
            Method::POST,
            "/data-source/x".to_owned(),
            form(&[("name", "y")]),
        ),
        (Method::POST, "/data-source/x/test".to_owned(), None),
        (
            Method::POST,
            "/connection-test".to_owned(),
            form(&[("configUri", &uri)]),
        ),
        (
            Method::POST,
            "/data-source".to_owned(),
            form(&[("name", "z"), ("alias", "x"), ("configUri", &uri)]),
        ),
        (Method::GET, "/audit".to_owned(), None),
    ] {
        let res = call(method.clone(), &path, body).await.unwrap();
        outside_detail.push((format!("{method} {path}"), res.text().await.unwrap()));
    }
    let detail = call(Method::GET, "/data-source/x/detail", None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        detail.contains(PASSWORD),
        "/detail gives the password back: {detail}"
    );
    // The create and update answers carry it by contract; everything else must not.
    assert!(created["configUri"].as_str().unwrap().contains(PASSWORD));
    for (what, body) in &outside_detail {
        let may_carry = what.starts_with("POST /data-source/x") && !what.ends_with("/test");
        assert_eq!(body.contains(PASSWORD), may_carry, "{what}: {body}");
    }
    let audit_out = run(jackal(dir.path()).args(["audit", "tail", "-n", "100"]));
    assert!(audit_out.lines().count() >= 5, "{audit_out}");
    assert!(
        audit_out.contains("data_source.read_password"),
        "{audit_out}"
    );
    assert!(!audit_out.contains(PASSWORD), "{audit_out}");
    let log = server.stop_and_read_log();
    assert!(log.contains("request"), "the log was captured: {log}");
    assert!(!log.contains(PASSWORD), "a password in the server log");
    assert!(
        !log.contains(secret),
        "the API key secret in the server log"
    );
}

/// Test records skip the disk flush (see `Store::record_test`), but a record that was
/// answered must still survive SIGKILL of the server.
#[tokio::test]
async fn connection_test_records_survive_a_killed_server() {
    let dir = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let secret = "audit-kill-secret-0123456789";
    let (server, _) = serve(jackal_with_key(dir.path(), &id, secret), dir.path());
    let client = reqwest::Client::new();
    const TESTS: usize = 5;
    for i in 0..TESTS {
        // An unsupported scheme fails before any I/O, and is recorded like any other test.
        let body = serde_urlencoded::to_string([("configUri", format!("nope{i}://x"))]).unwrap();
        let res = client
            .post(format!(
                "http://127.0.0.1:{}/api/v2/connection-test",
                server.1
            ))
            .header("User-Agent", USER_AGENT)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .basic_auth(format!("{id}@api"), Some(secret))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // Child::kill is SIGKILL: no shutdown code runs.
    drop(server);
    let out = run(jackal(dir.path()).args(["audit", "tail", "-n", "100"]));
    assert_eq!(
        out.matches("connection.test").count(),
        TESTS,
        "every answered test is in the trail after SIGKILL: {out}"
    );
}
