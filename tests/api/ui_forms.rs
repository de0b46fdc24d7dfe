//! The console's forms over real HTTP: the data-source saves (`POST /ui/data-source`,
//! `POST /ui/data-source/{id}`, `POST /ui/data-source/{id}/delete`), the unsaved test, and
//! the role and permission buttons. Each needs the session's CSRF token, and each answers and
//! records what the API's own endpoint does, as the signed-in key, except that a save never
//! answers the password. The forms in a real browser are in `ui_browser.rs`.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{error_json, ok_json, spawn_app, TestApp};
use crate::ui::{assert_no_inline_code, Browser};

const PASSWORD: &str = "F0rm-Saved-Pw";

/// A JSON request as the form's script sends it: same origin, with `csrf` unless `None`.
async fn send(
    browser: &Browser,
    method: Method,
    path: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut request = browser
        .request(method, path)
        .header("Origin", browser.base.clone())
        .header("Sec-Fetch-Site", "same-origin");
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn signed_in(app: &TestApp) -> (Browser, String) {
    let mut browser = Browser::of(&app.address);
    browser.sign_in(&app.key).await;
    let csrf = browser.csrf().await;
    (browser, csrf)
}

/// The audit trail, oldest first.
async fn trail(app: &TestApp) -> Vec<Value> {
    ok_json(app.get("/audit?limit=500").await)
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// An audit event without what differs between two equal changes of two objects.
fn shape(event: &Value) -> Value {
    let mut event = event.clone();
    for volatile in ["id", "at", "objectId"] {
        event.as_object_mut().unwrap().remove(volatile);
    }
    event
}

/// The event of `action` on `object`.
fn event<'a>(events: &'a [Value], action: &str, object: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["action"] == action && e["objectId"] == object)
        .unwrap_or_else(|| panic!("no {action} of {object} in {events:?}"))
}

