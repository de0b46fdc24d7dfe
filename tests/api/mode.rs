//! The Mode dialect over real HTTP, with the request shapes of Mode's own page: Basic
//! `key:secret`, `Content-Type: application/json`, `Accept: application/hal+json`, no vendor
//! headers. The same data sources seen through the JackDB API.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

use crate::helpers::{error_json, ok_json, spawn_app, spawn_app_with, test_key, TestApp};

use crate::connection_test::live;

const WORKSPACE: &str = "jackal";
const HAL: &str = "application/hal+json; charset=utf-8";
const CLOSED_PORT: &str = "postgresql://postgres@127.0.0.1:1/postgres?ssl=false";

/// A request as Mode's curl examples send it, to `/api/jackal{path}`.
fn mode(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    mode_at(app, method, &format!("/api/{WORKSPACE}{path}"))
}

/// The same, to a path relative to the server (a HAL `href`).
fn mode_at(app: &TestApp, method: Method, href: &str) -> RequestBuilder {
    mode_as(app, method, href, &app.key.id, &app.key.secret)
}

/// A Mode request with other credentials.
fn mode_as(app: &TestApp, method: Method, href: &str, user: &str, secret: &str) -> RequestBuilder {
    bare(app, method, href)
        .header("Content-Type", "application/json")
        .basic_auth(user, Some(secret))
}

/// Only `Accept: application/hal+json`: no credentials, no Content-Type.
fn bare(app: &TestApp, method: Method, href: &str) -> RequestBuilder {
    app.client
        .request(method, format!("{}{href}", app.address))
        .header("Accept", "application/hal+json")
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.unwrap()
}

