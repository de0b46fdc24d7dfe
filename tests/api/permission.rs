//! Permissions: granting (default and explicit `startsAt`, `expiresAt` arithmetic), listing,
//! retrieving, deleting one and in bulk, bad arguments, and what a person reaches as the clock
//! moves across a permission's window.

use std::time::Duration;

use jackal::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_json, ok_json, spawn_app, spawn_app_with_clock, TestApp};
use crate::person::{
    add_ds, add_person, add_role, delete_count, delete_ok, id, ids, list_ids, lock, put_ok,
    redacted_uri, sorted_keys, ts, HOUR, MINUTE, SECOND, T0,
};

const TEN_YEARS: i64 = 315_576_000;

/// A request body: `None`, or (content type, text).
type Body = Option<(&'static str, String)>;

fn grant_path(ds: &str, person: &str) -> String {
    format!("/data-source/{ds}/permission/person/{person}")
}

/// Grants with a raw form body (as `curl -d` sends it) and returns the Permission.
async fn grant(app: &TestApp, ds: &str, person: &str, body: &str) -> Value {
    let permission = ok_json(app.form(Method::POST, &grant_path(ds, person), body).await).await;
    assert_permission_shape(&permission);
    permission
}

async fn grant_json(app: &TestApp, ds: &str, person: &str, body: Value) -> Value {
    let permission = ok_json(app.json(Method::POST, &grant_path(ds, person), &body).await).await;
    assert_permission_shape(&permission);
    permission
}

fn numeric_id(permission: &Value) -> u64 {
    let text = permission["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the id is a string: {permission}"));
    let n: u64 = text
        .parse()
        .unwrap_or_else(|_| panic!("the id is a decimal integer: {permission}"));
    assert_eq!(n.to_string(), text, "canonical decimal: {permission}");
    n
}

fn assert_permission_shape(permission: &Value) {
    assert_eq!(
        sorted_keys(permission),
        [
            "createdAt",
            "dataSourceId",
            "expiresAt",
            "id",
            "personId",
            "startsAt"
        ],
        "{permission}"
    );
    numeric_id(permission);
}

async fn get(app: &TestApp, path: &str) -> Value {
    ok_json(app.get(path).await).await
}

async fn reach(app: &TestApp, person: &str) -> Vec<String> {
    list_ids(app, &format!("/person/{person}/data-source")).await
}

#[tokio::test]
async fn grant_with_default_starts_at_begins_at_the_clock_now_with_milliseconds() {
    let now = T0 + 789;
    let clock = ManualClock::new(now);
    let app = spawn_app_with_clock(clock.clone()).await;
    let ds = add_ds(&app, "ledger").await;
    let ann = add_person(&app, "ann").await;

    let p = grant(&app, "ledger", "ann", "duration=3600").await;
    assert_eq!(p["personId"], ann["id"]);
    assert_eq!(p["dataSourceId"], ds["id"]);
    assert_eq!(p["startsAt"], "2030-01-01T00:00:00.789Z");
    assert_eq!(p["startsAt"], ts(now));
    assert_eq!(p["expiresAt"], "2030-01-01T01:00:00.789Z");
    assert_eq!(p["createdAt"], ts(now));

    let pid = id(&p);
    assert_eq!(get(&app, &format!("/permission/{pid}")).await, p);
    for path in [
        "/permission".to_owned(),
        "/person/ann/permission".to_owned(),
        format!("/person/{}/permission", id(&ann)),
        "/data-source/ledger/permission".to_owned(),
        format!("/data-source/{}/permission", id(&ds)),
        "/data-source/ledger/permission/person/ann".to_owned(),
        format!("/data-source/{}/permission/person/ann@example.com", id(&ds)),
    ] {
        assert_eq!(get(&app, &path).await, json!([p]), "{path}");
    }
}

