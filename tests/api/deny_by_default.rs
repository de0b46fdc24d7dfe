//! Every route of both dialects, spelled every way a path can be spelled, without credentials:
//! always 401, never the route's answer; and from a blocked address always 429. The routes
//! come from the OpenAPI document (which a test in `openapi` checks against the router) and the
//! Mode dialect's four; the objects they name exist, so a request that got through would answer.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{ok_json, spawn_app, TestApp};
use crate::raw::{self, addr, basic, RawResponse};

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// Mode's routes under `/api/{workspace}`, with their methods.
const MODE_ROUTES: &[(&str, &[&str])] = &[
    ("/data_sources", &["GET"]),
    (
        "/data_sources/{data_source}",
        &["GET", "PATCH", "PUT", "POST"],
    ),
    (
        "/data_sources/{data_source}/schema_updates",
        &["GET", "POST"],
    ),
    ("/data_sources/{data_source}/purge", &["POST"]),
];

/// Every route as `(method, path)` with its parameters filled in with real objects.
async fn every_route(app: &TestApp) -> Vec<(String, String)> {
    let ds = app
        .create(&[
            ("name", "Ledger"),
            (
                "configUri",
                "postgresql://u:Walk-Secret-Pw-1@db.example.com/ledger",
            ),
        ])
        .await;
    let form = |path: &'static str, body: &'static str| app.form(Method::POST, path, body);
    let person =
        ok_json(form("/person", "name=Ann&email=ann@example.com&username=ann").await).await;
    let role = ok_json(form("/role", "name=Finance").await).await;
    let ds_id = ds["id"].as_str().unwrap().to_owned();
    let permission = ok_json(
        app.form(
            Method::POST,
            &format!("/data-source/{ds_id}/permission/person/ann"),
            "duration=3600",
        )
        .await,
    )
    .await;
    let fill = |path: &str| {
        path.replace("{data_source}", &ds_id)
            .replace("{person}", person["id"].as_str().unwrap())
            .replace("{role}", role["id"].as_str().unwrap())
            .replace("{permission}", permission["id"].as_str().unwrap())
            .replace("{workspace}", "jackal")
    };
    let doc: Value = ok_json(
        app.client
            .get(format!("{}/api/v2/openapi.json", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            routes.push((method.to_uppercase(), fill(&format!("/api/v2{path}"))));
        }
    }
    for (path, methods) in MODE_ROUTES {
        for method in *methods {
            routes.push((
                method.to_string(),
                fill(&format!("/api/{{workspace}}{path}")),
            ));
        }
    }
    routes.retain(|(_, path)| path != "/api/v2/openapi.json");
    assert!(routes.len() > 40, "{} routes", routes.len());
    routes
}

/// `c` percent-encoded, with upper- or lower-case hex digits.
fn encoded(c: char, upper: bool) -> String {
    let hex = format!("%{:02X}", c as u32);
    if upper {
        hex
    } else {
        hex.to_lowercase()
    }
}

/// Every spelling of `path` the walk tries: each letter of each fixed segment percent-encoded
/// (in upper- and lower-case hex), upper case, each `/` as `%2F` or doubled, `.` and `x/..`
/// segments at each place, a trailing slash, and combinations.
fn spellings(path: &str, ids: &BTreeSet<String>) -> BTreeSet<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let join = |segs: &[String]| format!("/{}", segs.join("/"));
    let owned: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
    let mut out = BTreeSet::new();
    out.insert(path.to_owned());
    for (i, segment) in segments.iter().enumerate() {
        if ids.contains(*segment) {
            continue;
        }
        for (j, c) in segment.char_indices() {
            if !c.is_ascii_alphabetic() {
                continue;
            }
            for upper in [true, false] {
                let mut segs = owned.clone();
                segs[i] = format!(
                    "{}{}{}",
                    &segment[..j],
                    encoded(c, upper),
                    &segment[j + 1..]
                );
                out.insert(join(&segs));
            }
        }
        // The whole fixed segment encoded.
        let mut segs = owned.clone();
        segs[i] = segment.chars().map(|c| encoded(c, true)).collect();
        out.insert(join(&segs));
    }
    out.insert(path.to_uppercase());
    out.insert(format!("{path}/"));
    out.insert(format!("{path}//"));
    out.insert(format!("/{path}"));
    for i in 1..segments.len() {
        let (before, after) = (join(&owned[..i]), owned[i..].join("/"));
        out.insert(format!("{before}%2F{after}"));
        out.insert(format!("{before}%2f{after}"));
        out.insert(format!("{before}//{after}"));
        out.insert(format!("{before}/./{after}"));
        out.insert(format!("{before}/x/../{after}"));
        out.insert(format!("{before}/%2e/{after}"));
        out.insert(format!("{before}/x/%2E%2E/{after}"));
    }
    out.insert(format!("{path}/."));
    out.insert(format!("{path}/x/.."));
    out
}

