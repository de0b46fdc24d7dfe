//! Every person endpoint: create, list, retrieve by id / username / email, uniqueness, lock and
//! unlock, the "lock first" rule for deletion, two-factor reset, and a table of bad inputs.
//!
//! The small helpers at the top are shared with `role.rs`, `permission.rs` and `story.rs`.

use jackal::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_json, ok_json, spawn_app, spawn_app_with_clock, TestApp};

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// 2030-01-01T00:00:00.000Z, a round "now" for tests that move the clock.
pub(crate) const T0: i64 = 1_893_456_000_000;
pub(crate) const SECOND: i64 = 1_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;
pub(crate) const HOUR: i64 = 60 * MINUTE;

/// The password every test data source carries; no list of data sources may show it.
pub(crate) const DS_PASSWORD: &str = "s3cr3t-pw";

/// Milliseconds since the epoch in the contract's `YYYY-MM-DDTHH:MM:SS.mmmZ` form.
pub(crate) fn ts(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

pub(crate) fn id(object: &Value) -> String {
    object["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no string id in {object}"))
        .to_owned()
}

pub(crate) fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(id)
        .collect()
}

/// GETs a list and returns the ids in it, in order.
pub(crate) async fn list_ids(app: &TestApp, path: &str) -> Vec<String> {
    ids(&ok_json(app.get(path).await).await)
}

pub(crate) fn sorted_keys(object: &Value) -> Vec<String> {
    let mut keys: Vec<String> = object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .cloned()
        .collect();
    keys.sort_unstable();
    keys
}

pub(crate) fn has_id_shape(value: &str, prefix: char) -> bool {
    value.len() == 17
        && value.starts_with(prefix)
        && value[1..].chars().all(|c| c.is_ascii_alphanumeric())
}

pub(crate) fn assert_person_shape(person: &Value) {
    assert_eq!(
        sorted_keys(person),
        ["createdAt", "email", "id", "isLocked", "name", "username"],
        "{person}"
    );
    assert!(has_id_shape(&id(person), 'P'), "{person}");
    assert!(person["isLocked"].is_boolean(), "{person}");
}

/// Creates a data source named and aliased `alias`, with a password, and returns its JSON.
pub(crate) async fn add_ds(app: &TestApp, alias: &str) -> Value {
    let uri = format!("postgresql://gl:{DS_PASSWORD}@{alias}.example.com:5432/gl");
    app.create(&[("name", alias), ("alias", alias), ("configUri", &uri)])
        .await
}

/// The `configUri` of a data source made by `add_ds`, password removed.
pub(crate) fn redacted_uri(alias: &str) -> String {
    format!("postgresql://gl@{alias}.example.com:5432/gl?validateSsl=false&ssl=true")
}

/// Creates a person with username `username`, email `<username>@example.com`.
pub(crate) async fn add_person(app: &TestApp, username: &str) -> Value {
    let email = format!("{username}@example.com");
    let name = format!("Person {username}");
    let body = serde_urlencoded::to_string([
        ("name", name.as_str()),
        ("email", email.as_str()),
        ("username", username),
    ])
    .unwrap();
    ok_json(app.form(Method::POST, "/person", &body).await).await
}

pub(crate) async fn add_role(app: &TestApp, name: &str) -> Value {
    let body = serde_urlencoded::to_string([("name", name)]).unwrap();
    ok_json(app.form(Method::POST, "/role", &body).await).await
}

/// A PUT without a body, as `curl -X PUT` sends it; asserts the answer is `{}`.
pub(crate) async fn put_ok(app: &TestApp, path: &str) {
    let res = app.request(Method::PUT, path).send().await.unwrap();
    assert_eq!(ok_json(res).await, json!({}), "PUT {path}");
}

/// A DELETE; asserts the answer is `{}`.
pub(crate) async fn delete_ok(app: &TestApp, path: &str) {
    assert_eq!(
        ok_json(app.delete(path).await).await,
        json!({}),
        "DELETE {path}"
    );
}

/// A DELETE of many; asserts the answer is `{"count": count}`.
pub(crate) async fn delete_count(app: &TestApp, path: &str, count: u64) {
    assert_eq!(
        ok_json(app.delete(path).await).await,
        json!({ "count": count }),
        "DELETE {path}"
    );
}