#[tokio::test]
async fn grant_with_explicit_starts_at_in_offset_form_is_rendered_in_utc() {
    let now = T0 - 5 * HOUR;
    let clock = ManualClock::new(now);
    let app = spawn_app_with_clock(clock.clone()).await;
    add_ds(&app, "ledger").await;
    add_person(&app, "ann").await;

    let p = grant_json(
        &app,
        "ledger",
        "ann",
        json!({"duration": 3600, "startsAt": "2030-01-01T02:00:00+02:00"}),
    )
    .await;
    assert_eq!(p["startsAt"], "2030-01-01T00:00:00.000Z");
    assert_eq!(p["expiresAt"], "2030-01-01T01:00:00.000Z");
    assert_eq!(p["createdAt"], ts(now), "created now, starts later");

    let body = serde_urlencoded::to_string([
        ("duration", "90"),
        ("startsAt", "2029-12-31T19:30:00.5-04:30"),
    ])
    .unwrap();
    let p = grant(&app, "ledger", "ann", &body).await;
    assert_eq!(p["startsAt"], "2030-01-01T00:00:00.500Z");
    assert_eq!(p["expiresAt"], "2030-01-01T00:01:30.500Z");

    let body = "duration=60&startsAt=2030-01-01T00:00:00Z";
    let p = grant(&app, "ledger", "ann", body).await;
    assert_eq!(p["startsAt"], "2030-01-01T00:00:00.000Z");
    assert_eq!(p["expiresAt"], "2030-01-01T00:01:00.000Z");

    // A start in the past is fine: it is simply active already (or over).
    let body = "duration=60&startsAt=2020-06-01T12:00:00.123Z";
    let p = grant(&app, "ledger", "ann", body).await;
    assert_eq!(p["startsAt"], "2020-06-01T12:00:00.123Z");
    assert_eq!(p["expiresAt"], "2020-06-01T12:01:00.123Z");
}

#[tokio::test]
async fn expires_at_is_starts_at_plus_duration_up_to_ten_years() {
    let clock = ManualClock::new(T0);
    let app = spawn_app_with_clock(clock.clone()).await;
    add_ds(&app, "ledger").await;
    add_person(&app, "ann").await;
    for duration in [1, 59, 3_600, 86_400, 31_557_600, TEN_YEARS - 1, TEN_YEARS] {
        let body = format!("duration={duration}&startsAt=2030-01-01T00:00:00.000Z");
        let p = grant(&app, "ledger", "ann", &body).await;
        assert_eq!(p["startsAt"], ts(T0), "{duration}");
        assert_eq!(p["expiresAt"], ts(T0 + duration * SECOND), "{duration}");
        let p = grant_json(&app, "ledger", "ann", json!({ "duration": duration })).await;
        assert_eq!(p["startsAt"], ts(T0), "{duration}");
        assert_eq!(p["expiresAt"], ts(T0 + duration * SECOND), "{duration}");
    }
    let p = grant(&app, "ledger", "ann", &format!("duration={TEN_YEARS}")).await;
    assert_eq!(p["expiresAt"], "2040-01-01T12:00:00.000Z");
}

#[tokio::test]
async fn permission_ids_are_decimal_strings_that_increase_and_are_never_reused() {
    let app = spawn_app().await;
    add_ds(&app, "ledger").await;
    add_ds(&app, "crm").await;
    add_person(&app, "ann").await;
    let mut seen: Vec<u64> = Vec::new();
    for ds in ["ledger", "crm", "ledger"] {
        let n = numeric_id(&grant(&app, ds, "ann", "duration=60").await);
        assert!(seen.iter().all(|s| *s < n), "{n} after {seen:?}");
        seen.push(n);
    }
    delete_ok(&app, &format!("/permission/{}", seen[2])).await;
    let n = numeric_id(&grant(&app, "crm", "ann", "duration=60").await);
    assert!(seen.iter().all(|s| *s < n), "{n} after {seen:?}");
    seen.push(n);

    delete_count(&app, "/person/ann/permission", 3).await;
    assert_eq!(get(&app, "/permission").await, json!([]));
    let n = numeric_id(&grant(&app, "ledger", "ann", "duration=60").await);
    assert!(seen.iter().all(|s| *s < n), "{n} after {seen:?}");
}

