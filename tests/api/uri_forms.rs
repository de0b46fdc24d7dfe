//! configUri in the forms admins paste from other tools (libpq, JDBC, MySQL's clients): stored
//! in the contract's form, with `notes` saying what changed, on create, update and
//! `/connection-test`; an option understood but not honoured is a 400 naming it.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_json, ok_json, spawn_app, TestApp};

/// (pasted, stored with its password, a piece of each note in order)
const FORMS: &[(&str, &str, &[&str])] = &[
    (
        "postgres://app:pw@db.example.com/orders",
        "postgresql://app:pw@db.example.com/orders?validateSsl=false&ssl=true",
        &["postgres:// became postgresql://"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?sslmode=disable",
        "postgresql://app:pw@db.example.com/orders?ssl=false&validateSsl=false",
        &["sslmode=disable became ssl=false"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?sslmode=allow",
        "postgresql://app:pw@db.example.com/orders?validateSsl=false&ssl=true",
        &["sslmode=allow became validateSsl=false&ssl=true: Jackal never falls back to plain text"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?sslmode=prefer",
        "postgresql://app:pw@db.example.com/orders?validateSsl=false&ssl=true",
        &["sslmode=prefer became validateSsl=false&ssl=true: Jackal never falls back to plain text"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?sslmode=require",
        "postgresql://app:pw@db.example.com/orders?validateSsl=false&ssl=true",
        &["sslmode=require became validateSsl=false&ssl=true"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?sslmode=verify-ca",
        "postgresql://app:pw@db.example.com/orders?validateSsl=true&ssl=true",
        &["sslmode=verify-ca became validateSsl=true&ssl=true: Jackal's validateSsl checks the host name as well as the CA"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?sslmode=verify-full",
        "postgresql://app:pw@db.example.com/orders?validateSsl=true&ssl=true",
        &["sslmode=verify-full became validateSsl=true&ssl=true"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?sslmode=verify-full&sslrootcert=/etc/jackal/ca/db.pem",
        "postgresql://app:pw@db.example.com/orders?validateSsl=true&ssl=true&sslRootCert=/etc/jackal/ca/db.pem",
        &["sslrootcert became sslRootCert", "sslmode=verify-full became"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?sslrootcert=system",
        "postgresql://app:pw@db.example.com/orders?validateSsl=true&ssl=true",
        &["sslrootcert=system was dropped", "sslrootcert=system means sslmode=verify-full"],
    ),
    (
        "postgresql://app:pw@db.example.com/orders?connect_timeout=10&application_name=psql",
        "postgresql://app:pw@db.example.com/orders?connectTimeout=10&validateSsl=false&ssl=true",
        &[
            "connect_timeout=10 became connectTimeout",
            "application_name was dropped: Jackal's tests always connect as jackal-connection-test",
        ],
    ),
    (
        "postgresql://db.example.com/orders?user=app&password=p%40ss",
        "postgresql://app:p%40ss@db.example.com/orders?validateSsl=false&ssl=true",
        &["?user= moved before the @", "?password= moved before the @"],
    ),
    (
        "jdbc:postgresql://db.example.com:5432/orders?user=app&password=p%2Bw&ssl=true",
        "postgresql://app:p%2Bw@db.example.com:5432/orders?validateSsl=true&ssl=true",
        &[
            "jdbc:postgresql:// became postgresql://",
            "?user= moved",
            "?password= moved",
            "ssl=true in a PostgreSQL JDBC URL means sslmode=verify-full",
        ],
    ),
    (
        "jdbc:mysql://db.example.com:3306/shop?user=shop&password=a:b@c&connectTimeout=5000",
        "mysql://shop:a%3Ab%40c@db.example.com:3306/shop?connectTimeout=5&validateSsl=false&ssl=true",
        &[
            "jdbc:mysql:// became mysql://",
            "connectTimeout=5000 (milliseconds in a MySQL or MariaDB JDBC URL) became connectTimeout=5",
            "?user= moved",
            "?password= moved",
        ],
    ),
    (
        "jdbc:mariadb://db.example.com/shop?user=shop&password=pw&sslMode=verify-full",
        "mysql://shop:pw@db.example.com/shop?validateSsl=true&ssl=true",
        &[
            "jdbc:mariadb:// became mariadb://",
            "mariadb:// became mysql://",
            "?user= moved",
            "?password= moved",
            "sslMode=verify-full became validateSsl=true&ssl=true",
        ],
    ),
    (
        "mysql://shop:pw@db.example.com/shop?ssl-mode=DISABLED",
        "mysql://shop:pw@db.example.com/shop?ssl=false&validateSsl=false",
        &["ssl-mode=DISABLED became ssl=false"],
    ),
    (
        "mysql://shop:pw@db.example.com/shop?ssl-mode=PREFERRED",
        "mysql://shop:pw@db.example.com/shop?validateSsl=false&ssl=true",
        &["ssl-mode=PREFERRED became validateSsl=false&ssl=true: Jackal never falls back"],
    ),
    (
        "mysql://shop:pw@db.example.com/shop?ssl-mode=REQUIRED",
        "mysql://shop:pw@db.example.com/shop?validateSsl=false&ssl=true",
        &["ssl-mode=REQUIRED became validateSsl=false&ssl=true"],
    ),
    (
        "mysql://shop:pw@db.example.com/shop?ssl-mode=VERIFY_CA",
        "mysql://shop:pw@db.example.com/shop?validateSsl=true&ssl=true",
        &["ssl-mode=VERIFY_CA became validateSsl=true&ssl=true: Jackal's validateSsl checks the host name"],
    ),
    (
        "jdbc:mysql://db.example.com/shop?sslMode=VERIFY_IDENTITY",
        "mysql://db.example.com/shop?validateSsl=true&ssl=true",
        &["jdbc:mysql:// became", "sslMode=VERIFY_IDENTITY became validateSsl=true&ssl=true"],
    ),
];

fn notes(answer: &Value) -> Vec<String> {
    match answer.get("notes") {
        None => Vec::new(),
        Some(notes) => notes
            .as_array()
            .unwrap_or_else(|| panic!("notes is a list: {answer}"))
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect(),
    }
}

fn assert_notes(answer: &Value, pieces: &[&str], what: &str) {
    let notes = notes(answer);
    assert_eq!(notes.len(), pieces.len(), "{what}: {notes:?}");
    for (note, piece) in notes.iter().zip(pieces) {
        assert!(note.contains(piece), "{what}: {note:?} lacks {piece:?}");
    }
}

/// The stored configUri, as `/detail` shows it: no notes there.
async fn detail(app: &TestApp, id: &str) -> Value {
    ok_json(app.get(&format!("/data-source/{id}/detail")).await).await
}

#[tokio::test]
async fn each_pasted_form_is_stored_in_the_contracts_form_with_notes() {
    let app = spawn_app().await;
    for (i, (pasted, stored, pieces)) in FORMS.iter().enumerate() {
        let created = app
            .create(&[("name", &format!("form {i}")), ("configUri", pasted)])
            .await;
        assert_eq!(created["configUri"], *stored, "{pasted}");
        assert_notes(&created, pieces, pasted);
        let kept = detail(&app, created["id"].as_str().unwrap()).await;
        assert_eq!(kept["configUri"], *stored, "{pasted}");
        assert!(kept.get("notes").is_none(), "{kept}");
        let listed = ok_json(
            app.get(&format!("/data-source/{}", created["id"].as_str().unwrap()))
                .await,
        )
        .await;
        assert!(listed.get("notes").is_none(), "{listed}");
    }
}

#[tokio::test]
async fn a_uri_in_the_contracts_form_gets_no_notes() {
    let app = spawn_app().await;
    let created = app
        .create(&[
            ("name", "plain"),
            (
                "configUri",
                "postgresql://app:pw@db.example.com/orders?ssl=true",
            ),
        ])
        .await;
    assert!(created.get("notes").is_none(), "{created}");
}

#[tokio::test]
async fn an_update_with_a_pasted_form_stores_it_normalized_with_notes() {
    let app = spawn_app().await;
    let created = app
        .create(&[
            ("name", "orders"),
            ("configUri", "postgresql://app:pw@db.example.com/orders"),
        ])
        .await;
    let id = created["id"].as_str().unwrap();
    let body = serde_urlencoded::to_string([(
        "configUri",
        "jdbc:postgresql://db.example.com/orders?user=app&password=pw&sslmode=verify-ca",
    )])
    .unwrap();
    let updated = ok_json(
        app.form(Method::PATCH, &format!("/data-source/{id}"), &body)
            .await,
    )
    .await;
    let stored = "postgresql://app:pw@db.example.com/orders?validateSsl=true&ssl=true";
    assert_eq!(updated["configUri"], stored);
    assert_notes(
        &updated,
        &[
            "jdbc:postgresql:// became",
            "?user= moved",
            "?password= moved",
            "sslmode=verify-ca became validateSsl=true&ssl=true",
        ],
        "update",
    );
    assert_eq!(detail(&app, id).await["configUri"], stored);
    // An update that sends no configUri has nothing to note.
    let renamed = ok_json(
        app.form(Method::PATCH, &format!("/data-source/{id}"), "name=o2")
            .await,
    )
    .await;
    assert!(renamed.get("notes").is_none(), "{renamed}");
    // JSON bodies get the same.
    let updated = ok_json(
        app.json(
            Method::PUT,
            &format!("/data-source/{id}"),
            &json!({"configUri": "postgres://app@db.example.com/orders?sslmode=disable"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        updated["configUri"],
        "postgresql://app:pw@db.example.com/orders?ssl=false&validateSsl=false"
    );
    assert_notes(
        &updated,
        &["postgres:// became", "sslmode=disable became ssl=false"],
        "json",
    );
}

#[tokio::test]
async fn connection_test_of_a_pasted_form_carries_its_notes() {
    let app = spawn_app().await;
    // Nothing listens on port 1: the test fails (refused), and the notes come with its result.
    let body = serde_urlencoded::to_string([(
        "configUri",
        "postgres://u:pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=3",
    )])
    .unwrap();
    let result = ok_json(app.form(Method::POST, "/connection-test", &body).await).await;
    assert_eq!(result["success"], false, "{result}");
    assert_eq!(result["errorCode"], "refused", "{result}");
    assert_notes(
        &result,
        &[
            "postgres:// became",
            "connect_timeout=3 became connectTimeout",
            "sslmode=disable became ssl=false",
        ],
        "connection-test",
    );
    // A URI in the contract's form: no notes.
    let body =
        serde_urlencoded::to_string([("configUri", "postgresql://u:pw@127.0.0.1:1/db?ssl=false")])
            .unwrap();
    let result = ok_json(app.form(Method::POST, "/connection-test", &body).await).await;
    assert!(result.get("notes").is_none(), "{result}");
    // An option understood but not honoured is the test's result, as any invalid configUri is.
    let body = serde_urlencoded::to_string([(
        "configUri",
        "postgresql://u:pw@127.0.0.1:1/db?connect_timeout=0",
    )])
    .unwrap();
    let result = ok_json(app.form(Method::POST, "/connection-test", &body).await).await;
    assert_eq!(result["errorCode"], "invalid_uri", "{result}");
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains("connect_timeout"),
        "{result}"
    );
}

/// (pasted, the option the message names)
const REFUSED: &[(&str, &str)] = &[
    (
        "postgresql://app:S3cr3t-pw@h/db?sslmode=sometimes",
        "sslmode",
    ),
    ("mysql://app:S3cr3t-pw@h/db?ssl-mode=MAYBE", "ssl-mode"),
    (
        "postgresql://app:S3cr3t-pw@h/db?connect_timeout=0",
        "connect_timeout",
    ),
    (
        "postgresql://app:S3cr3t-pw@h/db?connect_timeout=600",
        "connect_timeout",
    ),
    (
        "postgresql://app:S3cr3t-pw@h/db?sslrootcert=root.crt",
        "sslrootcert",
    ),
    (
        "postgresql://app:S3cr3t-pw@h/db?sslmode=prefer&sslrootcert=system",
        "sslrootcert",
    ),
    (
        "postgresql://app:S3cr3t-pw@h/db?sslmode=disable&ssl=true",
        "sslmode",
    ),
    (
        "mysql://app:S3cr3t-pw@h/db?sslMode=REQUIRED&validateSsl=true",
        "sslMode",
    ),
    (
        "postgresql://app:S3cr3t-pw@h/db?sslcert=/home/me/client.crt",
        "sslcert",
    ),
    (
        "postgresql://app:S3cr3t-pw@h/db?sslkey=/home/me/client.key",
        "sslkey",
    ),
    ("postgresql://app@h/db?sslpassword=S3cr3t-pw", "sslpassword"),
    (
        "postgresql://app:S3cr3t-pw@h/db?password=S3cr3t-pw",
        "password",
    ),
    (
        "jdbc:postgresql://h/db?user=app&password=S3cr3t+pw",
        "password",
    ),
    (
        "jdbc:mysql://h/db?user=app&password=S3cr3t-pw&connectTimeout=0",
        "connectTimeout",
    ),
    ("jdbc:postgresql:db?user=app&password=S3cr3t-pw", "JDBC"),
];

#[tokio::test]
async fn options_understood_but_not_honoured_are_400s_naming_them() {
    let app = spawn_app().await;
    for (pasted, named) in REFUSED {
        let body = serde_urlencoded::to_string([("name", "x"), ("configUri", pasted)]).unwrap();
        let error = error_json(
            app.form(Method::POST, "/data-source", &body).await,
            400,
            "invalid_config_uri",
        )
        .await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{pasted}: {message}");
        assert!(!message.contains("S3cr3t"), "{pasted}: {message}");
    }
    let listed = ok_json(app.get("/data-source").await).await;
    assert_eq!(listed, json!([]), "nothing refused was stored");
}

#[tokio::test]
async fn a_plus_that_form_decoding_made_a_space_in_the_password_is_noted() {
    let app = spawn_app().await;
    // As `curl -d` sends it: the '+' of the password is a space once the form is decoded.
    let created = ok_json(
        app.form(
            Method::POST,
            "/data-source",
            "name=plus&configUri=postgresql://app:pa55+word@db.example.com/orders",
        )
        .await,
    )
    .await;
    assert_eq!(
        created["configUri"],
        "postgresql://app:pa55%20word@db.example.com/orders?validateSsl=false&ssl=true"
    );
    assert_notes(
        &created,
        &["a form value reads as a space: if the password has a '+', send configUri with curl --data-urlencode"],
        "curl -d",
    );
    assert!(!notes(&created)[0].contains("pa55"), "{created}");
    // As `curl --data-urlencode` sends it: the '+' arrives, and there is nothing to say.
    let encoded = app
        .create(&[
            ("name", "encoded"),
            (
                "configUri",
                "postgresql://app:pa55+word@db.example.com/orders",
            ),
        ])
        .await;
    assert_eq!(
        encoded["configUri"],
        "postgresql://app:pa55%2Bword@db.example.com/orders?validateSsl=false&ssl=true"
    );
    assert!(encoded.get("notes").is_none(), "{encoded}");
    // A space that was meant (sent as JSON, where '+' is a '+'): nothing to say either.
    let spaced = ok_json(
        app.json(
            Method::POST,
            "/data-source",
            &json!({"name": "spaced", "configUri": "postgresql://app:pa55%20word@db.example.com/orders"}),
        )
        .await,
    )
    .await;
    assert!(spaced.get("notes").is_none(), "{spaced}");
    // The same trap on an update, and on /connection-test.
    let id = encoded["id"].as_str().unwrap();
    let updated = ok_json(
        app.form(
            Method::PATCH,
            &format!("/data-source/{id}"),
            "configUri=postgresql://app:pa55+word@db.example.com/orders",
        )
        .await,
    )
    .await;
    assert_notes(&updated, &["a form value reads as a space"], "update");
    let result = ok_json(
        app.form(
            Method::POST,
            "/connection-test",
            "configUri=postgresql://app:pa55+word@127.0.0.1:1/orders?ssl=false",
        )
        .await,
    )
    .await;
    assert_notes(
        &result,
        &["a form value reads as a space"],
        "connection-test",
    );
}
