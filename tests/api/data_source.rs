//! Every data-source endpoint, with the vendor page's examples.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_json, ok_json, spawn_app};

const VENDOR_URI: &str = "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db";
const VENDOR_NORMALIZED: &str =
    "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db?validateSsl=false&ssl=true";
const VENDOR_REDACTED: &str =
    "postgresql://someuser@somedb.example.com:5432/some-db?validateSsl=false&ssl=true";

fn is_timestamp(value: &Value) -> bool {
    let text = value.as_str().unwrap_or("");
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
        && text.len() == "2015-03-12T20:25:00.760Z".len()
        && text.ends_with('Z')
}

fn assert_shape(ds: &Value) {
    let keys: Vec<&str> = ds.as_object().unwrap().keys().map(String::as_str).collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "alias",
            "configUri",
            "createdAt",
            "id",
            "name",
            "type",
            "updatedAt"
        ]
    );
    let id = ds["id"].as_str().unwrap();
    assert!(id.starts_with('D') && id.len() == 17, "{id}");
    assert!(id[1..].chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    assert!(is_timestamp(&ds["createdAt"]), "{ds}");
    assert!(is_timestamp(&ds["updatedAt"]), "{ds}");
}

#[tokio::test]
async fn vendor_create_example_sent_as_curl_does_normalizes_byte_for_byte() {
    let app = spawn_app().await;
    // The vendor's curl line with its quoting fixed: curl -d sends the text as it stands.
    let body = format!("name=SomeDB&alias=some-db&configUri={VENDOR_URI}");
    let created = ok_json(app.form(Method::POST, "/data-source", &body).await).await;
    assert_shape(&created);
    assert_eq!(created["name"], "SomeDB");
    assert_eq!(created["alias"], "some-db");
    assert_eq!(created["type"], "postgresql");
    assert_eq!(created["configUri"], VENDOR_NORMALIZED);
    assert_eq!(created["createdAt"], created["updatedAt"]);
}

#[tokio::test]
async fn list_and_retrieve_remove_the_password_and_detail_keeps_it() {
    let app = spawn_app().await;
    let created = app
        .create(&[
            ("name", "SomeDB"),
            ("alias", "some-db"),
            ("configUri", VENDOR_URI),
        ])
        .await;
    let id = created["id"].as_str().unwrap();

    let list = ok_json(app.get("/data-source").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["configUri"], VENDOR_REDACTED);
    assert_eq!(list[0]["id"], id);

    for key in [id, "some-db"] {
        let one = ok_json(app.get(&format!("/data-source/{key}")).await).await;
        assert_shape(&one);
        assert_eq!(one["configUri"], VENDOR_REDACTED);
        let detail = ok_json(app.get(&format!("/data-source/{key}/detail")).await).await;
        assert_eq!(detail["configUri"], VENDOR_NORMALIZED);
        assert_eq!(detail["createdAt"], created["createdAt"]);
    }
}

#[tokio::test]
async fn vendor_update_example_works_with_post_put_and_patch() {
    let app = spawn_app().await;
    let created = app
        .create(&[("name", "Old"), ("configUri", "mysql://u:pw@h/db")])
        .await;
    let id = created["id"].as_str().unwrap();
    let mut last_updated = created["updatedAt"].as_str().unwrap().to_owned();
    for (i, method) in [Method::POST, Method::PUT, Method::PATCH]
        .into_iter()
        .enumerate()
    {
        let name = format!("SomeDB{i}");
        let body = format!("name={name}&alias=some-db&configUri={VENDOR_URI}");
        let updated = ok_json(
            app.form(method.clone(), &format!("/data-source/{id}"), &body)
                .await,
        )
        .await;
        assert_shape(&updated);
        assert_eq!(updated["id"], id);
        assert_eq!(updated["name"], name.as_str());
        assert_eq!(updated["type"], "postgresql");
        assert_eq!(updated["configUri"], VENDOR_NORMALIZED, "{method}");
        assert_eq!(updated["createdAt"], created["createdAt"]);
        let now = updated["updatedAt"].as_str().unwrap().to_owned();
        assert!(
            now > last_updated,
            "updatedAt moves: {now} after {last_updated}"
        );
        last_updated = now;
    }
    let stored = ok_json(app.get(&format!("/data-source/{id}")).await).await;
    assert_eq!(stored["name"], "SomeDB2");
    assert_eq!(stored["updatedAt"], last_updated.as_str());
}