pub(crate) async fn lock(app: &TestApp, person: &str) -> Value {
    let res = app
        .request(Method::POST, &format!("/person/{person}/lock"))
        .send()
        .await
        .unwrap();
    ok_json(res).await
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_answers_the_new_unlocked_person_with_trimmed_fields() {
    let clock = ManualClock::new(T0 + 123);
    let app = spawn_app_with_clock(clock.clone()).await;
    let body = serde_urlencoded::to_string([
        ("name", "  Ann Example "),
        ("email", " Ann@X.io  "),
        ("username", "\tann "),
    ])
    .unwrap();
    let created = ok_json(app.form(Method::POST, "/person", &body).await).await;
    assert_person_shape(&created);
    assert_eq!(created["name"], "Ann Example");
    assert_eq!(created["email"], "Ann@X.io", "stored as given, trimmed");
    assert_eq!(created["username"], "ann");
    assert_eq!(created["isLocked"], false);
    assert_eq!(created["createdAt"], ts(T0 + 123));

    let pid = id(&created);
    let fetched = ok_json(app.get(&format!("/person/{pid}")).await).await;
    assert_eq!(fetched, created);
    assert_eq!(ok_json(app.get("/person").await).await, json!([created]));
}

#[tokio::test]
async fn json_bodies_create_people_like_forms() {
    let app = spawn_app().await;
    let created = ok_json(
        app.json(
            Method::POST,
            "/person",
            &json!({"name": "Bob", "email": "bob@example.com", "username": "bob"}),
        )
        .await,
    )
    .await;
    assert_person_shape(&created);
    assert_eq!(created["name"], "Bob");
    assert_eq!(created["email"], "bob@example.com");
    assert_eq!(created["username"], "bob");
    assert_eq!(created["isLocked"], false);
}

#[tokio::test]
async fn list_is_oldest_first_and_a_person_is_named_by_id_username_or_email() {
    let app = spawn_app().await;
    let mut people = Vec::new();
    for username in ["carol", "alice", "bob"] {
        people.push(add_person(&app, username).await);
    }
    let list = ok_json(app.get("/person").await).await;
    assert_eq!(list, Value::Array(people.clone()), "oldest first");

    for person in &people {
        let username = person["username"].as_str().unwrap();
        let email = person["email"].as_str().unwrap();
        for key in [
            id(person),
            username.to_owned(),
            email.to_owned(),
            email.to_uppercase(),
        ] {
            let fetched = ok_json(app.get(&format!("/person/{key}")).await).await;
            assert_eq!(&fetched, person, "GET /person/{key}");
        }
    }
    error_json(app.get("/person/nobody").await, 404, "person_not_found").await;
    error_json(
        app.get("/person/nobody@example.com").await,
        404,
        "person_not_found",
    )
    .await;
    error_json(
        app.get("/person/P0cKFCMIHoNaBFt7Y").await,
        404,
        "person_not_found",
    )
    .await;
}

#[tokio::test]
async fn usernames_and_emails_are_unique_emails_case_insensitively() {
    let app = spawn_app().await;
    let ann = ok_json(
        app.form(
            Method::POST,
            "/person",
            "name=Ann&email=ann@x.io&username=ann",
        )
        .await,
    )
    .await;

    let clash = error_json(
        app.form(
            Method::POST,
            "/person",
            "name=Other&email=other@x.io&username=ann",
        )
        .await,
        409,
        "username_taken",
    )
    .await;
    assert!(
        clash["error"]["message"].as_str().unwrap().contains("ann"),
        "{clash}"
    );
    // Trimming happens before the uniqueness check.
    error_json(
        app.form(
            Method::POST,
            "/person",
            "name=Other&email=other@x.io&username=%20ann%20",
        )
        .await,
        409,
        "username_taken",
    )
    .await;
    for email in ["ann@x.io", "Ann@X.io", "ANN@X.IO", "%20ann@x.io%20"] {
        let body = format!("name=Other&email={email}&username=other");
        error_json(
            app.form(Method::POST, "/person", &body).await,
            409,
            "email_taken",
        )
        .await;
    }
    error_json(
        app.json(
            Method::POST,
            "/person",
            &json!({"name": "Other", "email": "aNN@x.IO", "username": "other"}),
        )
        .await,
        409,
        "email_taken",
    )
    .await;
    assert_eq!(ok_json(app.get("/person").await).await, json!([ann]));

    // A different username and email are fine, and the same name is not a clash.
    let other = ok_json(
        app.form(
            Method::POST,
            "/person",
            "name=Ann&email=ann2@x.io&username=ann2",
        )
        .await,
    )
    .await;
    assert_eq!(list_ids(&app, "/person").await, [id(&ann), id(&other)]);
}

#[tokio::test]
async fn lock_and_unlock_are_idempotent_with_both_verbs() {
    let app = spawn_app().await;
    let ann = add_person(&app, "ann").await;
    let pid = id(&ann);
    let mut locked = ann.clone();
    locked["isLocked"] = json!(true);

    let steps = [
        (Method::POST, format!("/person/{pid}/lock"), true),
        (Method::POST, "/person/ann/lock".to_owned(), true),
        (Method::PUT, "/person/ann@example.com/lock".to_owned(), true),
        (Method::POST, format!("/person/{pid}/unlock"), false),
        (Method::POST, "/person/ann/unlock".to_owned(), false),
        (Method::PUT, format!("/person/{pid}/lock"), true),
        (
            Method::DELETE,
            "/person/ANN@example.com/lock".to_owned(),
            false,
        ),
        (Method::DELETE, format!("/person/{pid}/lock"), false),
    ];
    for (method, path, is_locked) in steps {
        let res = app.request(method.clone(), &path).send().await.unwrap();
        let answer = ok_json(res).await;
        let expected = if is_locked { &locked } else { &ann };
        assert_eq!(&answer, expected, "{method} {path}");
        let stored = ok_json(app.get(&format!("/person/{pid}")).await).await;
        assert_eq!(&stored, expected, "after {method} {path}");
        assert_eq!(
            ok_json(app.get("/person").await).await,
            json!([expected]),
            "after {method} {path}"
        );
    }
}

#[tokio::test]
async fn delete_requires_the_person_to_be_locked_first() {
    let app = spawn_app().await;
    let ann = add_person(&app, "ann").await;
    let bob = add_person(&app, "bob").await;
    let pid = id(&ann);

    let refused = error_json(app.delete("/person/ann").await, 409, "person_not_locked").await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("lock"), "says to lock first: {message}");
    assert_eq!(list_ids(&app, "/person").await, [id(&ann), id(&bob)]);
    assert_eq!(ok_json(app.get(&format!("/person/{pid}")).await).await, ann);

    // Locked then unlocked again: still refused.
    lock(&app, &pid).await;
    ok_json(
        app.request(Method::POST, "/person/ann/unlock")
            .send()
            .await
            .unwrap(),
    )
    .await;
    error_json(
        app.delete(&format!("/person/{pid}")).await,
        409,
        "person_not_locked",
    )
    .await;

    lock(&app, "ann").await;
    delete_ok(&app, "/person/ann@example.com").await;
    error_json(
        app.get(&format!("/person/{pid}")).await,
        404,
        "person_not_found",
    )
    .await;
    error_json(app.get("/person/ann").await, 404, "person_not_found").await;
    error_json(
        app.delete(&format!("/person/{pid}")).await,
        404,
        "person_not_found",
    )
    .await;
    assert_eq!(list_ids(&app, "/person").await, [id(&bob)]);

    // The username and email are free again.
    let again = add_person(&app, "ann").await;
    assert_ne!(id(&again), pid, "a new person, a new id");
    assert_eq!(list_ids(&app, "/person").await, [id(&bob), id(&again)]);
}

