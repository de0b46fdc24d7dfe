//! Operations endpoints (contract §6): `/healthz`, `/readyz`, `/metrics`, outside `/api/v2`,
//! answered without vendor headers or credentials.

use reqwest::Method;

use crate::helpers::{error_json, ok_json, pg_store, spawn_app, spawn_app_with, test_key, TestApp};
use crate::raw::{self, addr, basic};

/// A bare GET: no User-Agent, no Accept, no credentials.
async fn bare_get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn healthz_and_readyz_answer_without_credentials() {
    let app = spawn_app().await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let res = bare_get(&app, path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], status, "{path}");
    }
    // Only GET is public: another method needs a key, and then gets its 405.
    let post = || reqwest::Client::new().post(format!("{}/healthz", app.address));
    assert_eq!(post().send().await.unwrap().status(), 401);
    let res = post()
        .basic_auth(format!("{}@api", app.key.id), Some(&app.key.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
}

/// A store that cannot answer (here its `meta` table is gone) makes `/readyz` 503, without the
/// cause, which stays in the log; `/healthz` still says the process is up.
#[tokio::test]
async fn readyz_is_503_when_the_store_fails() {
    let app = spawn_app().await;
    if let Some(client) = pg_store(app.dir.path()).await {
        client
            .batch_execute("DROP TABLE meta CASCADE")
            .await
            .unwrap();
    } else {
        let conn = rusqlite::Connection::open(app.dir.path().join("jackal.db")).unwrap();
        conn.execute_batch("DROP TABLE meta").unwrap();
    }
    let res = bare_get(&app, "/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("see the server log"), "{message}");
    assert!(!message.contains("meta"), "{message}");
    assert_eq!(bare_get(&app, "/healthz").await.status(), 200);
}

/// The value of the one sample line that starts with `name{` and has every label in `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = text.lines().filter(|line| {
        line.starts_with(&format!("{name}{{")) && labels.iter().all(|l| line.contains(l))
    });
    let line = found.next()?;
    assert!(found.next().is_none(), "more than one {name} {labels:?}");
    line.rsplit_once(' ').map(|(_, v)| v.parse().unwrap())
}