#[tokio::test]
async fn list_retrieve_and_delete_one_permission() {
    let app = spawn_app().await;
    let ledger = add_ds(&app, "ledger").await;
    let crm = add_ds(&app, "crm").await;
    add_person(&app, "ann").await;
    add_person(&app, "bob").await;
    let p1 = grant(&app, "ledger", "ann", "duration=600").await;
    let p2 = grant(&app, "crm", "bob", "duration=600").await;
    let p3 = grant(&app, "crm", "ann", "duration=600").await;
    let [i1, i2, i3] = [id(&p1), id(&p2), id(&p3)];

    assert_eq!(get(&app, "/permission").await, json!([p1, p2, p3]));
    assert_eq!(list_ids(&app, "/person/ann/permission").await, [&*i1, &*i3]);
    assert_eq!(list_ids(&app, "/person/bob/permission").await, [&*i2]);
    assert_eq!(
        list_ids(&app, "/data-source/ledger/permission").await,
        [&*i1]
    );
    assert_eq!(
        list_ids(&app, "/data-source/crm/permission").await,
        [&*i2, &*i3]
    );
    assert_eq!(
        list_ids(&app, "/data-source/crm/permission/person/ann").await,
        [&*i3]
    );
    assert_eq!(
        get(&app, "/data-source/ledger/permission/person/bob").await,
        json!([])
    );
    for p in [&p1, &p2, &p3] {
        assert_eq!(get(&app, &format!("/permission/{}", id(p))).await, *p);
    }
    assert_eq!(p3["dataSourceId"], crm["id"]);
    assert_eq!(p1["dataSourceId"], ledger["id"]);

    delete_ok(&app, &format!("/permission/{i1}")).await;
    error_json(
        app.get(&format!("/permission/{i1}")).await,
        404,
        "permission_not_found",
    )
    .await;
    error_json(
        app.delete(&format!("/permission/{i1}")).await,
        404,
        "permission_not_found",
    )
    .await;
    assert_eq!(get(&app, "/permission").await, json!([p2, p3]));
    assert_eq!(list_ids(&app, "/person/ann/permission").await, [&*i3]);
    assert_eq!(get(&app, "/data-source/ledger/permission").await, json!([]));

    for missing in ["999999999", "abc"] {
        error_json(
            app.get(&format!("/permission/{missing}")).await,
            404,
            "permission_not_found",
        )
        .await;
        error_json(
            app.delete(&format!("/permission/{missing}")).await,
            404,
            "permission_not_found",
        )
        .await;
    }
    assert_eq!(get(&app, "/permission").await, json!([p2, p3]));
}

#[tokio::test]
async fn bulk_deletes_answer_how_many_they_deleted() {
    let app = spawn_app().await;
    let ledger = add_ds(&app, "ledger").await;
    add_ds(&app, "crm").await;
    add_person(&app, "ann").await;
    add_person(&app, "bob").await;
    add_role(&app, "HR").await;
    put_ok(&app, "/role/HR/data-source/ledger").await;
    put_ok(&app, "/role/HR/person/ann").await;

    let ann_ledger_1 = id(&grant(&app, "ledger", "ann", "duration=600").await);
    let ann_ledger_2 = id(&grant(&app, "ledger", "ann", "duration=1200").await);
    let ann_crm = id(&grant(&app, "crm", "ann", "duration=600").await);
    let bob_ledger = id(&grant(&app, "ledger", "bob", "duration=600").await);
    let bob_crm = id(&grant(&app, "crm", "bob", "duration=600").await);
    assert_eq!(
        list_ids(&app, "/permission").await,
        [
            &*ann_ledger_1,
            &*ann_ledger_2,
            &*ann_crm,
            &*bob_ledger,
            &*bob_crm
        ]
    );

    delete_count(&app, "/data-source/ledger/permission/person/ann", 2).await;
    assert_eq!(
        list_ids(&app, "/permission").await,
        [&*ann_crm, &*bob_ledger, &*bob_crm]
    );
    assert_eq!(list_ids(&app, "/person/ann/permission").await, [&*ann_crm]);
    assert_eq!(
        list_ids(&app, "/data-source/ledger/permission").await,
        [&*bob_ledger]
    );
    delete_count(&app, "/data-source/ledger/permission/person/ann", 0).await;

    delete_count(&app, "/person/ann/permission", 1).await;
    assert_eq!(
        list_ids(&app, "/permission").await,
        [&*bob_ledger, &*bob_crm]
    );
    assert_eq!(get(&app, "/person/ann/permission").await, json!([]));
    delete_count(&app, "/person/ann/permission", 0).await;

    delete_count(&app, "/data-source/ledger/permission", 1).await;
    assert_eq!(list_ids(&app, "/permission").await, [&*bob_crm]);
    assert_eq!(get(&app, "/data-source/ledger/permission").await, json!([]));
    assert_eq!(list_ids(&app, "/person/bob/permission").await, [&*bob_crm]);
    delete_count(&app, "/data-source/ledger/permission", 0).await;
    delete_count(&app, "/data-source/crm/permission/person/ann", 0).await;

    // Only permissions went: the role still gives ann the ledger.
    assert_eq!(reach(&app, "ann").await, [id(&ledger)]);
    assert_eq!(list_ids(&app, "/role/HR/person").await.len(), 1);

    let missing = [
        (
            Method::DELETE,
            "/data-source/nowhere/permission",
            "data_source_not_found",
        ),
        (
            Method::GET,
            "/data-source/nowhere/permission",
            "data_source_not_found",
        ),
        (
            Method::DELETE,
            "/person/nobody/permission",
            "person_not_found",
        ),
        (Method::GET, "/person/nobody/permission", "person_not_found"),
        (
            Method::DELETE,
            "/data-source/nowhere/permission/person/ann",
            "data_source_not_found",
        ),
        (
            Method::GET,
            "/data-source/nowhere/permission/person/ann",
            "data_source_not_found",
        ),
        (
            Method::DELETE,
            "/data-source/ledger/permission/person/nobody",
            "person_not_found",
        ),
        (
            Method::GET,
            "/data-source/ledger/permission/person/nobody",
            "person_not_found",
        ),
    ];
    for (method, path, code) in missing {
        let res = app.request(method, path).send().await.unwrap();
        error_json(res, 404, code).await;
    }
    assert_eq!(list_ids(&app, "/permission").await, [&*bob_crm]);
}

