//! `GET /api/v2/openapi.json`: the document is served without vendor headers, is OpenAPI 3.x,
//! and cannot drift from the server: every documented path's `Allow` lists exactly the
//! documented methods, every documented operation is routed and answers only documented
//! statuses, every request body documents exactly the arguments the handler accepts, and every
//! endpoint of the contract's §3 table is documented.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{ok_json, spawn_app, TestApp, USER_AGENT};

/// Every endpoint of the contract's §3 table, plus the extensions (`/connection-test`,
/// `/audit`) and the document itself, with the contract's `:name` parameters.
const CONTRACT: &[&str] = &[
    "POST /data-source",
    "GET /data-source",
    "GET /data-source/:data-source",
    "GET /data-source/:data-source/detail",
    "POST /data-source/:data-source",
    "PUT /data-source/:data-source",
    "PATCH /data-source/:data-source",
    "DELETE /data-source/:data-source",
    "POST /data-source/:data-source/test",
    "GET /data-source/:data-source/permission",
    "DELETE /data-source/:data-source/permission",
    "GET /data-source/:data-source/role",
    "GET /whoami",
    "POST /person",
    "GET /person",
    "GET /person/:person",
    "POST /person/:person/lock",
    "PUT /person/:person/lock",
    "POST /person/:person/unlock",
    "DELETE /person/:person/lock",
    "DELETE /person/:person",
    "DELETE /person/:person/two-factor",
    "GET /person/:person/data-source",
    "GET /person/:person/role",
    "GET /person/:person/permission",
    "DELETE /person/:person/permission",
    "POST /role",
    "GET /role",
    "GET /role/:role",
    "DELETE /role/:role",
    "GET /role/:role/data-source",
    "PUT /role/:role/data-source/:data-source",
    "DELETE /role/:role/data-source/:data-source",
    "GET /role/:role/person",
    "PUT /role/:role/person/:person",
    "DELETE /role/:role/person/:person",
    "POST /data-source/:data-source/permission/person/:person",
    "GET /data-source/:data-source/permission/person/:person",
    "DELETE /data-source/:data-source/permission/person/:person",
    "GET /permission",
    "GET /permission/:permission",
    "DELETE /permission/:permission",
];

const EXTENSIONS: &[&str] = &[
    "POST /connection-test",
    "POST /test-run",
    "GET /data-source/:data-source/test-history",
    "GET /audit",
    "GET /openapi.json",
    "GET /data-source/:data-source/schema",
    "POST /data-source/:data-source/schema",
    "GET /alerts",
    "GET /data-source/:data-source/incidents",
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The document, fetched the way §6 says it can be: no User-Agent, Accept or credentials.
async fn document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(format!("{}/api/v2/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    ok_json(res).await
}

/// Each documented path with its methods, uppercase.
fn operations(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// `/role/{role}/person/{person}` with each `{name}` replaced by `fill(name)`.
fn fill(path: &str, value: impl Fn(&str) -> String) -> String {
    path.split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(name) => value(name.trim_end_matches('}')),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The contract's `/role/:role/person/:person` in the document's form.
fn from_contract(endpoint: &str) -> String {
    let (method, path) = endpoint.split_once(' ').unwrap();
    let path = path
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{}}}", name.replace('-', "_")),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/");
    format!("{method} {path}")
}

fn documented_endpoints(doc: &Value) -> BTreeSet<String> {
    operations(doc)
        .into_iter()
        .flat_map(|(path, methods)| methods.into_iter().map(move |m| format!("{m} {path}")))
        .collect()
}

/// A schema, following a `$ref` into `components`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            let kind = if reference.contains("/responses/") {
                "responses"
            } else {
                "schemas"
            };
            &doc["components"][kind][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_served_without_vendor_headers() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Jackal");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["servers"][0]["url"], "/api/v2");
    assert!(doc["paths"].as_object().unwrap().len() > 20);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "DataSourceView",
        "PersonView",
        "RoleView",
        "PermissionView",
        "AuditView",
        "TestResult",
        "WhoamiView",
        "ErrorBody",
        "EmptyObject",
        "Count",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    let basic = &doc["components"]["securitySchemes"]["basicAuth"];
    assert_eq!(basic["type"], "http");
    assert_eq!(basic["scheme"], "basic");
    assert_eq!(doc["security"], json!([{"basicAuth": []}]));

    // No vendor header is needed, and an Accept the API refuses does not matter here either.
    let res = app
        .client
        .get(format!("{}/api/v2/openapi.json/", app.address))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(res).await, doc);
    // Only GET is public: another method needs a key, and then gets its 405.
    let res = app
        .client
        .post(format!("{}/api/v2/openapi.json", app.address))
        .header("User-Agent", USER_AGENT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .request(Method::POST, "/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
}

#[tokio::test]
async fn every_contract_endpoint_is_documented_and_nothing_else() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let expected: BTreeSet<String> = CONTRACT
        .iter()
        .chain(EXTENSIONS)
        .map(|e| from_contract(e))
        .collect();
    assert_eq!(documented_endpoints(&doc), expected);

    // The list above is the contract's §3 table (the copy kept in docs/spec).
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/spec/api.md");
    let spec = std::fs::read_to_string(&spec)
        .unwrap_or_else(|e| panic!("reading the contract at {}: {e}", spec.display()));
    let table = spec
        .split("## 3. Endpoints")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the contract has a §3");
    let mut listed = BTreeSet::new();
    for row in table.lines().filter(|l| l.starts_with("| ")) {
        let cell = row.split('|').nth(1).unwrap();
        let words: Vec<&str> = cell.split_whitespace().collect();
        let mut first_path = None;
        for pair in words.windows(2) {
            let method = pair[0].trim_start_matches('(');
            if let Some(path) = pair[1].strip_prefix('`').and_then(|p| p.strip_suffix('`')) {
                if METHODS.contains(&method.to_ascii_lowercase().as_str()) {
                    listed.insert(format!("{method} {path}"));
                    first_path.get_or_insert(path);
                }
            }
        }
        // "POST `/data-source/:data-source` (PUT and PATCH too)"
        if cell.contains("(PUT and PATCH too)") {
            for method in ["PUT", "PATCH"] {
                listed.insert(format!("{method} {}", first_path.unwrap()));
            }
        }
    }
    let contract: BTreeSet<String> = CONTRACT.iter().map(|e| (*e).to_owned()).collect();
    assert_eq!(listed, contract, "the §3 table changed: update CONTRACT");
}