#[tokio::test]
async fn metrics_count_requests_by_route_tests_by_outcome_and_time_the_store() {
    let app = spawn_app().await;
    let created = app
        .create(&[
            ("name", "metered"),
            ("configUri", "postgresql://u:Metrics-Secret-Pw@h/db"),
        ])
        .await;
    let id = created["id"].as_str().unwrap();
    for _ in 0..3 {
        ok_json(app.get(&format!("/data-source/{id}")).await).await;
    }
    error_json(
        app.get("/data-source/no-such-id").await,
        404,
        "data_source_not_found",
    )
    .await;
    error_json(app.get("/scanner/probe/xyz").await, 404, "route_not_found").await;
    let test = ok_json(
        app.form(Method::POST, "/connection-test", "configUri=nonsense")
            .await,
    )
    .await;
    assert_eq!(test["errorCode"], "invalid_uri");

    let res = bare_get(&app, "/metrics").await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();

    let count = "jackal_http_request_duration_seconds_count";
    let route = r#"route="/api/v2/data-source/{data_source}""#;
    let get = r#"method="GET""#;
    assert_eq!(
        sample(&text, count, &[route, get, r#"status="200""#]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, count, &[route, get, r#"status="404""#]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            count,
            &[r#"route="/api/v2/data-source""#, r#"method="POST""#]
        ),
        Some(1.0)
    );
    // Unknown paths share one series, and never appear themselves.
    assert_eq!(sample(&text, count, &[r#"route="unmatched""#]), Some(1.0));
    assert!(!text.contains("scanner") && !text.contains("no-such-id"));
    assert_eq!(
        sample(
            &text,
            "jackal_connection_tests_total",
            &[r#"outcome="invalid_uri""#]
        ),
        Some(1.0)
    );
    let store = "jackal_store_operation_duration_seconds_count";
    assert!(sample(&text, store, &[r#"operation="read""#]).unwrap() >= 4.0);
    assert!(sample(&text, store, &[r#"operation="write""#]).unwrap() >= 2.0);
    assert!(!text.contains("Metrics-Secret-Pw"));
}

// --- Which hosts are answered, and who reads /metrics ([server] allowed_hosts, [metrics]) ------

/// `GET path` with exactly the `host_lines` given (each a whole header line, or none).
async fn get_with_host(
    app: &TestApp,
    version: &str,
    path: &str,
    host_lines: &str,
) -> raw::RawResponse {
    raw::send(
        &addr(app),
        format!(
            "GET {path} HTTP/{version}\r\n{host_lines}{}\r\nUser-Agent: t\r\nAccept: application/vnd.jackdb.v2+json\r\nConnection: close\r\n\r\n",
            basic(&format!("{}@api", app.key.id), &app.key.secret)
        )
        .as_bytes(),
    )
    .await
}

#[tokio::test]
async fn a_request_naming_another_host_gets_421_on_every_route_before_authentication() {
    let open = spawn_app().await;
    // The default: every host is answered (this is what a rebinding page read /metrics with).
    let res = get_with_host(
        &open,
        "1.1",
        "/metrics",
        "Host: rebound.attacker.example\r\n",
    )
    .await;
    assert_eq!(res.status, 200, "{res:?}");

    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.server.allowed_hosts = ["127.0.0.1", "Jackal.Example.com:8443", "[::1]"]
            .map(|h| h.parse().unwrap())
            .to_vec();
    })
    .await;
    let port = addr(&app).rsplit_once(':').unwrap().1.to_owned();
    let paths = [
        "/metrics",
        "/healthz",
        "/api/v2/openapi.json",
        "/api/v2/whoami",
        "/api/jackal/data_sources",
        "/ui/sign-in",
        "/no/such/route",
    ];
    for path in paths {
        for host_lines in [
            "Host: rebound.attacker.example\r\n".to_owned(),
            format!("Host: rebound.attacker.example:{port}\r\n"),
            "Host: jackal.example.com\r\n".to_owned(),
            "Host: jackal.example.com:8080\r\n".to_owned(),
            "Host: 127.0.0.2\r\n".to_owned(),
            "Host: [::2]\r\n".to_owned(),
            "Host: ::1\r\n".to_owned(),
            "Host: user@127.0.0.1\r\n".to_owned(),
            "Host: \r\n".to_owned(),
        ] {
            let res = get_with_host(&app, "1.1", path, &host_lines).await;
            res.error(421, "misdirected_request");
        }
        // Two Host headers, one of them listed, or none in HTTP/1.1: actix's parser refuses
        // those itself (400), before the application sees them.
        for host_lines in ["Host: 127.0.0.1\r\nHost: rebound.attacker.example\r\n", ""] {
            let res = get_with_host(&app, "1.1", path, host_lines).await;
            res.error(400, "malformed_request");
        }
        // HTTP/1.0 needs no Host; it names no host, and is refused.
        let res = get_with_host(&app, "1.0", path, "").await;
        res.error(421, "misdirected_request");
        // An absolute URI names its own host, which HTTP says wins over Host.
        let absolute = format!("http://rebound.attacker.example{path}");
        let res = get_with_host(&app, "1.1", &absolute, "Host: 127.0.0.1\r\n").await;
        res.error(421, "misdirected_request");
    }
    // Listed hosts, in any case, on any port unless the entry names one.
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_owned(),
        "JACKAL.example.COM:8443".to_owned(),
        "[0:0::1]:9".to_owned(),
    ] {
        for path in ["/metrics", "/healthz", "/api/v2/whoami"] {
            let res = get_with_host(&app, "1.1", path, &format!("Host: {host}\r\n")).await;
            assert_eq!(res.status, 200, "{host} {path}: {res:?}");
        }
        let res = get_with_host(
            &app,
            "1.1",
            &format!("http://{host}/healthz"),
            &format!("Host: {host}\r\n"),
        )
        .await;
        assert_eq!(res.status, 200, "{host}: {res:?}");
    }
}

#[tokio::test]
async fn metrics_need_an_api_key_when_require_key_is_set() {
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.metrics.require_key = true;
    })
    .await;
    error_json(bare_get(&app, "/metrics").await, 401, "unauthorized").await;
    let wrong = reqwest::Client::new()
        .get(format!("{}/metrics", app.address))
        .basic_auth(format!("{}@api", app.key.id), Some("not-the-secret"))
        .send()
        .await
        .unwrap();
    error_json(wrong, 401, "unauthorized").await;
    // The key as the API takes it, without the vendor headers a scraper does not send.
    let res = reqwest::Client::new()
        .get(format!("{}/metrics", app.address))
        .basic_auth(format!("{}@api", app.key.id), Some(&app.key.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("jackal_http_request_duration_seconds"));
    // The other operations endpoints stay public.
    for path in ["/healthz", "/readyz", "/api/v2/openapi.json"] {
        assert_eq!(bare_get(&app, path).await.status(), 200, "{path}");
    }
}

/// A saved data source with an alias, tested once (its port is closed): its id.
async fn tested_data_source(app: &TestApp, alias: &str) -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let created = app
        .create(&[
            ("name", "labelled"),
            ("alias", alias),
            (
                "configUri",
                &format!("postgresql://u:p@127.0.0.1:{port}/db?ssl=false"),
            ),
        ])
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let result = ok_json(
        app.request(Method::POST, &format!("/data-source/{id}/test"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(result["success"], false, "{result}");
    id
}

#[tokio::test]
async fn data_source_series_carry_no_alias_unless_alias_labels_is_set() {
    let app = spawn_app().await;
    let id = tested_data_source(&app, "payroll-primary").await;
    let text = app.metrics().await;
    assert!(
        text.contains(&format!(
            "jackal_data_source_up{{id=\"{id}\",type=\"postgresql\"}} 0"
        )),
        "{text}"
    );
    assert!(
        !text.contains("payroll-primary") && !text.contains("alias="),
        "{text}"
    );
    // A new alias relabels nothing: the series stay.
    ok_json(
        app.form(
            Method::PATCH,
            &format!("/data-source/{id}"),
            "alias=payroll-2",
        )
        .await,
    )
    .await;
    assert!(app
        .metrics()
        .await
        .contains(&format!("jackal_data_source_up{{id=\"{id}\"")));

    let labelled = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.metrics.alias_labels = true;
    })
    .await;
    let id = tested_data_source(&labelled, "payroll-primary").await;
    let series = format!(
        "jackal_data_source_up{{alias=\"payroll-primary\",id=\"{id}\",type=\"postgresql\"}} 0"
    );
    assert!(labelled.metrics().await.contains(&series));
    // Relabelled by a new alias: the old series go.
    ok_json(
        labelled
            .form(
                Method::PATCH,
                &format!("/data-source/{id}"),
                "alias=payroll-2",
            )
            .await,
    )
    .await;
    assert!(!labelled.metrics().await.contains(&format!("id=\"{id}\"")));
}