#[tokio::test]
async fn bad_grants_are_refused_with_a_useful_message_and_change_nothing() {
    let app = spawn_app().await;
    add_ds(&app, "ledger").await;
    add_person(&app, "ann").await;
    grant(&app, "ledger", "ann", "duration=60").await;
    let before = get(&app, "/permission").await;

    let form = |body: &str| Some(("application/x-www-form-urlencoded", body.to_owned()));
    let json_body = |body: Value| Some(("application/json", body.to_string()));
    let ok_path = grant_path("ledger", "ann");
    let cases: Vec<(String, Body, u16, &str, &str)> = vec![
        (ok_path.clone(), None, 400, "missing_argument", "duration"),
        (
            ok_path.clone(),
            form(""),
            400,
            "missing_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            form("startsAt=2030-01-01T00:00:00Z"),
            400,
            "missing_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            json_body(json!({})),
            400,
            "missing_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            form("duration=0"),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            form("duration=-5"),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            form("duration=1.5"),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            form("duration=abc"),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            form("duration=315576001"),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            form("duration=99999999999999999999999"),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            json_body(json!({"duration": 0})),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            json_body(json!({"duration": -5})),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            json_body(json!({"duration": 1.5})),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            json_body(json!({"duration": "abc"})),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            json_body(json!({"duration": 315_576_001})),
            400,
            "invalid_argument",
            "duration",
        ),
        (
            ok_path.clone(),
            form("duration=3600&startsAt=tomorrow"),
            400,
            "invalid_argument",
            "startsAt",
        ),
        (
            ok_path.clone(),
            form("duration=3600&startsAt=2030-02-30T00:00:00Z"),
            400,
            "invalid_argument",
            "startsAt",
        ),
        (
            ok_path.clone(),
            form("duration=3600&startsAt=2030-01-01T00:00:00"),
            400,
            "invalid_argument",
            "startsAt",
        ),
        (
            ok_path.clone(),
            json_body(json!({"duration": 3600, "startsAt": "2030-01-01"})),
            400,
            "invalid_argument",
            "startsAt",
        ),
        (
            ok_path.clone(),
            form("duration=3600&expiresAt=2030-01-01T00:00:00Z"),
            400,
            "unknown_argument",
            "expiresAt",
        ),
        (
            grant_path("nowhere", "ann"),
            form("duration=3600"),
            404,
            "data_source_not_found",
            "",
        ),
        (
            grant_path("ledger", "nobody"),
            form("duration=3600"),
            404,
            "person_not_found",
            "",
        ),
    ];
    for (path, body, status, code, says) in cases {
        let mut req = app.request(Method::POST, &path);
        if let Some((content_type, text)) = &body {
            req = req.header("Content-Type", *content_type).body(text.clone());
        }
        let res = req.send().await.unwrap();
        let context = format!("POST {path} {body:?}");
        let error = error_json(res, status, code).await;
        let message = error["error"]["message"].as_str().unwrap();
        if code == "missing_argument" {
            assert!(message.starts_with(says), "{context}: {message:?}");
        } else {
            assert!(
                message.contains(says),
                "{context}: {message:?} lacks {says:?}"
            );
        }
        assert_eq!(get(&app, "/permission").await, before, "{context} changed");
    }
}