/// Asserts `status` with Mode's content type and returns the body.
async fn hal(res: Response, status: u16) -> Value {
    let actual = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    assert_eq!(actual, status, "body: {body}");
    assert_eq!(content_type.as_deref(), Some(HAL), "body: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Asserts a Mode error: `status`, `{"id": code, "message": "..."}`.
async fn mode_error(res: Response, status: u16, code: &str) -> Value {
    let body = hal(res, status).await;
    assert_eq!(body["id"], code, "{body}");
    assert!(
        body["message"].as_str().unwrap().len() > 10,
        "a message that says what to fix: {body}"
    );
    body
}

async fn get(app: &TestApp, path: &str) -> Value {
    hal(send(mode(app, Method::GET, path)).await, 200).await
}

async fn patch(app: &TestApp, token: &str, body: &Value) -> Response {
    send(mode(app, Method::PATCH, &format!("/data_sources/{token}")).json(body)).await
}

fn is_mode_timestamp(value: &Value) -> bool {
    let text = value.as_str().unwrap_or("");
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
        && text.len() == "2015-03-12T20:25:00.760Z".len()
        && text.ends_with('Z')
}

/// Every required field of Mode's Data Source object, with its type.
fn assert_mode_shape(ds: &Value) {
    let object = ds
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {ds}"));
    assert!(ds["id"].is_i64(), "id is an integer: {ds}");
    for field in [
        "name",
        "description",
        "token",
        "adapter",
        "created_at",
        "updated_at",
        "display_name",
        "database",
        "host",
        "port",
        "username",
        "provider",
        "vendor",
        "warehouse",
        "adapter_version",
    ] {
        assert!(ds[field].is_string(), "{field} is a string: {ds}");
    }
    for field in [
        "has_expensive_schema_updates",
        "public",
        "asleep",
        "queryable",
        "soft_deleted",
        "ssl",
        "ldap",
        "bridged",
    ] {
        assert!(ds[field].is_boolean(), "{field} is a boolean: {ds}");
    }
    assert!(ds["custom_attributes"].is_object(), "{ds}");
    assert!(is_mode_timestamp(&ds["created_at"]), "{ds}");
    assert!(is_mode_timestamp(&ds["updated_at"]), "{ds}");
    for link in ["self", "web", "web_home"] {
        assert!(
            ds["_links"][link]["href"]
                .as_str()
                .unwrap()
                .starts_with("/api/"),
            "{link}: {ds}"
        );
        assert_eq!(ds["_links"][link]["templated"], false, "{ds}");
    }
    // No password in any form, ever.
    assert!(!object.contains_key("password"), "{ds}");
}

#[tokio::test]
async fn data_sources_are_listed_and_got_as_modes_data_source_object() {
    let app = spawn_app().await;
    let pg = app
        .create(&[
            ("name", "Ledger"),
            ("alias", "ledger"),
            ("description", "The ledger of record"),
            (
                "configUri",
                "postgresql://gl:t0ps3cret@db.example.com:6543/gl?ssl=false",
            ),
        ])
        .await;
    let my = app
        .create(&[
            ("name", "Shop"),
            ("configUri", "mysql://shop@shop.example.com/store"),
        ])
        .await;
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("local.db");
    let lite = app
        .create(&[
            ("name", "Local"),
            ("configUri", &format!("sqlite://{}", path.display())),
        ])
        .await;

    let list = get(&app, "/data_sources").await;
    assert_eq!(list["_links"]["self"]["href"], "/api/jackal/data_sources");
    let items = list["_embedded"]["data_sources"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{list}");
    for item in items {
        assert_mode_shape(item);
    }
    // Oldest first, the integer ids in creation order.
    let tokens: Vec<&Value> = items.iter().map(|d| &d["token"]).collect();
    assert_eq!(tokens, [&pg["id"], &my["id"], &lite["id"]]);
    assert!(items[0]["id"].as_i64() < items[1]["id"].as_i64());

    let ledger = &items[0];
    assert_eq!(ledger["name"], "Ledger");
    assert_eq!(ledger["display_name"], "Ledger");
    assert_eq!(ledger["description"], "The ledger of record");
    assert_eq!(ledger["adapter"], "jdbc:postgresql");
    assert_eq!(ledger["vendor"], "postgresql");
    assert_eq!(ledger["host"], "db.example.com");
    assert_eq!(ledger["port"], "6543");
    assert_eq!(ledger["database"], "gl");
    assert_eq!(ledger["username"], "gl");
    assert_eq!(ledger["ssl"], false);
    assert_eq!(ledger["queryable"], false, "never tested");
    assert_eq!(ledger["account_username"], "jackal");
    assert_eq!(ledger["created_at"], pg["createdAt"]);
    assert_eq!(ledger["updated_at"], pg["updatedAt"]);
    assert!(!list.to_string().contains("t0ps3cret"), "{list}");

    let shop = &items[1];
    assert_eq!(shop["adapter"], "jdbc:mysql");
    assert_eq!(shop["port"], "3306", "the default port, as a string");
    assert_eq!(shop["ssl"], true);
    assert_eq!(shop["description"], "", "none: the empty string");
    let local = &items[2];
    assert_eq!(local["adapter"], "jdbc:sqlite");
    assert_eq!(local["database"], path.display().to_string());
    assert_eq!((&local["host"], &local["port"]), (&json!(""), &json!("")));

    // Each one by its token; every link resolves with the same credentials.
    for item in items {
        let token = item["token"].as_str().unwrap();
        let one = get(&app, &format!("/data_sources/{token}")).await;
        assert_eq!(&one, item);
        let href = one["_links"]["self"]["href"].as_str().unwrap();
        assert_eq!(href, format!("/api/jackal/data_sources/{token}"));
        for link in ["self", "web"] {
            let href = one["_links"][link]["href"].as_str().unwrap();
            assert_eq!(
                hal(send(mode_at(&app, Method::GET, href)).await, 200).await,
                one
            );
        }
        let home = one["_links"]["web_home"]["href"].as_str().unwrap();
        assert_eq!(
            hal(send(mode_at(&app, Method::GET, home)).await, 200).await,
            list
        );
    }
    let list_self = list["_links"]["self"]["href"].as_str().unwrap();
    assert_eq!(
        hal(send(mode_at(&app, Method::GET, list_self)).await, 200).await,
        list
    );
}

#[tokio::test]
async fn modes_patch_example_round_trips_and_the_password_goes_only_to_detail() {
    let app = spawn_app().await;
    let ds = app
        .create(&[
            ("name", "Ledger"),
            ("configUri", "postgresql://gl:old-secret@db.example.com/gl"),
        ])
        .await;
    let token = ds["id"].as_str().unwrap();

    // The body of the curl example on Mode's page, custom_attributes included.
    let res = patch(
        &app,
        token,
        &json!({"data_source": {
            "name": "Updated name",
            "description": "Updated description",
            "password": "db_password",
            "custom_attributes": {
                "connection_string": "needed only for bridged Oracle Autonomous Database"
            }
        }}),
    )
    .await;
    let updated = hal(res, 200).await;
    assert_mode_shape(&updated);
    assert_eq!(updated["name"], "Updated name");
    assert_eq!(updated["description"], "Updated description");
    assert!(updated["updated_at"].as_str() > ds["updatedAt"].as_str());
    assert!(!updated.to_string().contains("db_password"), "{updated}");
    assert_eq!(updated["custom_attributes"], json!({}));

    let fetched = get(&app, &format!("/data_sources/{token}")).await;
    assert_eq!(fetched, updated);
    assert!(!get(&app, "/data_sources")
        .await
        .to_string()
        .contains("db_password"));

    // The JackDB side: the new password in /detail only, the description as an extension.
    let detail = ok_json(app.get(&format!("/data-source/{token}/detail")).await).await;
    assert_eq!(
        detail["configUri"],
        "postgresql://gl:db_password@db.example.com/gl?validateSsl=false&ssl=true"
    );
    let jackdb = ok_json(app.get(&format!("/data-source/{token}")).await).await;
    assert_eq!(jackdb["name"], "Updated name");
    assert_eq!(jackdb["description"], "Updated description");
    assert!(!jackdb.to_string().contains("db_password"));

    // Mode's Python example sends the same body with POST (urllib2 with data).
    let res = send(
        mode(&app, Method::POST, &format!("/data_sources/{token}"))
            .body(r#"{"data_source": {"name": "Posted name"}}"#),
    )
    .await;
    assert_eq!(hal(res, 200).await["name"], "Posted name");

    // A null description clears it; an empty password removes the password.
    let cleared = hal(
        patch(
            &app,
            token,
            &json!({"data_source": {"description": null, "password": ""}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cleared["description"], "");
    let detail = ok_json(app.get(&format!("/data-source/{token}/detail")).await).await;
    assert_eq!(
        detail["configUri"],
        "postgresql://gl@db.example.com/gl?validateSsl=false&ssl=true"
    );
    let jackdb = ok_json(app.get(&format!("/data-source/{token}")).await).await;
    assert!(jackdb.get("description").is_none(), "{jackdb}");

    // The audit trail has the Mode changes, with no password.
    let audit = ok_json(app.get(&format!("/audit?objectId={token}")).await).await;
    let text = audit.to_string();
    assert!(text.contains("Updated description"), "{audit}");
    assert!(!text.contains("db_password"), "{audit}");
}

#[tokio::test]
async fn both_dialects_see_one_data_source() {
    let app = spawn_app().await;
    let ds = app
        .create(&[
            ("name", "Ledger"),
            ("alias", "ledger"),
            ("configUri", "postgresql://gl@db.example.com/gl"),
        ])
        .await;
    let id = ds["id"].as_str().unwrap();
    let same = |mode: &Value, jackdb: &Value| {
        assert_eq!(mode["token"], jackdb["id"]);
        assert_eq!(mode["name"], jackdb["name"]);
        assert_eq!(mode["created_at"], jackdb["createdAt"]);
        assert_eq!(mode["updated_at"], jackdb["updatedAt"]);
        assert_eq!(
            mode["description"],
            jackdb.get("description").cloned().unwrap_or(json!(""))
        );
    };

    // A JackDB update (form-encoded, description as an extension) shows through Mode.
    let jackdb = ok_json(
        app.form(
            Method::PATCH,
            "/data-source/ledger",
            "name=Ledger+%28prod%29&description=Books+of+account",
        )
        .await,
    )
    .await;
    assert_eq!(jackdb["description"], "Books of account");
    let mode_view = get(&app, &format!("/data_sources/{id}")).await;
    same(&mode_view, &jackdb);

    // A Mode update shows through JackDB, in the list and by id.
    let mode_view = hal(
        patch(
            &app,
            id,
            &json!({"data_source": {"description": "Closed books"}}),
        )
        .await,
        200,
    )
    .await;
    let jackdb = ok_json(app.get(&format!("/data-source/{id}")).await).await;
    same(&mode_view, &jackdb);
    let list = ok_json(app.get("/data-source").await).await;
    same(&mode_view, &list[0]);
    let mode_list = get(&app, "/data_sources").await;
    same(&mode_list["_embedded"]["data_sources"][0], &jackdb);

    // Deleted through JackDB: gone from Mode.
    ok_json(app.delete("/data-source/ledger").await).await;
    mode_error(
        send(mode(&app, Method::GET, &format!("/data_sources/{id}"))).await,
        404,
        "data_source_not_found",
    )
    .await;
    assert_eq!(
        get(&app, "/data_sources").await["_embedded"]["data_sources"],
        json!([])
    );
}

#[tokio::test]
async fn workspaces_credentials_and_methods_are_checked() {
    let app = spawn_app().await;
    let ds = app
        .create(&[("name", "Ledger"), ("configUri", "postgresql://gl@h/gl")])
        .await;
    let token = ds["id"].as_str().unwrap();

    let other = send(mode_at(&app, Method::GET, "/api/acme/data_sources")).await;
    let body = mode_error(other, 404, "workspace_not_found").await;
    assert!(
        body["message"].as_str().unwrap().contains("jackal"),
        "{body}"
    );
    mode_error(
        send(mode_at(
            &app,
            Method::GET,
            &format!("/api/acme/data_sources/{token}"),
        ))
        .await,
        404,
        "workspace_not_found",
    )
    .await;

    // No credentials, a wrong secret, an unknown key: 401 before anything else.
    let anonymous = send(bare(
        &app,
        Method::GET,
        &format!("/api/{WORKSPACE}/data_sources"),
    ))
    .await;
    assert!(anonymous.headers().contains_key("www-authenticate"));
    mode_error(anonymous, 401, "unauthorized").await;
    let list_path = format!("/api/{WORKSPACE}/data_sources");
    let wrong = mode_as(&app, Method::GET, &list_path, &app.key.id, "wrong");
    mode_error(send(wrong).await, 401, "unauthorized").await;
    let stranger = uuid::Uuid::new_v4().to_string();
    let unknown = mode_as(
        &app,
        Method::GET,
        "/api/acme/data_sources",
        &stranger,
        "whatever",
    );
    mode_error(send(unknown).await, 401, "unauthorized").await;
    // The JackDB form of the user is accepted too.
    let jackdb_user = format!("{}@api", app.key.id);
    let jackdb_form = mode_as(&app, Method::GET, &list_path, &jackdb_user, &app.key.secret);
    hal(send(jackdb_form).await, 200).await;
    // And the Mode form is still refused on the JackDB API.
    let on_jackdb = app
        .client
        .get(app.url("/data-source"))
        .header("User-Agent", crate::helpers::USER_AGENT)
        .basic_auth(&app.key.id, Some(&app.key.secret));
    error_json(send(on_jackdb).await, 401, "unauthorized").await;

    // Unknown token, unknown path, wrong method.
    mode_error(
        send(mode(&app, Method::GET, "/data_sources/Dnope")).await,
        404,
        "data_source_not_found",
    )
    .await;
    mode_error(
        send(mode(&app, Method::GET, "/reports")).await,
        404,
        "route_not_found",
    )
    .await;
    let delete = send(mode(
        &app,
        Method::DELETE,
        &format!("/data_sources/{token}"),
    ))
    .await;
    assert_eq!(
        delete.headers()["allow"].to_str().unwrap(),
        "GET, PATCH, PUT, POST"
    );
    mode_error(delete, 405, "method_not_allowed").await;
    let purge_get = send(mode(
        &app,
        Method::GET,
        &format!("/data_sources/{token}/purge"),
    ))
    .await;
    mode_error(purge_get, 405, "method_not_allowed").await;

    // No vendor headers needed: no User-Agent, any Accept.
    let plain = app
        .client
        .get(format!(
            "{}/api/{WORKSPACE}/data_sources/{token}",
            app.address
        ))
        .basic_auth(&app.key.id, Some(&app.key.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(hal(plain, 200).await["token"], token);
    // A trailing slash is tolerated, as on the JackDB side.
    hal(send(mode(&app, Method::GET, "/data_sources/")).await, 200).await;
}

#[tokio::test]
async fn the_workspace_is_configurable() {
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.mode.workspace = "acme-data".to_owned();
    })
    .await;
    let list = hal(
        send(mode_at(&app, Method::GET, "/api/acme-data/data_sources")).await,
        200,
    )
    .await;
    assert_eq!(
        list["_links"]["self"]["href"],
        "/api/acme-data/data_sources"
    );
    mode_error(
        send(mode(&app, Method::GET, "/data_sources")).await,
        404,
        "workspace_not_found",
    )
    .await;
}

#[tokio::test]
async fn bad_update_bodies_are_4xx_json_never_500() {
    let app = spawn_app().await;
    let ds = app
        .create(&[("name", "Ledger"), ("configUri", "postgresql://gl@h/gl")])
        .await;
    let token = ds["id"].as_str().unwrap();
    let files = tempfile::tempdir().unwrap();
    let lite = app
        .create(&[
            ("name", "Local"),
            (
                "configUri",
                &format!("sqlite://{}", files.path().join("x.db").display()),
            ),
        ])
        .await;
    let path = format!("/data_sources/{token}");
    let raw = |body: &'static str| mode(&app, Method::PATCH, &path).body(body);
    for (request, status, code) in [
        (raw("{"), 400, "invalid_json"),
        (raw("[1]"), 400, "invalid_json"),
        (raw(""), 400, "invalid_json"),
        (raw(r#"{"name": "x"}"#), 400, "missing_argument"),
        (raw(r#"{"data_source": {}}"#), 400, "missing_argument"),
        (raw(r#"{"data_source": "x"}"#), 400, "invalid_argument"),
        (
            raw(r#"{"data_source": {"name": 5}}"#),
            400,
            "invalid_argument",
        ),
        (
            raw(r#"{"data_source": {"name": null}}"#),
            400,
            "invalid_argument",
        ),
        (
            raw(r#"{"data_source": {"password": true}}"#),
            400,
            "invalid_argument",
        ),
        (
            raw(r#"{"data_source": {"name": "  "}}"#),
            400,
            "invalid_argument",
        ),
        (
            raw(r#"{"data_source": {"nmae": "x"}}"#),
            400,
            "unknown_argument",
        ),
        (
            raw(r#"{"data_source": {"name": "x"}, "x": 1}"#),
            400,
            "unknown_argument",
        ),
        (
            raw(r#"{"data_source": {"key": "x"}}"#),
            400,
            "invalid_argument",
        ),
        (
            raw(r#"{"data_source": {"name": "x", "custom_attributes": "x"}}"#),
            400,
            "invalid_argument",
        ),
        (
            bare(&app, Method::PATCH, &format!("/api/{WORKSPACE}{path}"))
                .basic_auth(&app.key.id, Some(&app.key.secret))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("name=x"),
            415,
            "unsupported_media_type",
        ),
        (
            mode(
                &app,
                Method::PATCH,
                &format!("/data_sources/{}", lite["id"].as_str().unwrap()),
            )
            .body(r#"{"data_source": {"password": "x"}}"#),
            400,
            "invalid_argument",
        ),
        (
            mode(&app, Method::PATCH, &path).body(vec![b' '; 2 * 1024 * 1024]),
            413,
            "body_too_large",
        ),
    ] {
        mode_error(send(request).await, status, code).await;
    }
    // Nothing changed.
    let after = get(&app, &path).await;
    assert_eq!(after["name"], "Ledger");
    assert_eq!(after["updated_at"], ds["updatedAt"]);
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn schema_updates_introspect_purge_forgets_and_queryable_follows() {
    live::require(&[&live::PG_MAIN]);
    let app = spawn_app().await;
    let ds = app
        .create(&[
            ("name", "Local PG"),
            ("alias", "local"),
            (
                "configUri",
                &(live::pg_admin_url("postgres") + "?ssl=false"),
            ),
        ])
        .await;
    let token = ds["id"].as_str().unwrap();
    let ds_path = format!("/data_sources/{token}");
    assert_eq!(get(&app, &ds_path).await["queryable"], false);
    mode_error(
        send(mode(
            &app,
            Method::GET,
            &format!("{ds_path}/schema_updates"),
        ))
        .await,
        404,
        "schema_not_fetched",
    )
    .await;

    // Mode's curl example: POST with no body.
    let update = hal(
        send(mode(
            &app,
            Method::POST,
            &format!("{ds_path}/schema_updates"),
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(update["state"], "succeeded", "{update}");
    assert_eq!(update["data_source_token"], token);
    assert!(update["data_source_id"].is_i64());
    for count in ["schema_count", "table_count", "view_count", "column_count"] {
        assert!(update[count].is_u64(), "{count}: {update}");
    }
    assert!(update["schema_count"].as_u64().unwrap() >= 1);
    assert!(update["server_version"]
        .as_str()
        .unwrap()
        .starts_with("PostgreSQL "));
    assert!(is_mode_timestamp(&update["created_at"]));
    assert!(is_mode_timestamp(&update["completed_at"]));
    assert_eq!(update["error_code"], Value::Null);
    // Its links resolve: itself (the latest update on record) and the data source.
    let again = hal(
        send(mode_at(
            &app,
            Method::GET,
            update["_links"]["self"]["href"].as_str().unwrap(),
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(again, update);
    let source = hal(
        send(mode_at(
            &app,
            Method::GET,
            update["_links"]["data_source"]["href"].as_str().unwrap(),
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(
        source["queryable"], true,
        "the introspection worked: {source}"
    );
    // The same snapshot on the JackDB side.
    let snapshot = ok_json(app.get("/data-source/local/schema").await).await;
    assert_eq!(snapshot["counts"]["tables"], update["table_count"]);
    assert_eq!(snapshot["fetchedAt"], update["created_at"]);

    // Purge: 202, then no snapshot and no test result on either side.
    let purged = hal(
        send(mode(&app, Method::POST, &format!("{ds_path}/purge"))).await,
        202,
    )
    .await;
    assert_eq!(
        purged["purged"],
        json!({"schema_snapshot": true, "test_result": true})
    );
    error_json(
        app.get("/data-source/local/schema").await,
        404,
        "schema_not_fetched",
    )
    .await;
    assert_eq!(get(&app, &ds_path).await["queryable"], false);
    mode_error(
        send(mode(
            &app,
            Method::GET,
            &format!("{ds_path}/schema_updates"),
        ))
        .await,
        404,
        "schema_not_fetched",
    )
    .await;
    let again = hal(
        send(mode(&app, Method::POST, &format!("{ds_path}/purge"))).await,
        202,
    )
    .await;
    assert_eq!(
        again["purged"],
        json!({"schema_snapshot": false, "test_result": false})
    );
    let audit = ok_json(app.get(&format!("/audit?objectId={token}")).await).await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "data_source.purge"),
        "{audit}"
    );

    // A JackDB /test counts too; a new configUri forgets it.
    let test = ok_json(
        app.request(Method::POST, "/data-source/local/test")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(test["success"], true, "{test}");
    assert_eq!(get(&app, &ds_path).await["queryable"], true);
    ok_json(
        app.form(
            Method::PATCH,
            "/data-source/local",
            &serde_urlencoded::to_string([("configUri", CLOSED_PORT)]).unwrap(),
        )
        .await,
    )
    .await;
    assert_eq!(
        get(&app, &ds_path).await["queryable"],
        false,
        "never tested there"
    );

    // A failed schema update is a result: 200, state failed, and the data source is not
    // queryable.
    let failed = hal(
        send(mode(
            &app,
            Method::POST,
            &format!("{ds_path}/schema_updates"),
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error_code"], "refused");
    assert!(failed["error_message"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1:1"));
    assert_eq!(failed["table_count"], Value::Null);
    assert_eq!(get(&app, &ds_path).await["queryable"], false);
    // A test on record now (a failed one): purge reports it.
    let purged = hal(
        send(mode(&app, Method::POST, &format!("{ds_path}/purge"))).await,
        202,
    )
    .await;
    assert_eq!(purged["purged"]["test_result"], true);

    mode_error(
        send(mode(
            &app,
            Method::POST,
            "/data_sources/Dnope/schema_updates",
        ))
        .await,
        404,
        "data_source_not_found",
    )
    .await;
    mode_error(
        send(mode(&app, Method::POST, "/data_sources/Dnope/purge")).await,
        404,
        "data_source_not_found",
    )
    .await;
}