#[tokio::test]
async fn two_factor_reset_answers_an_empty_object_and_is_idempotent() {
    let app = spawn_app().await;
    let ann = add_person(&app, "ann").await;
    let pid = id(&ann);
    for path in [
        format!("/person/{pid}/two-factor"),
        "/person/ann/two-factor".to_owned(),
        "/person/ann@example.com/two-factor".to_owned(),
    ] {
        delete_ok(&app, &path).await;
    }
    assert_eq!(ok_json(app.get(&format!("/person/{pid}")).await).await, ann);
    error_json(
        app.delete("/person/nobody/two-factor").await,
        404,
        "person_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_new_person_has_no_roles_permissions_or_data_sources() {
    let app = spawn_app().await;
    add_ds(&app, "ledger").await;
    add_role(&app, "HR").await;
    add_person(&app, "ann").await;
    for what in ["role", "permission", "data-source"] {
        assert_eq!(
            ok_json(app.get(&format!("/person/ann/{what}")).await).await,
            json!([]),
            "{what}"
        );
    }
    delete_count(&app, "/person/ann/permission", 0).await;
}

#[tokio::test]
async fn every_person_endpoint_answers_404_for_an_unknown_person() {
    let app = spawn_app().await;
    add_person(&app, "ann").await;
    let cases = [
        (Method::GET, "/person/nobody"),
        (Method::DELETE, "/person/nobody"),
        (Method::POST, "/person/nobody/lock"),
        (Method::PUT, "/person/nobody/lock"),
        (Method::POST, "/person/nobody/unlock"),
        (Method::DELETE, "/person/nobody/lock"),
        (Method::DELETE, "/person/nobody/two-factor"),
        (Method::GET, "/person/nobody/data-source"),
        (Method::GET, "/person/nobody/role"),
        (Method::GET, "/person/nobody/permission"),
        (Method::DELETE, "/person/nobody/permission"),
        (Method::GET, "/person/P0cKFCMIHoNaBFt7Y/role"),
    ];
    for (method, path) in cases {
        let res = app.request(method, path).send().await.unwrap();
        error_json(res, 404, "person_not_found").await;
    }
}

#[tokio::test]
async fn deleting_a_person_removes_their_permissions_and_memberships() {
    let app = spawn_app().await;
    let ds = add_ds(&app, "ledger").await;
    let role = add_role(&app, "HR").await;
    add_person(&app, "ann").await;
    let bob = add_person(&app, "bob").await;
    for person in ["ann", "bob"] {
        put_ok(&app, &format!("/role/HR/person/{person}")).await;
        ok_json(
            app.form(
                Method::POST,
                &format!("/data-source/ledger/permission/person/{person}"),
                "duration=3600",
            )
            .await,
        )
        .await;
    }
    let perms = ok_json(app.get("/permission").await).await;
    let bobs: Vec<String> = perms
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["personId"] == bob["id"])
        .map(id)
        .collect();
    assert_eq!(bobs.len(), 1);

    lock(&app, "ann").await;
    delete_ok(&app, "/person/ann").await;

    assert_eq!(list_ids(&app, "/role/HR/person").await, [id(&bob)]);
    assert_eq!(list_ids(&app, "/permission").await, bobs);
    let ds_path = format!("/data-source/{}/permission", id(&ds));
    assert_eq!(list_ids(&app, &ds_path).await, bobs);
    assert_eq!(list_ids(&app, "/role").await, [id(&role)]);
    assert_eq!(list_ids(&app, "/data-source").await, [id(&ds)]);
    assert_eq!(list_ids(&app, "/person").await, [id(&bob)]);
}