#[tokio::test]
async fn reachability_follows_the_permission_window() {
    let clock = ManualClock::new(T0);
    let app = spawn_app_with_clock(clock.clone()).await;
    let ledger = add_ds(&app, "ledger").await;
    add_ds(&app, "crm").await;
    add_person(&app, "ann").await;
    let starts = T0 + HOUR;
    let expires = starts + HOUR;
    let p = grant_json(
        &app,
        "ledger",
        "ann",
        json!({"duration": 3600, "startsAt": ts(starts)}),
    )
    .await;
    assert_eq!(p["startsAt"], ts(starts));
    assert_eq!(p["expiresAt"], ts(expires));

    let public_ledger = get(&app, "/data-source/ledger").await;
    assert_eq!(public_ledger["configUri"], redacted_uri("ledger"));
    let steps = [
        (T0, false, "when granted, before startsAt"),
        (starts - 1, false, "1 ms before startsAt"),
        (starts, true, "at startsAt"),
        (starts + 30 * MINUTE, true, "half way"),
        (expires - 1, true, "1 ms before expiresAt"),
        (expires, false, "at expiresAt"),
        (expires + 24 * HOUR, false, "a day later"),
    ];
    for (now, reachable, when) in steps {
        clock.set_millis(now);
        let list = get(&app, "/person/ann/data-source").await;
        let expected = if reachable {
            json!([public_ledger])
        } else {
            json!([])
        };
        assert_eq!(list, expected, "{when}");
    }
    // Expired, yet still listed everywhere until deleted.
    assert_eq!(get(&app, "/permission").await, json!([p]));
    assert_eq!(get(&app, "/person/ann/permission").await, json!([p]));
    assert_eq!(
        get(&app, "/data-source/ledger/permission").await,
        json!([p])
    );
    assert_eq!(
        get(&app, "/data-source/ledger/permission/person/ann").await,
        json!([p])
    );
    assert_eq!(get(&app, &format!("/permission/{}", id(&p))).await, p);

    // A new grant after expiry reaches again from now.
    let again = grant(&app, "ledger", "ann", "duration=1").await;
    assert_eq!(again["startsAt"], ts(expires + 24 * HOUR));
    assert_eq!(reach(&app, "ann").await, [id(&ledger)]);
    clock.advance(Duration::from_secs(1));
    assert_eq!(reach(&app, "ann").await, Vec::<String>::new());
    assert_eq!(list_ids(&app, "/permission").await, [id(&p), id(&again)]);
}

#[tokio::test]
async fn a_data_source_reached_by_role_and_permission_appears_once_oldest_first() {
    let clock = ManualClock::new(T0);
    let app = spawn_app_with_clock(clock.clone()).await;
    let mut ds = Vec::new();
    for alias in ["d1", "d2", "d3", "d4"] {
        ds.push(add_ds(&app, alias).await);
        clock.advance(Duration::from_secs(1));
    }
    add_person(&app, "ann").await;
    add_role(&app, "HR").await;
    add_role(&app, "Ops").await;
    put_ok(&app, "/role/HR/person/ann").await;
    put_ok(&app, "/role/Ops/person/ann").await;
    put_ok(&app, "/role/HR/data-source/d3").await;
    put_ok(&app, "/role/HR/data-source/d1").await;
    put_ok(&app, "/role/Ops/data-source/d1").await;
    grant(&app, "d2", "ann", "duration=3600").await;
    grant(&app, "d1", "ann", "duration=3600").await;
    grant(&app, "d1", "ann", "duration=7200").await;
    // Not yet active: d4 is not reached.
    let later = ts(T0 + 10 * HOUR);
    grant_json(
        &app,
        "d4",
        "ann",
        json!({"duration": 60, "startsAt": later}),
    )
    .await;

    let mut expected = Vec::new();
    for d in &ds[..3] {
        expected.push(get(&app, &format!("/data-source/{}", id(d))).await);
    }
    assert_eq!(
        get(&app, "/person/ann/data-source").await,
        Value::Array(expected),
        "d1 (two roles, two permissions), d2, d3: once each, oldest first"
    );
}