async fn walk(
    app: &TestApp,
    routes: &[(String, String)],
    expect: impl Fn(&str, &str, &RawResponse),
) {
    let ids: BTreeSet<String> = routes
        .iter()
        .flat_map(|(_, p)| p.split('/').map(str::to_owned))
        .filter(|s| s.len() > 8 && s.chars().any(|c| c.is_ascii_digit()))
        .collect();
    let address = addr(app);
    let mut tried = 0;
    for (method, path) in routes {
        for spelling in spellings(path, &ids) {
            let res = raw::send(&address, &raw::request(method, &spelling, &[])).await;
            assert!(
                !res.body.contains("Walk-Secret-Pw-1"),
                "{method} {spelling}: {res:?}"
            );
            expect(method, &spelling, &res);
            tried += 1;
        }
    }
    println!("{tried} requests over {} routes", routes.len());
    assert!(tried > 2_000, "only {tried} spellings");
}

#[tokio::test]
async fn no_spelling_of_any_route_answers_without_credentials() {
    let app = spawn_app().await;
    let routes = every_route(&app).await;
    walk(&app, &routes, |method, path, res| {
        assert_eq!(res.status, 401, "{method} {path}: {res:?}");
        res.refused(401, "unauthorized");
    })
    .await;
}

#[tokio::test]
async fn no_spelling_of_any_route_answers_a_blocked_address() {
    let app = spawn_app().await;
    let routes = every_route(&app).await;
    let address = addr(&app);
    // Past [limits] auth_failures_before_block (30) failures, the address is blocked.
    let wrong = basic(&format!("{}@api", app.key.id), "not-the-secret");
    for _ in 0..31 {
        raw::send(
            &address,
            &raw::request("GET", "/api/v2/whoami", std::slice::from_ref(&wrong)),
        )
        .await;
    }
    // Blocked even with the right key.
    let right = basic(&format!("{}@api", app.key.id), &app.key.secret);
    let res = raw::send(
        &address,
        &raw::request("GET", "/api/v2/whoami", std::slice::from_ref(&right)),
    )
    .await;
    res.error(429, "too_many_auth_failures");
    walk(&app, &routes, |method, path, res| {
        assert_eq!(res.status, 429, "{method} {path}: {res:?}");
        res.refused(429, "too_many_auth_failures");
    })
    .await;
}

#[tokio::test]
async fn the_red_team_request_gets_no_password() {
    let app = spawn_app().await;
    let ds = app
        .create(&[
            ("name", "Prod"),
            (
                "configUri",
                "postgresql://u:Red-Team-Pw-77@db.example.com/prod",
            ),
        ])
        .await;
    let id = ds["id"].as_str().unwrap();
    let res = raw::send(
        &addr(&app),
        &raw::request("GET", &format!("/%61pi/v2/data-source/{id}/detail"), &[]),
    )
    .await;
    assert!(!res.body.contains("Red-Team-Pw-77"));
    res.error(401, "unauthorized");
    // With the key, the same spelling is the same route.
    let right = basic(&format!("{}@api", app.key.id), &app.key.secret);
    let res = raw::send(
        &addr(&app),
        &raw::request(
            "GET",
            &format!("/%61pi/v2/data-source/{id}/detail"),
            &[right],
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{res:?}");
    assert!(res.body.contains("Red-Team-Pw-77"));
}

#[tokio::test]
async fn public_operations_answer_without_credentials_in_the_spellings_the_router_takes() {
    let app = spawn_app().await;
    for path in [
        "/healthz",
        "/%68ealthz",
        "/healthz/",
        "//healthz",
        "/readyz",
        "/metrics",
        "/api/v2/openapi.json",
        "/api/v2/%6Fpenapi.json",
    ] {
        let res = raw::send(&addr(&app), &raw::request("GET", path, &[])).await;
        assert_eq!(res.status, 200, "{path}: {res:?}");
    }
    // Not public, in any spelling: a path that is not one of them needs a key.
    for path in [
        "/healthz/x",
        "/HEALTHZ",
        "/healthz%2F",
        "/",
        "/api/v2/openapi.json/x",
    ] {
        let res = raw::send(&addr(&app), &raw::request("GET", path, &[])).await;
        res.error(401, "unauthorized");
    }
}
