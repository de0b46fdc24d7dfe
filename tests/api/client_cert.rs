//! Client certificates and CA certificates sent beside configUri (`sslCert`, `sslKey`,
//! `sslKeyPassword`, `sslRootCert`), over real HTTP, against PG_CERT and MARIADB_TLS of
//! scripts/test-databases: checked on arrival, shown by their facts, never answered, recorded or
//! stored in clear, and never presented to another destination.

use reqwest::Method;

use crate::connection_test::live;
use crate::helpers::{error_json, ok_json, spawn_app, spawn_app_with, test_key, TestApp};

/// The password of `client-encrypted-key.pem` (scripts/test-certs).
const KEY_PASSWORD: &str = "jackal-key-pw-1";

fn read(name: &str) -> String {
    let path = live::ca_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/test-databases", path.display()))
}

/// A line from the middle of a PEM text: what would show if any of it leaked.
fn secret_line(pem: &str) -> String {
    pem.lines().nth(2).unwrap().to_owned()
}

/// The SHA-256 fingerprint of `client-KIND.pem`, as OpenSSL prints it.
fn fingerprint(kind: &str) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(live::ca_dir().join(format!("client-{kind}.pem")))
        .output()
        .expect("openssl runs");
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim()
        .strip_prefix("sha256 Fingerprint=")
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned()
}

/// A form request of `pairs` (name, value): any slice of pairs serde can write.
async fn send<P: serde::Serialize + ?Sized>(
    app: &TestApp,
    method: Method,
    path: &str,
    pairs: &P,
) -> reqwest::Response {
    let body = serde_urlencoded::to_string(pairs).unwrap();
    app.form(method, path, &body).await
}

/// `uri` with `client-KIND.pem` and its key as sslCert and sslKey, and the test CA as
/// sslRootCert content.
fn with_client(uri: String, kind: &str) -> Vec<(&'static str, String)> {
    vec![
        ("configUri", uri),
        ("sslCert", read(&format!("client-{kind}.pem"))),
        ("sslKey", read(&format!("client-{kind}-key.pem"))),
        ("sslRootCert", read("ca.pem")),
    ]
}

/// PG_CERT as the test user (a `cert` rule: the certificate's CN must be the user), verified
/// against the CA sent as `sslRootCert` content.
fn pg_cert_uri(user: &str) -> String {
    format!(
        "postgresql://{user}@{}/{}?validateSsl=true",
        live::PG_CERT.get(),
        live::DATABASE.get()
    )
}

/// PG_CERT as `user`, encrypted but not verified (no CA needed).
fn pg_cert_unverified(user: &str) -> String {
    pg_cert_uri(user).replace("validateSsl=true", "validateSsl=false")
}

#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn an_unsaved_test_presents_the_certificate_and_trusts_the_ca_sent_as_content() {
    live::require(&[&live::PG_CERT]);
    let app = spawn_app().await;
    let key = read("client-encrypted-key.pem");
    let mut pairs = with_client(pg_cert_uri(live::USER.get()), "encrypted");
    pairs.push(("sslKeyPassword", KEY_PASSWORD.to_owned()));
    let result = ok_json(send(&app, Method::POST, "/connection-test", &pairs).await).await;
    assert_eq!(result["success"], true, "{result}");
    let tls = &result["tls"];
    assert_eq!(tls["verified"], true, "{tls}");
    assert_eq!(tls["clientCertificateRequested"], true);
    assert_eq!(tls["clientCertificate"]["subject"], "CN=jackal_test");
    assert_eq!(tls["clientCertificate"]["issuer"], "CN=Jackal test CA");
    assert_eq!(
        tls["clientCertificate"]["fingerprintSha256"],
        fingerprint("encrypted")
    );
    assert_eq!(tls["serverCertificate"]["issuer"], "CN=Jackal test CA");
    let text = result.to_string();
    assert!(!text.contains(&secret_line(&key)) && !text.contains(KEY_PASSWORD));

    // Without the certificate the same server refuses the login; with the other subject, the
    // certificate is refused.
    let result = ok_json(
        send(
            &app,
            Method::POST,
            "/connection-test",
            &with_client(pg_cert_uri(live::USER.get()), "other"),
        )
        .await,
    )
    .await;
    assert_eq!(result["errorCode"], "client_cert_rejected", "{result}");
}

