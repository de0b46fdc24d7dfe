//! Every list is streamed, a chunk of rows at a time (`src/api/list_stream.rs`): the answers
//! are checked across several chunks against what the single objects and the pages say, so a
//! row lost, repeated or misplaced at a chunk's edge fails here.

use std::collections::HashSet;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{error_json, ok_json, spawn_app, TestApp};

/// More than two chunks of 500.
const MANY: usize = 1_100;

async fn list(app: &TestApp, path: &str) -> (Vec<Value>, Option<String>) {
    let res = app.get(path).await;
    let length = res
        .headers()
        .get("content-length")
        .map(|v| v.to_str().unwrap().to_owned());
    let Value::Array(items) = ok_json(res).await else {
        panic!("{path} is not an array")
    };
    (items, length)
}

/// Creates `n` objects with `make(i)`, a few at a time.
async fn create_many<F, Fut>(n: usize, make: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for start in (0..n).step_by(50) {
        join_all((start..(start + 50).min(n)).map(&make)).await;
    }
}

/// The whole list is every page, in order; a page that crosses chunks is the same slice.
async fn pages_agree(app: &TestApp, path: &str, whole: &[Value]) {
    let mut paged = Vec::new();
    for offset in (0..whole.len()).step_by(300) {
        paged.extend(
            list(app, &format!("{path}?limit=300&offset={offset}"))
                .await
                .0,
        );
    }
    assert_eq!(paged, whole, "{path}: pages of 300");
    let (slice, _) = list(app, &format!("{path}?limit=700&offset=250")).await;
    assert_eq!(slice, whole[250..950], "{path}: limit 700 from 250");
    let (tail, _) = list(app, &format!("{path}?offset={}", whole.len() - 3)).await;
    assert_eq!(tail, whole[whole.len() - 3..], "{path}: the last three");
    let (none, _) = list(app, &format!("{path}?limit=0")).await;
    assert!(none.is_empty());
    let (beyond, _) = list(app, &format!("{path}?offset={}", whole.len() + 5)).await;
    assert!(beyond.is_empty());
}

#[tokio::test]
async fn long_lists_are_streamed_whole_in_order_and_agree_with_their_pages() {
    let app = spawn_app().await;
    create_many(MANY, |i| {
        let app = &app;
        async move {
            app.create(&[
                ("name", &format!("ds {i:04}")),
                ("configUri", "postgresql://u@127.0.0.1:5432/db"),
            ])
            .await;
        }
    })
    .await;
    let (data_sources, length) = list(&app, "/data-source").await;
    assert_eq!(data_sources.len(), MANY);
    assert_eq!(
        length, None,
        "a long list is sent in chunks, not measured first"
    );
    // Creation order: the names were made in parallel batches, so compare batch by batch.
    let ids: HashSet<&str> = data_sources
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), MANY, "no data source twice");
    for (n, d) in data_sources.iter().enumerate() {
        let batch: usize = d["name"].as_str().unwrap()[3..].parse::<usize>().unwrap() / 50;
        assert_eq!(batch, n / 50, "{d}");
    }
    // Each listed object is what retrieve says of it.
    for d in [
        &data_sources[0],
        &data_sources[499],
        &data_sources[500],
        &data_sources[MANY - 1],
    ] {
        let one = ok_json(
            app.get(&format!("/data-source/{}", d["id"].as_str().unwrap()))
                .await,
        )
        .await;
        assert_eq!(&one, d);
    }
    pages_agree(&app, "/data-source", &data_sources).await;

    // A short list is one piece, with its length.
    let (few, length) = list(&app, "/data-source?limit=3").await;
    assert_eq!(few.len(), 3);
    assert!(length.is_some());

    // People, roles, and one person's permission on every data source.
    create_many(MANY, |i| {
        let app = &app;
        async move {
            let body = format!("name=P{i}&email=p{i}@example.com&username=p{i}");
            ok_json(app.form(Method::POST, "/person", &body).await).await;
            ok_json(app.form(Method::POST, "/role", &format!("name=R{i}")).await).await;
        }
    })
    .await;
    let (people, _) = list(&app, "/person").await;
    assert_eq!(people.len(), MANY);
    pages_agree(&app, "/person", &people).await;
    let (roles, _) = list(&app, "/role").await;
    assert_eq!(roles.len(), MANY);
    pages_agree(&app, "/role", &roles).await;
    let person = people[0]["id"].as_str().unwrap().to_owned();
    create_many(MANY, |i| {
        let (app, person, ds) = (&app, &person, data_sources[i]["id"].as_str().unwrap());
        async move {
            let path = format!("/data-source/{ds}/permission/person/{person}");
            ok_json(app.form(Method::POST, &path, "duration=3600").await).await;
        }
    })
    .await;
    let (permissions, _) = list(&app, "/permission").await;
    assert_eq!(permissions.len(), MANY);
    pages_agree(&app, "/permission", &permissions).await;

    // The audit trail: more than 4,400 events, read 1,200 at a time across chunks, then on
    // with `after`: the ids run on without a gap or a repeat.
    let mut seen: Vec<u64> = Vec::new();
    let mut after = String::new();
    loop {
        let path = format!("/audit?limit=1200{after}");
        let (events, _) = list(&app, &path).await;
        if events.is_empty() {
            break;
        }
        seen.extend(
            events
                .iter()
                .map(|e| e["id"].as_str().unwrap().parse::<u64>().unwrap()),
        );
        after = format!("&after={}", seen.last().unwrap());
    }
    assert!(seen.len() >= 4 * MANY, "{}", seen.len());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ascending, each once");

    // The Mode dialect's list: HAL around the streamed array.
    let res = app
        .client
        .get(format!("{}/api/jackal/data_sources", app.address))
        .basic_auth(format!("{}@api", app.key.id), Some(&app.key.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let hal: Value = res.json().await.unwrap();
    let embedded = hal["_embedded"]["data_sources"].as_array().unwrap();
    assert_eq!(embedded.len(), MANY);
    assert_eq!(hal["_links"]["self"]["href"], "/api/jackal/data_sources");
    let tokens: Vec<&str> = embedded
        .iter()
        .map(|d| d["token"].as_str().unwrap())
        .collect();
    let ids: Vec<&str> = data_sources
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ids);
}

/// Every list that takes `?limit=` and `?offset=` refuses any other query parameter, as the
/// document says (and as the audit trail, test history and schema do): a misspelt `?limt=10`
/// must not answer the whole list as if it were not there.
#[tokio::test]
async fn the_paged_lists_refuse_unknown_query_parameters() {
    let app = spawn_app().await;
    for path in ["/data-source", "/person", "/role", "/permission"] {
        for query in ["limt=10", "=false", "limit=1&sort=name"] {
            let body = error_json(
                app.get(&format!("{path}?{query}")).await,
                400,
                "unknown_argument",
            )
            .await;
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.starts_with("unknown query parameter")
                    && message.ends_with("accepted are limit, offset"),
                "{path}?{query}: {message}"
            );
        }
        ok_json(app.get(&format!("{path}?limit=1&offset=0")).await).await;
    }
}
