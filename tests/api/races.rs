//! Requests that race on one server: every uniqueness rule holds, idempotent calls stay
//! idempotent, and a second delete is a clean 404, whichever store the server uses (SQLite
//! serializes writers; PostgreSQL runs them side by side and must map its conflicts to the
//! contract's answers, never a 500).

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{error_json, ok_json, spawn_app, TestApp};
use crate::person::{add_ds, add_person, add_role, id, list_ids};

const N: usize = 12;

/// `N` copies of a request at once.
async fn at_once<'a, F, Fut>(request: F) -> Vec<Response>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Response> + 'a,
{
    futures_util::future::join_all((0..N).map(request)).await
}

/// Exactly one answer is a 200 (returned), every other one the error `code` with `status`.
async fn one_wins(answers: Vec<Response>, status: u16, code: &str) -> Value {
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let mut won = None;
    for res in answers {
        if res.status() == 200 {
            won = Some(ok_json(res).await);
        } else {
            error_json(res, status, code).await;
        }
    }
    won.unwrap()
}

async fn post_person(app: &TestApp, name: &str, email: &str, username: &str) -> Response {
    let body =
        serde_urlencoded::to_string([("name", name), ("email", email), ("username", username)])
            .unwrap();
    app.form(Method::POST, "/person", &body).await
}

#[tokio::test]
async fn racing_creates_keep_usernames_emails_and_role_names_unique() {
    let app = spawn_app().await;

    let answers = at_once(|i| {
        let app = &app;
        async move { post_person(app, "Ann", &format!("ann{i}@example.com"), "ann").await }
    })
    .await;
    let ann = one_wins(answers, 409, "username_taken").await;

    // Emails clash case-insensitively: the same address written with different cases.
    let answers = at_once(|i| {
        let app = &app;
        async move {
            let email = if i % 2 == 0 {
                "Bob@Example.com"
            } else {
                "bob@example.COM"
            };
            post_person(app, "Bob", email, &format!("bob{i}")).await
        }
    })
    .await;
    let bob = one_wins(answers, 409, "email_taken").await;
    assert_eq!(list_ids(&app, "/person").await, [id(&ann), id(&bob)]);

    let answers = at_once(|_| {
        let app = &app;
        async move { app.form(Method::POST, "/role", "name=Finance").await }
    })
    .await;
    let finance = one_wins(answers, 409, "role_name_taken").await;
    assert_eq!(list_ids(&app, "/role").await, [id(&finance)]);
}

#[tokio::test]
async fn racing_membership_puts_are_all_answered_and_make_one_membership() {
    let app = spawn_app().await;
    let ds = add_ds(&app, "ledger").await;
    add_person(&app, "ann").await;
    add_role(&app, "HR").await;
    for path in ["/role/HR/data-source/ledger", "/role/HR/person/ann"] {
        let answers = at_once(|_| {
            let app = &app;
            async move { app.request(Method::PUT, path).send().await.unwrap() }
        })
        .await;
        for res in answers {
            assert_eq!(ok_json(res).await, json!({}), "PUT {path}");
        }
    }
    assert_eq!(list_ids(&app, "/role/HR/data-source").await, [id(&ds)]);
    assert_eq!(list_ids(&app, "/role/HR/person").await.len(), 1);
    assert_eq!(list_ids(&app, "/data-source/ledger/role").await.len(), 1);
    assert_eq!(list_ids(&app, "/person/ann/role").await.len(), 1);

    // Racing removals: all answered, the memberships gone once.
    for path in ["/role/HR/data-source/ledger", "/role/HR/person/ann"] {
        let answers = at_once(|_| {
            let app = &app;
            async move { app.delete(path).await }
        })
        .await;
        for res in answers {
            assert_eq!(ok_json(res).await, json!({}), "DELETE {path}");
        }
    }
    assert!(list_ids(&app, "/role/HR/data-source").await.is_empty());
    assert!(list_ids(&app, "/role/HR/person").await.is_empty());
}

#[tokio::test]
async fn racing_deletes_of_one_data_source_delete_it_once() {
    let app = spawn_app().await;
    let doomed = add_ds(&app, "doomed").await;
    let kept = add_ds(&app, "kept").await;
    add_person(&app, "ann").await;
    add_role(&app, "HR").await;
    ok_json(
        app.request(Method::PUT, "/role/HR/data-source/doomed")
            .send()
            .await
            .unwrap(),
    )
    .await;
    ok_json(
        app.form(
            Method::POST,
            "/data-source/doomed/permission/person/ann",
            "duration=3600",
        )
        .await,
    )
    .await;
    let path = format!("/data-source/{}", id(&doomed));
    let answers = at_once(|_| {
        let (app, path) = (&app, &path);
        async move { app.delete(path).await }
    })
    .await;
    assert_eq!(
        one_wins(answers, 404, "data_source_not_found").await,
        json!({})
    );
    assert_eq!(list_ids(&app, "/data-source").await, [id(&kept)]);
    assert!(list_ids(&app, "/role/HR/data-source").await.is_empty());
    assert!(list_ids(&app, "/permission").await.is_empty());
}
