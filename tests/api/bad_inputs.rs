//! A table of bad requests: each gets the right status, a code, a message that says what to fix
//! and never the password, and none of them changes what is stored.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{error_json, ok_json, spawn_app, TestApp};

const SECRET: &str = "Sup3rS3cret";

struct Case {
    method: Method,
    path: &'static str,
    /// `None`: no body; `Some((content type, body))` otherwise.
    body: Option<(&'static str, String)>,
    status: u16,
    code: &'static str,
    /// Must appear in the message: the hint that says what to fix.
    says: &'static str,
}

fn form(body: &str) -> Option<(&'static str, String)> {
    Some(("application/x-www-form-urlencoded", body.to_owned()))
}

fn json(body: &str) -> Option<(&'static str, String)> {
    Some(("application/json", body.to_owned()))
}

fn create_with_uri(uri: &str) -> Option<(&'static str, String)> {
    form(&serde_urlencoded::to_string([("name", "x"), ("configUri", uri)]).unwrap())
}

fn case(
    method: Method,
    path: &'static str,
    body: Option<(&'static str, String)>,
    status: u16,
    code: &'static str,
    says: &'static str,
) -> Case {
    Case {
        method,
        path,
        body,
        status,
        code,
        says,
    }
}

fn cases() -> Vec<Case> {
    use Method as M;
    let pw = |uri: &str| uri.replace("PW", SECRET);
    vec![
        // create: arguments
        case(
            M::POST,
            "/data-source",
            None,
            400,
            "missing_argument",
            "name is required",
        ),
        case(
            M::POST,
            "/data-source",
            form("configUri=postgresql://h/db"),
            400,
            "missing_argument",
            "name is required",
        ),
        case(
            M::POST,
            "/data-source",
            form("name=x"),
            400,
            "missing_argument",
            "configUri is required",
        ),
        case(
            M::POST,
            "/data-source",
            form("name=%20%20&configUri=postgresql://h/db"),
            400,
            "invalid_argument",
            "name must not be empty",
        ),
        case(
            M::POST,
            "/data-source",
            form(&format!(
                "name={}&configUri=postgresql://h/db",
                "n".repeat(256)
            )),
            400,
            "invalid_argument",
            "limit is 255",
        ),
        case(
            M::POST,
            "/data-source",
            form("name=a%0Ab&configUri=postgresql://h/db"),
            400,
            "invalid_argument",
            "control characters",
        ),
        case(
            M::POST,
            "/data-source",
            form("name=x&alias=a/b&configUri=postgresql://h/db"),
            400,
            "invalid_argument",
            "must not contain '/'",
        ),
        case(
            M::POST,
            "/data-source",
            form("name=x&alias=DUGC6IqGQ4DX00Lt0&configUri=postgresql://h/db"),
            400,
            "invalid_argument",
            "look like a data source id",
        ),
        case(
            M::POST,
            "/data-source",
            form("name=x&colour=red&configUri=postgresql://h/db"),
            400,
            "unknown_argument",
            "accepted arguments are name, alias, configUri",
        ),
        case(
            M::POST,
            "/data-source",
            form(&pw(
                "name=x&configUri=postgresql://u:PW@h/db?validateSsl=true&ssl=true",
            )),
            400,
            "unknown_argument",
            "--data-urlencode",
        ),
        case(
            M::POST,
            "/data-source",
            form("name=a&name=b&configUri=postgresql://h/db"),
            400,
            "duplicate_argument",
            "more than once",
        ),
        // create: configUri
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("oracle://u:PW@h/db")),
            400,
            "invalid_config_uri",
            "postgresql, postgres, mysql, mariadb, sqlite",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW@/db")),
            400,
            "invalid_config_uri",
            "no host",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW@h:99999/db")),
            400,
            "invalid_config_uri",
            "port",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW@h:abc/db")),
            400,
            "invalid_config_uri",
            "port",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW@x@h/db")),
            400,
            "invalid_config_uri",
            "%40",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW/x@h/db")),
            400,
            "invalid_config_uri",
            "%2F",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW#x@h/db")),
            400,
            "invalid_config_uri",
            "%23",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW%zz@h/db")),
            400,
            "invalid_config_uri",
            "%25",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW@h/db?target_session_attrs=any")),
            400,
            "invalid_config_uri",
            "\"target_session_attrs\"",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW@h/db?ssl=maybe")),
            400,
            "invalid_config_uri",
            "ssl",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW@h/db?ssl=true&ssl=false")),
            400,
            "invalid_config_uri",
            "more than once",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("postgresql://u:PW@h/db?connectTimeout=0")),
            400,
            "invalid_config_uri",
            "connectTimeout",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("mysql://u:PW@h/db?sslRootCert=relative.pem")),
            400,
            "invalid_config_uri",
            "sslRootCert",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri("sqlite://relative.db"),
            400,
            "invalid_config_uri",
            "sqlite:///absolute",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri("sqlite:relative.db"),
            400,
            "invalid_config_uri",
            "sqlite:///absolute",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri("sqlite:///tmp/a.db?ssl=true"),
            400,
            "invalid_config_uri",
            "SQLite takes no options",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(&pw("just some text PW")),
            400,
            "invalid_config_uri",
            "must look like",
        ),
        case(
            M::POST,
            "/data-source",
            create_with_uri(""),
            400,
            "invalid_config_uri",
            "must look like",
        ),
        // bodies
        case(
            M::POST,
            "/data-source",
            json(&pw(
                "{\"name\": \"x\", \"configUri\": \"postgresql://u:PW@h",
            )),
            400,
            "invalid_json",
            "could not be parsed",
        ),
        case(
            M::POST,
            "/data-source",
            json("[\"name\", \"x\"]"),
            400,
            "invalid_json",
            "must be an object",
        ),
        case(
            M::POST,
            "/data-source",
            json("{\"name\": {\"a\": 1}, \"configUri\": \"postgresql://h\"}"),
            400,
            "invalid_argument",
            "must be a string",
        ),
        case(
            M::POST,
            "/data-source",
            Some(("text/csv", "name,x".to_owned())),
            415,
            "unsupported_media_type",
            "application/x-www-form-urlencoded",
        ),
        // update
        case(
            M::PATCH,
            "/data-source/existing",
            None,
            400,
            "missing_argument",
            "nothing to update",
        ),
        case(
            M::PATCH,
            "/data-source/existing",
            form("name="),
            400,
            "invalid_argument",
            "name must not be empty",
        ),
        case(
            M::PATCH,
            "/data-source/existing",
            create_with_uri(&pw("postgres://u:PW@h:0/db")),
            400,
            "invalid_config_uri",
            "port",
        ),
        case(
            M::PUT,
            "/data-source/existing",
            form("alias=taken"),
            409,
            "alias_taken",
            "choose another alias",
        ),
        case(
            M::POST,
            "/data-source/existing",
            form("type=mysql"),
            400,
            "unknown_argument",
            "\"type\"",
        ),
        case(
            M::PATCH,
            "/data-source/missing",
            form("name=x"),
            404,
            "data_source_not_found",
            "GET /api/v2/data-source",
        ),
        // other objects and routes
        case(
            M::GET,
            "/data-source/missing",
            None,
            404,
            "data_source_not_found",
            "no data source",
        ),
        case(
            M::GET,
            "/data-source/missing/detail",
            None,
            404,
            "data_source_not_found",
            "no data source",
        ),
        case(
            M::DELETE,
            "/data-source/missing",
            None,
            404,
            "data_source_not_found",
            "no data source",
        ),
        case(
            M::POST,
            "/data-source/existing/detail",
            None,
            405,
            "method_not_allowed",
            "allowed: GET",
        ),
        case(
            M::GET,
            "/datasource",
            None,
            404,
            "route_not_found",
            "/api/v2/data-source",
        ),
    ]
}