#[tokio::test]
async fn partial_update_changes_only_what_was_sent() {
    let app = spawn_app().await;
    let created = app
        .create(&[("name", "A"), ("alias", "a"), ("configUri", VENDOR_URI)])
        .await;
    let id = created["id"].as_str().unwrap();
    let updated = ok_json(
        app.form(Method::PATCH, &format!("/data-source/{id}"), "name=B")
            .await,
    )
    .await;
    assert_eq!(updated["name"], "B");
    assert_eq!(updated["alias"], "a");
    assert_eq!(updated["configUri"], VENDOR_NORMALIZED, "password included");
    // An empty alias clears it, and JSON null does too.
    let cleared = ok_json(
        app.form(Method::PATCH, &format!("/data-source/{id}"), "alias=")
            .await,
    )
    .await;
    assert_eq!(cleared["alias"], Value::Null);
    ok_json(
        app.json(
            Method::PATCH,
            &format!("/data-source/{id}"),
            &json!({"alias": "b"}),
        )
        .await,
    )
    .await;
    let nulled = ok_json(
        app.json(
            Method::PATCH,
            &format!("/data-source/{id}"),
            &json!({"alias": null}),
        )
        .await,
    )
    .await;
    assert_eq!(nulled["alias"], Value::Null);
}

async fn detail_uri(app: &crate::helpers::TestApp, id: &str) -> String {
    ok_json(app.get(&format!("/data-source/{id}/detail")).await).await["configUri"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn stored_password_is_kept_only_for_the_same_type_host_port_and_user() {
    let app = spawn_app().await;
    let cases = [
        // (new configUri without password, password kept?)
        (
            "postgresql://someuser@somedb.example.com:5432/some-db",
            true,
        ),
        (
            "postgres://someuser@somedb.example.com:5432/other-db?ssl=false",
            true,
        ),
        (
            "postgresql://someuser@SOMEDB.example.com:5432/some-db",
            true,
        ),
        ("postgresql://someuser@somedb.example.com/some-db", true),
        ("postgresql://someuser@evil.example.com:5432/some-db", false),
        (
            "postgresql://someuser@somedb.example.com:5433/some-db",
            false,
        ),
        (
            "postgresql://otheruser@somedb.example.com:5432/some-db",
            false,
        ),
        ("mysql://someuser@somedb.example.com:5432/some-db", false),
    ];
    for (uri, kept) in cases {
        let created = app
            .create(&[("name", "x"), ("configUri", VENDOR_URI)])
            .await;
        let id = created["id"].as_str().unwrap();
        let body = serde_urlencoded::to_string([("configUri", uri)]).unwrap();
        let updated = ok_json(
            app.form(Method::POST, &format!("/data-source/{id}"), &body)
                .await,
        )
        .await;
        let detail = detail_uri(&app, id).await;
        assert_eq!(updated["configUri"].as_str().unwrap(), detail);
        assert_eq!(detail.contains(":t0ps3cret@"), kept, "{uri} -> {detail}");
    }
}

#[tokio::test]
async fn a_new_password_replaces_the_stored_one() {
    let app = spawn_app().await;
    let created = app
        .create(&[("name", "x"), ("configUri", VENDOR_URI)])
        .await;
    let id = created["id"].as_str().unwrap();
    let body = serde_urlencoded::to_string([(
        "configUri",
        "postgresql://someuser:n%40w-pass@somedb.example.com:5432/some-db",
    )])
    .unwrap();
    ok_json(
        app.form(Method::PUT, &format!("/data-source/{id}"), &body)
            .await,
    )
    .await;
    assert!(detail_uri(&app, id).await.contains(":n%40w-pass@"));
}

#[tokio::test]
async fn json_bodies_work_like_forms() {
    let app = spawn_app().await;
    let created = ok_json(
        app.json(
            Method::POST,
            "/data-source",
            &json!({"name": "SomeDB", "alias": "some-db", "configUri": VENDOR_URI}),
        )
        .await,
    )
    .await;
    assert_eq!(created["configUri"], VENDOR_NORMALIZED);
    let updated = ok_json(
        app.json(
            Method::PATCH,
            "/data-source/some-db",
            &json!({"name": "Renamed"}),
        )
        .await,
    )
    .await;
    assert_eq!(updated["name"], "Renamed");
}

#[tokio::test]
async fn delete_answers_an_empty_object_then_the_data_source_is_gone() {
    let app = spawn_app().await;
    let a = app
        .create(&[("name", "a"), ("alias", "aa"), ("configUri", VENDOR_URI)])
        .await;
    app.create(&[("name", "b"), ("configUri", "sqlite:///var/db/b.db")])
        .await;
    let res = app.delete("/data-source/aa").await;
    assert_eq!(ok_json(res).await, json!({}));
    let id = a["id"].as_str().unwrap();
    error_json(
        app.get(&format!("/data-source/{id}")).await,
        404,
        "data_source_not_found",
    )
    .await;
    error_json(
        app.delete(&format!("/data-source/{id}")).await,
        404,
        "data_source_not_found",
    )
    .await;
    let list = ok_json(app.get("/data-source").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "b");
    assert_eq!(list[0]["type"], "sqlite");
    assert_eq!(list[0]["alias"], Value::Null);
}

#[tokio::test]
async fn list_is_oldest_first() {
    let app = spawn_app().await;
    for name in ["first", "second", "third"] {
        app.create(&[
            ("name", name),
            ("configUri", "mariadb://root@127.0.0.1/test"),
        ])
        .await;
    }
    let list = ok_json(app.get("/data-source").await).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "second", "third"]);
    assert_eq!(list[0]["type"], "mysql");
    assert_eq!(
        list[0]["configUri"],
        "mysql://root@127.0.0.1/test?validateSsl=false&ssl=true"
    );
}

