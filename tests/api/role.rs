//! Roles: create, list, retrieve, delete, name clashes, memberships of data sources and people
//! (idempotent PUT / DELETE, `assignedAt`, `updatedAt`), and what deleting a role, a data source
//! or a person does to the membership lists.

use jackal::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_json, ok_json, spawn_app, spawn_app_with_clock, TestApp};
use crate::person::{
    add_ds, add_person, add_role, assert_person_shape, delete_ok, has_id_shape, id, list_ids,
    put_ok, redacted_uri, sorted_keys, ts, DS_PASSWORD, MINUTE, SECOND, T0,
};

/// A request body: `None`, or (content type, text).
type Body = Option<(&'static str, String)>;

fn assert_role_shape(role: &Value) {
    assert_eq!(
        sorted_keys(role),
        ["createdAt", "id", "name", "updatedAt"],
        "{role}"
    );
    assert!(has_id_shape(&id(role), 'R'), "{role}");
}

async fn get(app: &TestApp, path: &str) -> Value {
    ok_json(app.get(path).await).await
}

#[tokio::test]
async fn create_list_retrieve_and_delete_roles() {
    let clock = ManualClock::new(T0);
    let app = spawn_app_with_clock(clock.clone()).await;

    let hr = ok_json(app.form(Method::POST, "/role", "name=HR").await).await;
    assert_role_shape(&hr);
    assert_eq!(hr["name"], "HR");
    assert_eq!(hr["createdAt"], ts(T0));
    assert_eq!(hr["updatedAt"], ts(T0));

    clock.advance(std::time::Duration::from_millis(1_500));
    let finance = ok_json(
        app.json(Method::POST, "/role", &json!({"name": "  Finance  "}))
            .await,
    )
    .await;
    assert_role_shape(&finance);
    assert_eq!(finance["name"], "Finance", "trimmed");
    assert_eq!(finance["createdAt"], ts(T0 + 1_500));
    assert_eq!(finance["updatedAt"], ts(T0 + 1_500));

    assert_eq!(get(&app, "/role").await, json!([hr, finance]));
    assert_eq!(get(&app, &format!("/role/{}", id(&hr))).await, hr);
    assert_eq!(get(&app, "/role/HR").await, hr);
    assert_eq!(get(&app, "/role/Finance").await, finance);

    delete_ok(&app, "/role/HR").await;
    error_json(app.get("/role/HR").await, 404, "role_not_found").await;
    error_json(
        app.get(&format!("/role/{}", id(&hr))).await,
        404,
        "role_not_found",
    )
    .await;
    error_json(
        app.delete(&format!("/role/{}", id(&hr))).await,
        404,
        "role_not_found",
    )
    .await;
    assert_eq!(get(&app, "/role").await, json!([finance]));

    delete_ok(&app, &format!("/role/{}", id(&finance))).await;
    assert_eq!(get(&app, "/role").await, json!([]));

    // The name is free again; the new role gets a new id.
    let again = add_role(&app, "HR").await;
    assert_ne!(id(&again), id(&hr));
    assert_eq!(list_ids(&app, "/role").await, [id(&again)]);
}

#[tokio::test]
async fn role_name_clashes_are_409_and_bad_names_are_400_and_change_nothing() {
    let app = spawn_app().await;
    add_role(&app, "HR").await;
    let before = get(&app, "/role").await;
    let long = format!("name={}", "r".repeat(256));
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(Body, u16, &str, &str)> = vec![
        (None, 400, "missing_argument", "name"),
        (Some((form, String::new())), 400, "missing_argument", "name"),
        (
            Some(("application/json", "{}".to_owned())),
            400,
            "missing_argument",
            "name",
        ),
        (
            Some((form, "name=%20%20".to_owned())),
            400,
            "invalid_argument",
            "name",
        ),
        (Some((form, long)), 400, "invalid_argument", "name"),
        (
            Some((form, "name=a%0Ab".to_owned())),
            400,
            "invalid_argument",
            "name",
        ),
        (
            Some((form, "name=Sales/EU".to_owned())),
            400,
            "invalid_argument",
            "name",
        ),
        (
            Some((form, "name=RKm2x3dfX0b505iHy".to_owned())),
            400,
            "invalid_argument",
            "name",
        ),
        (
            Some((form, "name=x&colour=red".to_owned())),
            400,
            "unknown_argument",
            "colour",
        ),
        (
            Some((form, "name=HR".to_owned())),
            409,
            "role_name_taken",
            "HR",
        ),
        (
            Some((form, "name=%20HR%20".to_owned())),
            409,
            "role_name_taken",
            "HR",
        ),
        (
            Some(("application/json", json!({"name": "HR"}).to_string())),
            409,
            "role_name_taken",
            "HR",
        ),
    ];
    for (body, status, code, says) in cases {
        let mut req = app.request(Method::POST, "/role");
        if let Some((content_type, text)) = &body {
            req = req.header("Content-Type", *content_type).body(text.clone());
        }
        let res = req.send().await.unwrap();
        let error = error_json(res, status, code).await;
        let message = error["error"]["message"].as_str().unwrap();
        if code == "missing_argument" {
            assert!(message.starts_with(says), "{body:?}: {message:?}");
        } else {
            assert!(
                message.contains(says),
                "{body:?}: {message:?} lacks {says:?}"
            );
        }
        assert_eq!(
            get(&app, "/role").await,
            before,
            "{body:?} changed the roles"
        );
    }
}

#[tokio::test]
async fn data_source_membership_put_and_delete_are_idempotent() {
    let clock = ManualClock::new(T0);
    let app = spawn_app_with_clock(clock.clone()).await;
    let ds = add_ds(&app, "ledger").await;
    let dsid = id(&ds);
    let role = add_role(&app, "HR").await;
    let rid = id(&role);
    let minute = std::time::Duration::from_secs(60);

    clock.advance(minute);
    put_ok(&app, "/role/HR/data-source/ledger").await;
    clock.advance(minute);
    put_ok(&app, &format!("/role/{rid}/data-source/{dsid}")).await;

    let public_ds = get(&app, &format!("/data-source/{dsid}")).await;
    assert_eq!(public_ds["configUri"], redacted_uri("ledger"));
    assert_eq!(
        get(&app, "/role/HR/data-source").await,
        json!([public_ds]),
        "one membership, password removed"
    );
    let expected = json!([{
        "id": rid,
        "name": "HR",
        "createdAt": ts(T0),
        "updatedAt": ts(T0 + MINUTE),
        "assignedAt": ts(T0 + MINUTE),
    }]);
    assert_eq!(
        get(&app, "/data-source/ledger/role").await,
        expected,
        "assignedAt and updatedAt are those of the first PUT"
    );
    assert_eq!(
        get(&app, "/role/HR").await["updatedAt"],
        ts(T0 + MINUTE),
        "the second PUT changed nothing"
    );

    clock.advance(minute);
    delete_ok(&app, "/role/HR/data-source/ledger").await;
    clock.advance(minute);
    delete_ok(&app, &format!("/role/{rid}/data-source/{dsid}")).await;
    assert_eq!(get(&app, "/role/HR/data-source").await, json!([]));
    assert_eq!(
        get(&app, &format!("/data-source/{dsid}/role")).await,
        json!([])
    );
    let after = get(&app, "/role/HR").await;
    assert_eq!(after["createdAt"], ts(T0));
    assert_eq!(
        after["updatedAt"],
        ts(T0 + 3 * MINUTE),
        "updatedAt moved with the removal (and not with the no-op DELETE)"
    );

    // Assigned again: a fresh assignedAt.
    clock.advance(minute);
    put_ok(&app, "/role/HR/data-source/ledger").await;
    let roles = get(&app, "/data-source/ledger/role").await;
    assert_eq!(roles[0]["assignedAt"], ts(T0 + 5 * MINUTE), "{roles}");
    assert_eq!(roles[0]["updatedAt"], ts(T0 + 5 * MINUTE), "{roles}");
    assert_eq!(roles.as_array().unwrap().len(), 1);
    // The data source itself is untouched by membership changes.
    assert_eq!(get(&app, &format!("/data-source/{dsid}")).await, public_ds);
}

#[tokio::test]
async fn person_membership_put_and_delete_are_idempotent() {
    let clock = ManualClock::new(T0);
    let app = spawn_app_with_clock(clock.clone()).await;
    let ann = add_person(&app, "ann").await;
    let pid = id(&ann);
    let role = add_role(&app, "HR").await;
    let rid = id(&role);
    let second = std::time::Duration::from_secs(1);

    clock.advance(second);
    put_ok(&app, "/role/HR/person/ann").await;
    clock.advance(second);
    put_ok(&app, &format!("/role/{rid}/person/ann@example.com")).await;
    clock.advance(second);
    put_ok(&app, &format!("/role/HR/person/{pid}")).await;

    let members = get(&app, "/role/HR/person").await;
    assert_eq!(members, json!([ann]), "one membership");
    assert_person_shape(&members[0]);
    let roles = get(&app, "/person/ann/role").await;
    assert_eq!(
        roles,
        json!([{
            "id": rid,
            "name": "HR",
            "createdAt": ts(T0),
            "updatedAt": ts(T0 + SECOND),
        }])
    );
    assert_role_shape(&roles[0]);

    clock.advance(second);
    delete_ok(&app, "/role/HR/person/ann").await;
    clock.advance(second);
    delete_ok(&app, &format!("/role/{rid}/person/{pid}")).await;
    assert_eq!(get(&app, "/role/HR/person").await, json!([]));
    assert_eq!(get(&app, &format!("/person/{pid}/role")).await, json!([]));
    assert_eq!(
        get(&app, "/role/HR").await["updatedAt"],
        ts(T0 + 4 * SECOND)
    );
    // The person is untouched by membership changes.
    assert_eq!(get(&app, &format!("/person/{pid}")).await, ann);
}

#[tokio::test]
async fn memberships_are_listed_oldest_first_whatever_the_order_of_assignment() {
    let clock = ManualClock::new(T0);
    let app = spawn_app_with_clock(clock.clone()).await;
    let tick = || clock.advance(std::time::Duration::from_secs(1));
    let mut ds = Vec::new();
    for alias in ["d1", "d2", "d3"] {
        ds.push(id(&add_ds(&app, alias).await));
        tick();
    }
    let mut people = Vec::new();
    for username in ["p1", "p2", "p3"] {
        people.push(id(&add_person(&app, username).await));
        tick();
    }
    let r1 = id(&add_role(&app, "r1").await);
    tick();
    let r2 = id(&add_role(&app, "r2").await);
    tick();

    // r2 gets its members before r1 does.
    put_ok(&app, "/role/r2/data-source/d3").await;
    put_ok(&app, "/role/r2/person/p3").await;
    tick();
    for alias in ["d3", "d1", "d2"] {
        put_ok(&app, &format!("/role/r1/data-source/{alias}")).await;
        tick();
    }
    for username in ["p3", "p1", "p2"] {
        put_ok(&app, &format!("/role/r1/person/{username}")).await;
        tick();
    }

    assert_eq!(list_ids(&app, "/role/r1/data-source").await, ds);
    assert_eq!(list_ids(&app, "/role/r1/person").await, people);
    assert_eq!(
        list_ids(&app, "/role/r2/data-source").await,
        [ds[2].as_str()]
    );
    assert_eq!(
        list_ids(&app, "/role/r2/person").await,
        [people[2].as_str()]
    );
    assert_eq!(
        list_ids(&app, "/data-source/d3/role").await,
        [r1.as_str(), r2.as_str()],
        "roles oldest first"
    );
    assert_eq!(
        list_ids(&app, "/person/p3/role").await,
        [r1.as_str(), r2.as_str()],
        "roles oldest first"
    );
    assert_eq!(list_ids(&app, "/data-source/d1/role").await, [r1.as_str()]);
    assert_eq!(list_ids(&app, "/person/p1/role").await, [r1.as_str()]);
    assert_eq!(
        list_ids(&app, "/person/p3/data-source").await,
        ds,
        "reach through both roles, once each, oldest data source first"
    );
}

#[tokio::test]
async fn role_data_source_lists_never_show_passwords() {
    let app = spawn_app().await;
    let pg = add_ds(&app, "ledger").await;
    let my = app
        .create(&[
            ("name", "crm"),
            ("configUri", "mariadb://root:My-Pw-99@crm.example.com/crm"),
        ])
        .await;
    let lite = app
        .create(&[
            ("name", "local"),
            ("configUri", "sqlite:///var/db/local.db"),
        ])
        .await;
    add_role(&app, "HR").await;
    add_person(&app, "ann").await;
    put_ok(&app, "/role/HR/person/ann").await;
    let mut expected = Vec::new();
    for ds in [&pg, &my, &lite] {
        put_ok(&app, &format!("/role/HR/data-source/{}", id(ds))).await;
        expected.push(get(&app, &format!("/data-source/{}", id(ds))).await);
    }
    assert_eq!(expected[0]["configUri"], redacted_uri("ledger"));
    assert_eq!(
        expected[1]["configUri"],
        "mysql://root@crm.example.com/crm?validateSsl=false&ssl=true"
    );
    for path in ["/role/HR/data-source", "/person/ann/data-source"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(!text.contains(DS_PASSWORD), "{path}: {text}");
        assert!(!text.contains("My-Pw-99"), "{path}: {text}");
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(list, Value::Array(expected.clone()), "{path}");
    }
}

#[tokio::test]
async fn role_members_reach_the_role_data_sources_and_only_while_members() {
    let app = spawn_app().await;
    let ledger = add_ds(&app, "ledger").await;
    add_ds(&app, "crm").await;
    add_role(&app, "HR").await;
    add_person(&app, "ann").await;
    add_person(&app, "bob").await;
    put_ok(&app, "/role/HR/data-source/ledger").await;
    assert_eq!(
        list_ids(&app, "/person/ann/data-source").await,
        Vec::<String>::new()
    );

    put_ok(&app, "/role/HR/person/ann").await;
    let reach = get(&app, "/person/ann/data-source").await;
    assert_eq!(reach, json!([get(&app, "/data-source/ledger").await]));
    assert_eq!(reach[0]["id"], ledger["id"]);
    assert_eq!(
        list_ids(&app, "/person/bob/data-source").await,
        Vec::<String>::new()
    );

    delete_ok(&app, "/role/HR/person/ann").await;
    assert_eq!(
        list_ids(&app, "/person/ann/data-source").await,
        Vec::<String>::new()
    );

    put_ok(&app, "/role/HR/person/ann").await;
    delete_ok(&app, "/role/HR/data-source/ledger").await;
    assert_eq!(
        list_ids(&app, "/person/ann/data-source").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn membership_endpoints_answer_404_for_an_unknown_role_person_or_data_source() {
    let app = spawn_app().await;
    add_ds(&app, "ledger").await;
    add_person(&app, "ann").await;
    add_role(&app, "HR").await;
    let cases = [
        (
            Method::PUT,
            "/role/nobody/data-source/ledger",
            "role_not_found",
        ),
        (
            Method::DELETE,
            "/role/nobody/data-source/ledger",
            "role_not_found",
        ),
        (
            Method::PUT,
            "/role/HR/data-source/nowhere",
            "data_source_not_found",
        ),
        (
            Method::DELETE,
            "/role/HR/data-source/nowhere",
            "data_source_not_found",
        ),
        (Method::PUT, "/role/nobody/person/ann", "role_not_found"),
        (Method::DELETE, "/role/nobody/person/ann", "role_not_found"),
        (Method::PUT, "/role/HR/person/nobody", "person_not_found"),
        (Method::DELETE, "/role/HR/person/nobody", "person_not_found"),
        (Method::GET, "/role/nobody", "role_not_found"),
        (Method::GET, "/role/RKm2x3dfX0b505iHy", "role_not_found"),
        (Method::DELETE, "/role/nobody", "role_not_found"),
        (Method::GET, "/role/nobody/data-source", "role_not_found"),
        (Method::GET, "/role/nobody/person", "role_not_found"),
        (
            Method::GET,
            "/data-source/nowhere/role",
            "data_source_not_found",
        ),
    ];
    for (method, path, code) in cases {
        let res = app.request(method, path).send().await.unwrap();
        error_json(res, 404, code).await;
    }
    assert_eq!(get(&app, "/role/HR/data-source").await, json!([]));
    assert_eq!(get(&app, "/role/HR/person").await, json!([]));
    assert_eq!(get(&app, "/data-source/ledger/role").await, json!([]));
    assert_eq!(get(&app, "/person/ann/role").await, json!([]));
    assert_eq!(get(&app, "/role").await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deleting_a_role_removes_it_from_data_source_and_person_role_lists() {
    let app = spawn_app().await;
    let ledger = add_ds(&app, "ledger").await;
    add_person(&app, "ann").await;
    add_role(&app, "HR").await;
    let finance = add_role(&app, "Finance").await;
    for role in ["HR", "Finance"] {
        put_ok(&app, &format!("/role/{role}/data-source/ledger")).await;
        put_ok(&app, &format!("/role/{role}/person/ann")).await;
    }

    delete_ok(&app, "/role/HR").await;
    assert_eq!(
        list_ids(&app, "/data-source/ledger/role").await,
        [id(&finance)]
    );
    assert_eq!(list_ids(&app, "/person/ann/role").await, [id(&finance)]);
    assert_eq!(list_ids(&app, "/role").await, [id(&finance)]);
    assert_eq!(
        list_ids(&app, "/person/ann/data-source").await,
        [id(&ledger)],
        "still reached through Finance"
    );

    delete_ok(&app, "/role/Finance").await;
    assert_eq!(get(&app, "/data-source/ledger/role").await, json!([]));
    assert_eq!(get(&app, "/person/ann/role").await, json!([]));
    assert_eq!(get(&app, "/person/ann/data-source").await, json!([]));

    // A new role with an old name starts empty.
    add_role(&app, "HR").await;
    assert_eq!(get(&app, "/role/HR/data-source").await, json!([]));
    assert_eq!(get(&app, "/role/HR/person").await, json!([]));
}

#[tokio::test]
async fn deleting_a_data_source_removes_it_from_role_data_source_lists() {
    let app = spawn_app().await;
    let ledger = add_ds(&app, "ledger").await;
    let crm = add_ds(&app, "crm").await;
    let hr = add_role(&app, "HR").await;
    add_person(&app, "ann").await;
    put_ok(&app, "/role/HR/person/ann").await;
    put_ok(&app, "/role/HR/data-source/ledger").await;
    put_ok(&app, "/role/HR/data-source/crm").await;
    assert_eq!(
        list_ids(&app, "/role/HR/data-source").await,
        [id(&ledger), id(&crm)]
    );

    delete_ok(&app, "/data-source/ledger").await;
    assert_eq!(list_ids(&app, "/role/HR/data-source").await, [id(&crm)]);
    assert_eq!(list_ids(&app, "/person/ann/data-source").await, [id(&crm)]);
    assert_eq!(list_ids(&app, "/role").await, [id(&hr)], "the role stays");
    assert_eq!(list_ids(&app, "/role/HR/person").await.len(), 1);

    // A new data source under the old alias is not a member.
    let again = add_ds(&app, "ledger").await;
    assert_eq!(list_ids(&app, "/role/HR/data-source").await, [id(&crm)]);
    assert_eq!(
        get(&app, &format!("/data-source/{}/role", id(&again))).await,
        json!([])
    );
}