#[tokio::test]
async fn the_three_saves_need_the_token_and_do_what_the_api_does_without_answering_the_password() {
    let app = spawn_app().await;
    let (browser, csrf) = signed_in(&app).await;
    let uri = |host: &str| format!("postgresql://app:{PASSWORD}@{host}:5432/ledger");
    let existing = app
        .create(&[
            ("name", "Made by curl"),
            ("configUri", &uri("a.example.com")),
        ])
        .await;
    let existing = existing["id"].as_str().unwrap().to_owned();

    // Without the token, or with another, each save is refused and changes nothing.
    let create = json!({"name": "Ledger", "alias": "ledger", "configUri": uri("b.example.com")});
    let rename = json!({"name": "Renamed"});
    for token in [None, Some("not-the-token")] {
        for (path, body) in [
            ("/ui/data-source".to_owned(), Some(create.clone())),
            (format!("/ui/data-source/{existing}"), Some(rename.clone())),
            (format!("/ui/data-source/{existing}/delete"), None),
        ] {
            let res = send(&browser, Method::POST, &path, token, body).await;
            error_json(res, 403, "csrf_rejected").await;
        }
    }
    let list = ok_json(app.get("/data-source").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "Made by curl");

    // Create: the API's answer but for the password, which the API keeps.
    let made = ok_json(
        send(
            &browser,
            Method::POST,
            "/ui/data-source",
            Some(&csrf),
            Some(create),
        )
        .await,
    )
    .await;
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["name"], "Ledger");
    assert_eq!(
        made["configUri"],
        "postgresql://app@b.example.com:5432/ledger?validateSsl=false&ssl=true"
    );
    assert!(!made.to_string().contains(PASSWORD), "{made}");
    let detail = ok_json(app.get(&format!("/data-source/{id}/detail")).await).await;
    assert!(
        detail["configUri"].as_str().unwrap().contains(PASSWORD),
        "{detail}"
    );

    // The same body through the API, for its audit record.
    let body = serde_urlencoded::to_string([
        ("name", "Ledger"),
        ("alias", "ledger-api"),
        ("configUri", &uri("b.example.com")),
    ])
    .unwrap();
    let by_api = ok_json(app.form(Method::POST, "/data-source", &body).await).await;
    let by_api = by_api["id"].as_str().unwrap().to_owned();

    // The API's validation and messages, word for word.
    for body in [
        json!({"name": "X", "configUri": "postgresql://h/db?bogus=1"}),
        json!({"configUri": "postgresql://h/db"}),
        json!({"name": "X", "configUri": "postgresql://h/db", "colour": "red"}),
        json!({"name": "X", "alias": "ledger", "configUri": "postgresql://h/db"}),
    ] {
        let api = app.json(Method::POST, "/data-source", &body).await;
        let (status, api) = (api.status().as_u16(), api.json::<Value>().await.unwrap());
        let ui = send(
            &browser,
            Method::POST,
            "/ui/data-source",
            Some(&csrf),
            Some(body.clone()),
        )
        .await;
        let code = api["error"]["code"].as_str().unwrap().to_owned();
        let ui = error_json(ui, status, &code).await;
        assert_eq!(ui, api, "{body}");
    }

    // Update: only the name; the password stays and is not answered.
    let path = format!("/ui/data-source/{id}");
    let renamed = ok_json(
        send(
            &browser,
            Method::POST,
            &path,
            Some(&csrf),
            Some(json!({"name": "Ledger (prod)"})),
        )
        .await,
    )
    .await;
    assert_eq!(renamed["name"], "Ledger (prod)");
    assert!(!renamed.to_string().contains(PASSWORD), "{renamed}");
    let detail = ok_json(app.get(&format!("/data-source/{id}/detail")).await).await;
    assert!(
        detail["configUri"].as_str().unwrap().contains(PASSWORD),
        "{detail}"
    );
    ok_json(
        app.form(
            Method::PATCH,
            &format!("/data-source/{by_api}"),
            "name=Ledger+%28prod%29",
        )
        .await,
    )
    .await;
    let nothing = send(&browser, Method::POST, &path, Some(&csrf), Some(json!({}))).await;
    let nothing = error_json(nothing, 400, "missing_argument").await;
    assert!(nothing["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("nothing to update"));

    // A test of what the form holds, unsaved: the API's result (the egress policy denies
    // link-local, so nothing is dialled).
    let tested = send(
        &browser,
        Method::POST,
        "/ui/connection-test",
        Some(&csrf),
        Some(json!({"configUri": "mysql://u@169.254.1.1/db"})),
    )
    .await;
    let tested = ok_json(tested).await;
    assert_eq!(tested["success"], false, "{tested}");
    assert!(tested["errorCode"].is_string(), "{tested}");

    // Delete, then the API's 404.
    let gone = ok_json(
        send(
            &browser,
            Method::POST,
            &format!("/ui/data-source/{id}/delete"),
            Some(&csrf),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(gone, json!({}));
    error_json(
        app.get(&format!("/data-source/{id}")).await,
        404,
        "data_source_not_found",
    )
    .await;
    ok_json(app.delete(&format!("/data-source/{by_api}")).await).await;

    // The same records as the API's, as the signed-in key.
    let events = trail(&app).await;
    for action in [
        "data_source.create",
        "data_source.update",
        "data_source.delete",
    ] {
        let from_form = event(&events, action, &id);
        let from_api = event(&events, action, &by_api);
        assert_eq!(from_form["apiKeyId"], app.key.id.as_str(), "{from_form}");
        let mut form_shape = shape(from_form);
        let mut api_shape = shape(from_api);
        if action != "data_source.update" {
            // The one argument that differed (create and delete record the alias).
            assert_eq!(form_shape["changes"]["alias"], "ledger", "{form_shape}");
            form_shape["changes"]["alias"] = Value::Null;
            api_shape["changes"]["alias"] = Value::Null;
        }
        assert_eq!(form_shape, api_shape, "{action}");
    }
    assert!(events
        .iter()
        .any(|e| e["action"] == "connection.test" && e["apiKeyId"] == app.key.id.as_str()));
    assert!(!serde_json::to_string(&events).unwrap().contains(PASSWORD));
}

#[tokio::test]
async fn the_console_pages_show_a_stored_secret_as_stored_and_grant_and_revoke_as_the_api() {
    let app = spawn_app().await;
    let (browser, csrf) = signed_in(&app).await;
    let ds = app
        .create(&[
            ("name", "Payroll"),
            (
                "configUri",
                &format!("postgresql://pay:{PASSWORD}@127.0.0.1:1/pay"),
            ),
        ])
        .await;
    let id = ds["id"].as_str().unwrap().to_owned();
    ok_json(
        app.form(
            Method::POST,
            "/person",
            "name=Ann+Lee&email=ann@example.com&username=ann",
        )
        .await,
    )
    .await;
    let role = ok_json(app.form(Method::POST, "/role", "name=Finance").await).await;
    let role = role["id"].as_str().unwrap().to_owned();

    // The forms: the new one empty, the edit one with the stored URI (no password) and a mark
    // that a password is stored; every console page without its secret or inline code.
    let new = browser.page("/ui/data-source/new").await;
    assert!(
        new.contains("id=\"ds-form\"") && !new.contains("data-config-uri"),
        "{new}"
    );
    let edit = browser.page(&format!("/ui/data-source/{id}/edit")).await;
    assert!(
        edit.contains(
            "data-config-uri=\"postgresql://pay@127.0.0.1:1/pay?validateSsl=false&#38;ssl=true\""
        ),
        "{edit}"
    );
    assert!(
        edit.contains("data-stored-password") && edit.contains("A password is stored"),
        "{edit}"
    );
    for path in [
        "/ui/data-source/new".to_owned(),
        format!("/ui/data-source/{id}/edit"),
        format!("/ui/data-source/{id}/access"),
        format!("/ui/data-source/{id}"),
        "/ui/people".to_owned(),
        "/ui/roles".to_owned(),
        "/ui/permissions".to_owned(),
        "/ui/assets/form.js".to_owned(),
    ] {
        let res = browser.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains(PASSWORD), "{path}");
        assert_no_inline_code(&body);
    }
    let people = browser.page("/ui/people").await;
    assert!(people.contains("ann@example.com"), "{people}");

    // Add to a role, grant, revoke: each refused without the token, then the API's own change.
    let member = format!("/ui/role/{role}/data-source/{id}");
    error_json(
        send(&browser, Method::PUT, &member, None, None).await,
        403,
        "csrf_rejected",
    )
    .await;
    ok_json(send(&browser, Method::PUT, &member, Some(&csrf), None).await).await;
    let in_role = ok_json(app.get(&format!("/role/{role}/data-source")).await).await;
    assert_eq!(in_role[0]["id"], id.as_str(), "{in_role}");
    let access = browser.page(&format!("/ui/data-source/{id}/access")).await;
    assert!(
        access.contains(&format!("data-url=\"{member}\"")),
        "a Remove button: {access}"
    );
    let roles = browser.page("/ui/roles").await;
    assert!(
        roles.contains("Finance") && roles.contains("Payroll"),
        "{roles}"
    );

    let grant = format!("/ui/data-source/{id}/permission/person/ann");
    let bad = send(
        &browser,
        Method::POST,
        &grant,
        Some(&csrf),
        Some(json!({"duration": "0"})),
    )
    .await;
    let api_bad = app
        .form(
            Method::POST,
            &format!("/data-source/{id}/permission/person/ann"),
            "duration=0",
        )
        .await;
    assert_eq!(
        error_json(bad, 400, "invalid_argument").await,
        error_json(api_bad, 400, "invalid_argument").await
    );
    let granted = ok_json(
        send(
            &browser,
            Method::POST,
            &grant,
            Some(&csrf),
            Some(json!({"duration": 28800})),
        )
        .await,
    )
    .await;
    let permission = granted["id"].as_str().unwrap().to_owned();
    let listed = ok_json(app.get("/permission").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let page = browser.page("/ui/permissions").await;
    assert!(
        page.contains("Ann Lee (ann)") && page.contains(&format!("/ui/permission/{permission}")),
        "{page}"
    );

    let revoke = format!("/ui/permission/{permission}");
    error_json(
        send(&browser, Method::DELETE, &revoke, None, None).await,
        403,
        "csrf_rejected",
    )
    .await;
    ok_json(send(&browser, Method::DELETE, &revoke, Some(&csrf), None).await).await;
    error_json(
        app.get(&format!("/permission/{permission}")).await,
        404,
        "permission_not_found",
    )
    .await;
    ok_json(send(&browser, Method::DELETE, &member, Some(&csrf), None).await).await;
    let in_role = ok_json(app.get(&format!("/role/{role}/data-source")).await).await;
    assert_eq!(in_role, json!([]));

    let events = trail(&app).await;
    for action in [
        "role.add_data_source",
        "permission.grant",
        "permission.revoke",
        "role.remove_data_source",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["action"] == action && e["apiKeyId"] == app.key.id.as_str()),
            "{action} in {events:?}"
        );
    }
}