struct Bad {
    body: Option<(&'static str, String)>,
    status: u16,
    code: &'static str,
    /// The message starts with this (missing arguments) or contains it (everything else).
    says: &'static str,
}

fn bad_form(body: &str, status: u16, code: &'static str, says: &'static str) -> Bad {
    Bad {
        body: Some(("application/x-www-form-urlencoded", body.to_owned())),
        status,
        code,
        says,
    }
}

fn bad_json(body: Value, status: u16, code: &'static str, says: &'static str) -> Bad {
    Bad {
        body: Some(("application/json", body.to_string())),
        status,
        code,
        says,
    }
}

/// A person form with one field replaced by `value` (already form-encoded).
fn with(field: &str, value: &str) -> String {
    let mut pairs = vec![
        ("name", "New Person".replace(' ', "+")),
        ("email", "new@example.com".to_owned()),
        ("username", "new".to_owned()),
    ];
    for pair in &mut pairs {
        if pair.0 == field {
            pair.1 = value.to_owned();
        }
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A person form without `field`.
fn without(field: &str) -> String {
    [
        ("name", "New+Person"),
        ("email", "new@example.com"),
        ("username", "new"),
    ]
    .iter()
    .filter(|(k, _)| *k != field)
    .map(|(k, v)| format!("{k}={v}"))
    .collect::<Vec<_>>()
    .join("&")
}

fn bad_people() -> Vec<Bad> {
    let long = "x".repeat(256);
    vec![
        bad_form(&without("name"), 400, "missing_argument", "name"),
        bad_form(&without("email"), 400, "missing_argument", "email"),
        bad_form(&without("username"), 400, "missing_argument", "username"),
        bad_json(
            json!({"name": "New", "email": "new@example.com"}),
            400,
            "missing_argument",
            "username",
        ),
        bad_form(&with("name", "%20%20"), 400, "invalid_argument", "name"),
        bad_form(&with("name", &long), 400, "invalid_argument", "name"),
        bad_form(&with("name", "a%0Ab"), 400, "invalid_argument", "name"),
        bad_form(
            &with("email", "no-at-sign"),
            400,
            "invalid_argument",
            "email",
        ),
        bad_form(&with("email", "a@b@x.io"), 400, "invalid_argument", "email"),
        bad_form(&with("email", "@x.io"), 400, "invalid_argument", "email"),
        bad_form(&with("email", "new@"), 400, "invalid_argument", "email"),
        bad_form(
            &with("email", "ne+w@x.io"),
            400,
            "invalid_argument",
            "email",
        ),
        bad_form(&with("email", "%20%20"), 400, "invalid_argument", "email"),
        bad_form(
            &with("email", &format!("{}@x.io", "e".repeat(252))),
            400,
            "invalid_argument",
            "email",
        ),
        bad_form(
            &with("email", "new%01@x.io"),
            400,
            "invalid_argument",
            "email",
        ),
        bad_form(
            &with("username", "a/b"),
            400,
            "invalid_argument",
            "username",
        ),
        bad_form(
            &with("username", "a@b"),
            400,
            "invalid_argument",
            "username",
        ),
        bad_form(
            &with("username", "a+b"),
            400,
            "invalid_argument",
            "username",
        ),
        bad_form(
            &with("username", "a%09b"),
            400,
            "invalid_argument",
            "username",
        ),
        bad_form(
            &with("username", "P0cKFCMIHoNaBFt7Y"),
            400,
            "invalid_argument",
            "username",
        ),
        bad_form(
            &with("username", &long),
            400,
            "invalid_argument",
            "username",
        ),
        bad_form(
            &with("username", "%20"),
            400,
            "invalid_argument",
            "username",
        ),
        bad_json(
            json!({"name": "New", "email": "not an email", "username": "new"}),
            400,
            "invalid_argument",
            "email",
        ),
        bad_form(
            &format!("{}&colour=red", without("")),
            400,
            "unknown_argument",
            "colour",
        ),
        bad_form(&with("username", "taken"), 409, "username_taken", "taken"),
        bad_form(
            &with("email", "Taken@Example.COM"),
            409,
            "email_taken",
            "email",
        ),
    ]
}

#[tokio::test]
async fn every_bad_person_input_is_refused_with_a_useful_message_and_changes_nothing() {
    let app = spawn_app().await;
    add_person(&app, "taken").await;
    let before = ok_json(app.get("/person").await).await;
    let cases = bad_people();
    assert!(cases.len() >= 12, "the table has {} rows", cases.len());
    for case in cases {
        let mut req = app.request(Method::POST, "/person");
        if let Some((content_type, body)) = &case.body {
            req = req.header("Content-Type", *content_type).body(body.clone());
        }
        let res = req.send().await.unwrap();
        let context = format!("POST /person {:?}", case.body);
        let body = error_json(res, case.status, case.code).await;
        let message = body["error"]["message"].as_str().unwrap();
        if case.code == "missing_argument" {
            assert!(
                message.starts_with(case.says),
                "{context}: message {message:?} does not start with {:?}",
                case.says
            );
        } else {
            assert!(
                message.contains(case.says),
                "{context}: message {message:?} lacks {:?}",
                case.says
            );
        }
        assert_eq!(
            ok_json(app.get("/person").await).await,
            before,
            "{context} changed the people"
        );
    }
    // A well-formed request still works afterwards.
    let new = ok_json(app.form(Method::POST, "/person", &without("")).await).await;
    assert_eq!(new["username"], "new");
    assert_eq!(new["name"], "New Person");
}