#[tokio::test]
async fn a_locked_person_reaches_nothing_until_unlocked() {
    let app = spawn_app().await;
    let d1 = add_ds(&app, "d1").await;
    let d2 = add_ds(&app, "d2").await;
    add_person(&app, "ann").await;
    add_role(&app, "HR").await;
    put_ok(&app, "/role/HR/person/ann").await;
    put_ok(&app, "/role/HR/data-source/d1").await;
    let p = grant(&app, "d2", "ann", "duration=3600").await;
    assert_eq!(reach(&app, "ann").await, [id(&d1), id(&d2)]);

    assert_eq!(lock(&app, "ann").await["isLocked"], true);
    assert_eq!(get(&app, "/person/ann/data-source").await, json!([]));
    // Locking takes nothing away: the role and the permission are still there.
    assert_eq!(list_ids(&app, "/person/ann/role").await.len(), 1);
    assert_eq!(get(&app, "/person/ann/permission").await, json!([p]));

    let unlocked = ok_json(
        app.request(Method::DELETE, "/person/ann/lock")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(unlocked["isLocked"], false);
    assert_eq!(reach(&app, "ann").await, [id(&d1), id(&d2)]);
}

#[tokio::test]
async fn deleting_a_data_source_removes_its_permissions() {
    let app = spawn_app().await;
    let ledger = add_ds(&app, "ledger").await;
    add_ds(&app, "crm").await;
    add_person(&app, "ann").await;
    add_person(&app, "bob").await;
    let ann_ledger = grant(&app, "ledger", "ann", "duration=600").await;
    grant(&app, "ledger", "bob", "duration=600").await;
    let ann_crm = grant(&app, "crm", "ann", "duration=600").await;

    delete_ok(&app, &format!("/data-source/{}", id(&ledger))).await;
    assert_eq!(get(&app, "/permission").await, json!([ann_crm]));
    assert_eq!(get(&app, "/person/ann/permission").await, json!([ann_crm]));
    assert_eq!(get(&app, "/person/bob/permission").await, json!([]));
    assert_eq!(ids(&get(&app, "/person/ann/data-source").await).len(), 1);
    error_json(
        app.get(&format!("/permission/{}", id(&ann_ledger))).await,
        404,
        "permission_not_found",
    )
    .await;

    // A new data source under the old alias starts without permissions.
    add_ds(&app, "ledger").await;
    assert_eq!(get(&app, "/data-source/ledger/permission").await, json!([]));
    assert_eq!(
        get(&app, "/data-source/ledger/permission/person/ann").await,
        json!([])
    );
}

/// Found while checking the OpenAPI document's timestamp pattern against the server: a window
/// reaching past 9999-12-31 or before 0000-01-01 rendered as `+10009-…` or `-0001-…`, outside
/// the contract's timestamp format.
#[tokio::test]
async fn windows_outside_the_years_0000_to_9999_are_refused() {
    let app = spawn_app().await;
    add_ds(&app, "ledger").await;
    add_person(&app, "ann").await;
    let path = grant_path("ledger", "ann");
    for body in [
        format!("startsAt=9999-12-31T23%3A59%3A59Z&duration={TEN_YEARS}"),
        "startsAt=9999-12-31T23%3A59%3A59.999Z&duration=1".to_owned(),
        "startsAt=0000-01-01T00%3A00%3A00%2B00%3A01&duration=3600".to_owned(),
    ] {
        let res = app.form(Method::POST, &path, &body).await;
        let err = error_json(res, 400, "invalid_argument").await;
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("0000 to 9999"),
            "{err}"
        );
    }
    assert_eq!(get(&app, "/permission").await, json!([]));
    // The edges themselves are fine.
    let last = grant(
        &app,
        "ledger",
        "ann",
        "startsAt=9999-12-31T23%3A59%3A58.999Z&duration=1",
    )
    .await;
    assert_eq!(last["expiresAt"], "9999-12-31T23:59:59.999Z");
    let first = grant(
        &app,
        "ledger",
        "ann",
        "startsAt=0000-01-01T00%3A00%3A00Z&duration=1",
    )
    .await;
    assert_eq!(first["startsAt"], "0000-01-01T00:00:00.000Z");
}

/// Found by schemathesis (scripts/schemathesis): JSON `3600.0` is the whole number 3600, an
/// `integer` to JSON Schema, but was read as the text "3600.0" and refused.
#[tokio::test]
async fn a_json_duration_written_with_a_zero_fraction_is_whole_seconds() {
    let app = spawn_app().await;
    add_ds(&app, "ledger").await;
    add_person(&app, "ann").await;
    let body = json!({"duration": 3600.0, "startsAt": "2030-01-01T00:00:00Z"});
    let p = grant_json(&app, "ledger", "ann", body).await;
    assert_eq!(p["expiresAt"], "2030-01-01T01:00:00.000Z");
    let res = app
        .json(
            Method::POST,
            &grant_path("ledger", "ann"),
            &json!({"duration": 1.5}),
        )
        .await;
    error_json(res, 400, "invalid_argument").await;
}