async fn snapshot(app: &TestApp) -> (Value, Vec<Value>) {
    let list = ok_json(app.get("/data-source").await).await;
    let mut details = Vec::new();
    for ds in list.as_array().unwrap() {
        let id = ds["id"].as_str().unwrap();
        details.push(ok_json(app.get(&format!("/data-source/{id}/detail")).await).await);
    }
    (list, details)
}

#[tokio::test]
async fn every_bad_input_is_refused_with_a_useful_message_and_changes_nothing() {
    let app = spawn_app().await;
    app.create(&[
        ("name", "Existing"),
        ("alias", "existing"),
        ("configUri", &format!("postgresql://u:{SECRET}@h:5432/db")),
    ])
    .await;
    app.create(&[
        ("name", "Other"),
        ("alias", "taken"),
        ("configUri", "mysql://h/db"),
    ])
    .await;
    let before = snapshot(&app).await;
    let cases = cases();
    assert!(cases.len() >= 30, "the table has {} rows", cases.len());
    for case in cases {
        let mut req = app.request(case.method.clone(), case.path);
        if let Some((content_type, body)) = &case.body {
            req = req.header("Content-Type", *content_type).body(body.clone());
        }
        let res = req.send().await.unwrap();
        let context = format!("{} {} {:?}", case.method, case.path, case.body);
        let body = error_json(res, case.status, case.code).await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(case.says),
            "{context}: message {message:?} lacks {:?}",
            case.says
        );
        assert!(
            !message.contains(SECRET),
            "{context}: password in {message:?}"
        );
        assert!(
            !message.contains("S3cret"),
            "{context}: password in {message:?}"
        );
        assert_eq!(snapshot(&app).await, before, "{context} changed the store");
    }
}