#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn mysql_over_tls_reports_the_certificate_facts_and_presents_a_certificate() {
    live::require(&[&live::MARIADB_TLS]);
    let app = spawn_app().await;
    let uri = format!(
        "mysql://jackal_cert:{}@{}/{}?validateSsl=true",
        live::PASSWORD.get(),
        live::MARIADB_TLS.get(),
        live::DATABASE.get()
    );
    let result = ok_json(
        send(
            &app,
            Method::POST,
            "/connection-test",
            &with_client(uri, "ec"),
        )
        .await,
    )
    .await;
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["version"]["productName"], "MariaDB");
    let tls = &result["tls"];
    assert!(
        tls["cipherSuite"].as_str().unwrap().starts_with("TLS"),
        "{tls}"
    );
    assert_eq!(tls["serverCertificate"]["subject"], "CN=localhost");
    assert_eq!(
        tls["clientCertificate"]["fingerprintSha256"],
        fingerprint("ec")
    );
    let names: Vec<&str> = result["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["resolve", "connect", "tls", "auth", "query"]);
}

#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn a_saved_certificate_is_shown_by_its_facts_and_stays_with_its_destination() {
    live::require(&[&live::PG_CERT]);
    let app = spawn_app().await;
    let key = read("client-pkcs1-key.pem");
    let mut create = with_client(pg_cert_uri(live::USER.get()), "pkcs1");
    create.extend([("name", "mtls".to_owned()), ("alias", "mtls".to_owned())]);
    let created = ok_json(send(&app, Method::POST, "/data-source", &create).await).await;
    let shown = &created["tls"];
    assert_eq!(
        shown["clientCertificate"]["subject"], "CN=jackal_test",
        "{created}"
    );
    assert_eq!(shown["clientCertificate"]["issuer"], "CN=Jackal test CA");
    assert_eq!(
        shown["clientCertificate"]["fingerprintSha256"],
        fingerprint("pkcs1")
    );
    assert!(shown["clientCertificate"]["notAfter"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(shown["rootCertificates"][0]["subject"], "CN=Jackal test CA");
    for path in [
        "/data-source/mtls",
        "/data-source/mtls/detail",
        "/data-source",
    ] {
        let body = ok_json(app.get(path).await).await;
        let text = body.to_string();
        assert!(text.contains("CN=jackal_test"), "{path}: {text}");
        assert!(!text.contains(&secret_line(&key)), "{path}: the key");
    }
    let tested = crate::connection_test::test_stored(&app, "mtls").await;
    assert_eq!(tested["success"], true, "{tested}");

    // Renamed: kept. Moved to another user: dropped, the CA certificates with the client's
    // (never presented for someone else).
    let renamed =
        ok_json(send(&app, Method::PATCH, "/data-source/mtls", &[("name", "m2")]).await).await;
    assert_eq!(renamed["tls"], shown.clone());
    let moved = ok_json(
        send(
            &app,
            Method::PATCH,
            "/data-source/mtls",
            &[("configUri", &pg_cert_unverified("jackal_other"))],
        )
        .await,
    )
    .await;
    assert!(moved.get("tls").is_none(), "{moved}");
    let tested = crate::connection_test::test_stored(&app, "mtls").await;
    assert_eq!(
        tested["tls"]["clientCertificateRequested"], true,
        "{tested}"
    );
    assert!(tested["tls"].get("clientCertificate").is_none(), "{tested}");
    // Back, with the material sent again.
    let back = ok_json(
        send(
            &app,
            Method::PATCH,
            "/data-source/mtls",
            &with_client(pg_cert_uri(live::USER.get()), "pkcs8"),
        )
        .await,
    )
    .await;
    assert_eq!(
        back["tls"]["clientCertificate"]["fingerprintSha256"],
        fingerprint("pkcs8")
    );
    let tested = crate::connection_test::test_stored(&app, "mtls").await;
    assert_eq!(tested["success"], true, "{tested}");

    // The audit trail says what changed, never what the material is.
    let audit = ok_json(app.get("/audit?limit=100").await).await;
    let text = audit.to_string();
    assert!(
        text.contains("hasTlsMaterial") && text.contains("tlsMaterial"),
        "{audit}"
    );
    assert!(!text.contains(&secret_line(&key)));
    assert!(!text.contains(&secret_line(&read("client-pkcs8-key.pem"))));
}

/// Form arguments: (name, value) pairs.
type Arguments<'a> = Vec<(&'a str, &'a str)>;

fn expired_pair() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jackal_test");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

/// Each unusable set is a 400 naming the argument to fix, echoing nothing it was sent, on
/// create, on update (the stored data source unchanged) and on an unsaved test; nothing is
/// dialled.
#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn unusable_tls_material_is_a_400_that_names_the_argument() {
    // The certificates are scripts/test-databases's.
    live::require(&[&live::PG_CERT]);
    // Every refused unsaved test counts against the key's test allowance too.
    let app = spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.limits.tests_burst = 100;
    })
    .await;
    let uri = "postgresql://u@127.0.0.1:1/db?ssl=true";
    let (cert, key) = (read("client-pkcs8.pem"), read("client-pkcs8-key.pem"));
    let (ec_key, encrypted) = (read("client-ec-key.pem"), read("client-encrypted-key.pem"));
    let encrypted_cert = read("client-encrypted.pem");
    let (expired_cert, expired_key) = expired_pair();
    let garbage = "-----BEGIN PRIVATE KEY-----\nSECRET-LOOKING-TEXT\n-----END PRIVATE KEY-----";
    let cases: Vec<(Arguments, &str, &str)> = vec![
        (
            vec![("sslCert", &cert), ("sslKey", &ec_key)],
            "sslKey",
            "does not belong to sslCert",
        ),
        (
            vec![("sslCert", &cert), ("sslKey", garbage)],
            "sslKey",
            "not a private key",
        ),
        (vec![("sslCert", &cert)], "sslKey", "without sslKey"),
        (vec![("sslKey", &key)], "sslCert", "without sslCert"),
        (
            vec![("sslCert", "SECRET-LOOKING-TEXT"), ("sslKey", &key)],
            "sslCert",
            "no certificate",
        ),
        (
            vec![("sslCert", &encrypted_cert), ("sslKey", &encrypted)],
            "sslKeyPassword",
            "send its password",
        ),
        (
            vec![
                ("sslCert", &encrypted_cert),
                ("sslKey", &encrypted),
                ("sslKeyPassword", "SECRET-LOOKING-TEXT"),
            ],
            "sslKeyPassword",
            "does not decrypt",
        ),
        (
            vec![("sslCert", &expired_cert), ("sslKey", &expired_key)],
            "sslCert",
            "expired on 2021-01-01T00:00:00Z",
        ),
        (
            vec![("sslRootCert", "SECRET-LOOKING-TEXT")],
            "sslRootCert",
            "no CA certificate",
        ),
    ];
    let created = ok_json(
        send(
            &app,
            Method::POST,
            "/data-source",
            &[("name", "t"), ("alias", "t"), ("configUri", uri)],
        )
        .await,
    )
    .await;
    for (pairs, argument, says) in &cases {
        let mut unsaved = vec![("configUri", uri)];
        unsaved.extend(pairs.iter().copied());
        let mut create = vec![("name", "n"), ("configUri", uri)];
        create.extend(pairs.iter().copied());
        for (method, path, body) in [
            (Method::POST, "/connection-test", &unsaved),
            (Method::POST, "/data-source", &create),
            (Method::PATCH, "/data-source/t", &pairs.to_vec()),
        ] {
            let err = error_json(
                send(&app, method, path, body).await,
                400,
                "invalid_argument",
            )
            .await;
            let message = err["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(argument) && message.contains(says),
                "{path} {argument}: {message}"
            );
            assert!(!message.contains("SECRET-LOOKING-TEXT"), "{message}");
        }
    }
    // Material that has no use here.
    for (uri, says) in [
        ("postgresql://u@127.0.0.1:1/db?ssl=false", "ssl=false"),
        ("sqlite:///tmp/x.db", "SQLite"),
        (
            "postgresql://u@127.0.0.1:1/db?validateSsl=true&sslRootCert=/etc/ssl/ca.pem",
            "one or the other",
        ),
    ] {
        let pairs = [("configUri", uri), ("sslRootCert", &read("ca.pem"))];
        let err = error_json(
            send(&app, Method::POST, "/connection-test", &pairs).await,
            400,
            "invalid_argument",
        )
        .await;
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{uri}: {err}"
        );
    }
    // Nothing was stored by the refused updates.
    let stored = ok_json(app.get("/data-source/t").await).await;
    assert_eq!(stored, created, "unchanged");
}