#[tokio::test]
async fn alias_clash_is_409_on_create_and_update() {
    let app = spawn_app().await;
    app.create(&[
        ("name", "a"),
        ("alias", "shared"),
        ("configUri", VENDOR_URI),
    ])
    .await;
    let b = app
        .create(&[("name", "b"), ("alias", "other"), ("configUri", VENDOR_URI)])
        .await;
    let body = format!("name=c&alias=shared&configUri={VENDOR_URI}");
    error_json(
        app.form(Method::POST, "/data-source", &body).await,
        409,
        "alias_taken",
    )
    .await;
    let path = format!("/data-source/{}", b["id"].as_str().unwrap());
    error_json(
        app.form(Method::PATCH, &path, "alias=shared").await,
        409,
        "alias_taken",
    )
    .await;
    // Re-sending its own alias is not a clash.
    ok_json(app.form(Method::PATCH, &path, "alias=other").await).await;
    assert_eq!(
        ok_json(app.get("/data-source").await)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn concurrent_creates_with_one_alias_give_exactly_one_success() {
    let app = spawn_app().await;
    let body = format!("name=race&alias=race&configUri={VENDOR_URI}");
    let attempts = (0..16).map(|_| app.form(Method::POST, "/data-source", &body));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(
        ok_json(app.get("/data-source").await)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn whoami_names_the_calling_key() {
    let app = spawn_app().await;
    let me = ok_json(app.get("/whoami").await).await;
    assert_eq!(
        me,
        json!({"id": app.key.id, "name": "from JACKDB_API_KEY_ID", "type": "token"})
    );
}

/// `?limit=&offset=` (the contract's list extension) slice the list, oldest first; without them
/// the list is whole; bad values are 400s that name the parameter.
#[tokio::test]
async fn lists_take_limit_and_offset() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create(&[
            ("name", &format!("ds{i}")),
            ("configUri", "postgresql://u:p@h/db"),
        ])
        .await;
    }
    let names = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = names(ok_json(app.get("/data-source").await).await);
    assert_eq!(all, ["ds0", "ds1", "ds2", "ds3", "ds4"]);
    let cases: [(&str, &[&str]); 5] = [
        ("?limit=2", &["ds0", "ds1"]),
        ("?limit=2&offset=2", &["ds2", "ds3"]),
        ("?offset=4", &["ds4"]),
        ("?offset=9", &[]),
        ("?limit=0", &[]),
    ];
    for (query, expected) in cases {
        let got = names(ok_json(app.get(&format!("/data-source{query}")).await).await);
        assert_eq!(got, expected, "{query}");
    }
    for list in ["/person", "/role", "/permission"] {
        ok_json(app.get(&format!("{list}?limit=1&offset=0")).await).await;
    }
    for (query, name) in [
        ("?limit=-1", "limit"),
        ("?offset=x", "offset"),
        ("?limit=", "limit"),
    ] {
        let body = error_json(
            app.get(&format!("/data-source{query}")).await,
            400,
            "invalid_argument",
        )
        .await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{name} must be a whole number")),
            "{message}"
        );
    }
}
