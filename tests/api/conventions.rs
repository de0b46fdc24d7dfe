//! The contract's §1 conventions, each rejection provoked for real.

use reqwest::Method;

use crate::helpers::{error_json, ok_json, spawn_app, TestApp, USER_AGENT};

/// A request with no headers at all, to add them one by one.
fn bare(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path))
}

fn authed(app: &TestApp, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.basic_auth(format!("{}@api", app.key.id), Some(&app.key.secret))
}

#[tokio::test]
async fn user_agent_is_required_and_checked_before_everything() {
    let app = spawn_app().await;
    // reqwest sends no User-Agent unless told to.
    let res = bare(&app, Method::GET, "/nope").send().await.unwrap();
    error_json(res, 400, "missing_user_agent").await;
    let res = authed(&app, bare(&app, Method::GET, "/whoami"))
        .header("User-Agent", "  ")
        .send()
        .await
        .unwrap();
    error_json(res, 400, "missing_user_agent").await;
}

#[tokio::test]
async fn accept_is_checked_after_user_agent_and_before_auth() {
    let app = spawn_app().await;
    for refused in [
        "text/html",
        "application/vnd.jackdb.v1+json",
        "application/json;q=0",
    ] {
        let res = bare(&app, Method::GET, "/whoami")
            .header("User-Agent", USER_AGENT)
            .header("Accept", refused)
            .send()
            .await
            .unwrap();
        error_json(res, 406, "not_acceptable").await;
    }
    for served in [
        None,
        Some("*/*"),
        Some("application/*"),
        Some("application/json"),
        Some("application/vnd.jackdb.v2+json"),
        Some("text/html;q=0.9, application/vnd.jackdb.v2+json; q=0.5"),
    ] {
        let mut req =
            authed(&app, bare(&app, Method::GET, "/whoami")).header("User-Agent", USER_AGENT);
        if let Some(accept) = served {
            req = req.header("Accept", accept);
        }
        ok_json(req.send().await.unwrap()).await;
    }
}

#[tokio::test]
async fn auth_failures_are_401_with_the_basic_challenge() {
    let app = spawn_app().await;
    let base = || bare(&app, Method::GET, "/whoami").header("User-Agent", USER_AGENT);
    let id = app.key.id.clone();
    let attempts = [
        base(),
        base().basic_auth(format!("{id}@api"), Some("wrong-secret")),
        base().basic_auth(&id, Some(&app.key.secret)),
        base().basic_auth(format!("{id}@web"), Some(&app.key.secret)),
        base().basic_auth(
            format!("{}@api", uuid::Uuid::new_v4()),
            Some(&app.key.secret),
        ),
        base().basic_auth("not-a-uuid@api", Some(&app.key.secret)),
        base().bearer_auth(&app.key.secret),
        base().header("Authorization", "Basic !!!not-base64"),
    ];
    for attempt in attempts {
        let res = attempt.send().await.unwrap();
        assert_eq!(
            res.headers().get("www-authenticate").unwrap(),
            "Basic realm=\"jackdb\""
        );
        let body = error_json(res, 401, "unauthorized").await;
        assert!(!body.to_string().contains(&app.key.secret));
    }
}

#[tokio::test]
async fn routing_comes_after_auth() {
    let app = spawn_app().await;
    let unauthenticated = bare(&app, Method::GET, "/no-such-thing")
        .header("User-Agent", USER_AGENT)
        .send()
        .await
        .unwrap();
    error_json(unauthenticated, 401, "unauthorized").await;
    error_json(app.get("/no-such-thing").await, 404, "route_not_found").await;
    error_json(app.get("/data-source/x/y/z").await, 404, "route_not_found").await;
    // Outside /api/v2 there are no vendor headers to check, but a caller still authenticates
    // before learning that a path does not exist.
    let outside = |authenticated: bool| {
        let req = app.client.get(format!("{}/elsewhere", app.address));
        if authenticated {
            authed(&app, req)
        } else {
            req
        }
    };
    error_json(outside(false).send().await.unwrap(), 401, "unauthorized").await;
    error_json(outside(true).send().await.unwrap(), 404, "route_not_found").await;
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let cases = [
        (Method::DELETE, "/data-source", "GET, POST"),
        (Method::POST, "/whoami", "GET"),
        (Method::POST, "/data-source/x/detail", "GET"),
    ];
    for (method, path, allow) in cases {
        let res = app.request(method, path).send().await.unwrap();
        assert_eq!(res.headers().get("allow").unwrap(), allow);
        error_json(res, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn trailing_slash_is_tolerated() {
    let app = spawn_app().await;
    ok_json(app.get("/data-source/").await).await;
    ok_json(app.get("/whoami/").await).await;
    // Repeated slashes are merged, and the query survives the rewrite.
    app.create(&[("name", "a"), ("configUri", "postgresql://u:p@h/db")])
        .await;
    app.create(&[("name", "b"), ("configUri", "postgresql://u:p@h/db")])
        .await;
    let page = ok_json(app.get("//data-source//?limit=1&offset=1").await).await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["name"], "b");
}

#[tokio::test]
async fn bodies_of_other_types_are_415_and_oversized_ones_413() {
    let app = spawn_app().await;
    for content_type in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        let res = app
            .request(Method::POST, "/data-source")
            .header("Content-Type", content_type)
            .body("name=x")
            .send()
            .await
            .unwrap();
        error_json(res, 415, "unsupported_media_type").await;
    }
    let res = app
        .request(Method::POST, "/data-source")
        .body("name=x")
        .send()
        .await
        .unwrap();
    error_json(res, 415, "unsupported_media_type").await;

    let huge = format!("name={}", "x".repeat(1024 * 1024));
    let res = app.form(Method::POST, "/data-source", &huge).await;
    error_json(res, 413, "body_too_large").await;
    // Without Content-Length (chunked), the limit still holds.
    let stream =
        futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 32 * 1024])));
    let res = app
        .request(Method::POST, "/data-source")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    error_json(res, 413, "body_too_large").await;
    assert_eq!(
        ok_json(app.get("/data-source").await).await,
        serde_json::json!([])
    );
}

#[tokio::test]
async fn malformed_bodies_get_the_json_error_contract() {
    let app = spawn_app().await;
    let res = app
        .request(Method::POST, "/data-source")
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    error_json(res, 400, "invalid_json").await;
    let res = app.form(Method::POST, "/data-source", "name=%FF%FE").await;
    error_json(res, 400, "invalid_form").await;
}