#[tokio::test]
async fn every_documented_path_allows_exactly_its_documented_methods() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    // Real objects to name in the paths.
    let ds = app
        .create(&[
            ("name", "Ledger"),
            ("alias", "ledger"),
            ("configUri", "postgresql://u:pw@db.example.com/ledger"),
        ])
        .await;
    let form = |path: &'static str, body: &'static str| app.form(Method::POST, path, body);
    let person =
        ok_json(form("/person", "name=Ann&email=ann@example.com&username=ann").await).await;
    let role = ok_json(form("/role", "name=Finance").await).await;
    let permission =
        ok_json(form("/data-source/ledger/permission/person/ann", "duration=3600").await).await;
    let names: BTreeMap<&str, &Value> = [
        ("data_source", &ds["id"]),
        ("person", &person["id"]),
        ("role", &role["id"]),
        ("permission", &permission["id"]),
    ]
    .into();

    let paths = operations(&doc);
    for (path, documented) in &paths {
        let url = fill(path, |name| names[name].as_str().unwrap().to_owned());
        // A method the path does not document (TRACE on all of them, today).
        let absent = ["TRACE", "PATCH", "PUT", "OPTIONS"]
            .into_iter()
            .find(|m| !documented.contains(*m))
            .unwrap();
        let res = app
            .request(Method::from_bytes(absent.as_bytes()).unwrap(), &url)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{absent} {url}");
        let allow: BTreeSet<String> = res.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        assert_eq!(
            &allow, documented,
            "Allow of {url} against the document's {path}"
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_a_documented_status() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (path, methods) in operations(&doc) {
        // Names of nothing: every handler answers without changing anything (a 404 for the
        // named object, a 400 for the missing arguments, or a list).
        let url = fill(&path, |name| format!("no-such-{name}"));
        for method in methods {
            let res = app
                .request(Method::from_bytes(method.as_bytes()).unwrap(), &url)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16().to_string();
            let body: Value = res.json().await.unwrap();
            assert_ne!(status, "405", "{method} {url}: {body}");
            assert_ne!(body["error"]["code"], "route_not_found", "{method} {url}");
            let operation = &doc["paths"][&path][method.to_lowercase()];
            assert!(
                operation["responses"].get(&status).is_some(),
                "{method} {path} answered {status}, which it does not document: {body}"
            );
        }
    }
}

#[tokio::test]
async fn request_bodies_document_exactly_the_accepted_arguments() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut bodies = 0;
    for (path, methods) in operations(&doc) {
        let url = fill(&path, |name| format!("no-such-{name}"));
        for method in methods {
            let operation = &doc["paths"][&path][method.to_lowercase()];
            let Some(content) = operation["requestBody"]["content"].as_object() else {
                continue;
            };
            bodies += 1;
            let types: BTreeSet<&str> = content.keys().map(String::as_str).collect();
            assert_eq!(
                types,
                BTreeSet::from(["application/json", "application/x-www-form-urlencoded"]),
                "{method} {path}"
            );
            let form = resolve(
                &doc,
                &content["application/x-www-form-urlencoded"]["schema"],
            );
            let schema = resolve(&doc, &content["application/json"]["schema"]);
            assert_eq!(form, schema, "{method} {path}: one schema for both");
            assert_eq!(schema["additionalProperties"], false, "{method} {path}");
            let documented: BTreeSet<&str> = schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            for required in schema["required"].as_array().into_iter().flatten() {
                assert!(documented.contains(required.as_str().unwrap()));
            }
            // The handler names the arguments it accepts when it meets one it does not.
            let res = app
                .json(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                    &json!({"not-an-argument": "x"}),
                )
                .await;
            assert_eq!(res.status(), 400, "{method} {path}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unknown_argument", "{method} {path}");
            let message = body["error"]["message"].as_str().unwrap();
            let accepted: BTreeSet<&str> = message
                .split("accepted arguments are ")
                .nth(1)
                .unwrap_or_else(|| panic!("{method} {path}: {message}"))
                .split(';')
                .next()
                .unwrap()
                .split(", ")
                .collect();
            assert_eq!(accepted, documented, "{method} {path}");
        }
    }
    assert_eq!(
        bodies, 8,
        "3 creates, 3 update methods, a grant, a connection test"
    );
}

/// The document is kept in the repository (docs/openapi.json, byte for byte what the server
/// serves), so a change to the contract shows in review; a change that was not meant to alter
/// the API fails here.
#[tokio::test]
async fn the_served_document_is_the_one_kept_in_docs() {
    let app = spawn_app().await;
    let served = app
        .client
        .get(format!("{}/api/v2/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let kept_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let kept = std::fs::read(&kept_path).unwrap();
    assert!(
        served == kept,
        "the served OpenAPI document differs from {}; if the API changed on purpose, save it \
         again: curl -s -A dev/1 http://127.0.0.1:8080/api/v2/openapi.json > docs/openapi.json",
        kept_path.display()
    );
}
