//! Mutual TLS against the real servers of `scripts/test-databases`: PG_CERT (`hostssl … cert`,
//! the test CA), PGBOUNCER_CERT (a certificate demanded at the TLS level) and MARIADB_TLS's
//! `jackal_cert` account (`REQUIRE SUBJECT '/CN=jackal_test' AND ISSUER '/CN=Jackal test CA'`),
//! with the client certificates `scripts/test-certs` made next to the test CA.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    ca_dir, require, CA_PEM, DATABASE, MARIADB_TLS, PASSWORD, PGBOUNCER_CERT, PG_ADMIN_USER,
    PG_CERT, USER,
};
use jackal_drivers::report::CertificateFacts;
use jackal_drivers::{
    probe, ConnectionSpec, EgressPolicy, ErrorCode, ProbeContext, ProbeReport, StaticResolver,
    TlsCredentials,
};
use zeroize::Zeroizing;

/// The MARIADB_TLS account that requires a client certificate (scripts/test-databases).
const MARIADB_CERT_USER: &str = "jackal_cert";
/// The password of `client-encrypted-key.pem`.
const KEY_PASSWORD: &str = "jackal-key-pw-1";

fn ctx() -> ProbeContext {
    ProbeContext {
        resolver: Arc::new(StaticResolver::new()),
        egress: EgressPolicy::default(),
        sqlite_allowed_dirs: Vec::new(),
        ssl_root_cert_dirs: vec![ca_dir()],
        default_timeout: Duration::from_secs(5),
        ssh_resolves_names: false,
    }
}

fn read(name: &str) -> String {
    let path = ca_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/test-databases", path.display()))
}

/// `client-KIND.pem` and its key as sslCert and sslKey (with the password of the encrypted one).
fn client(kind: &str) -> TlsCredentials {
    TlsCredentials {
        client_cert: Some(read(&format!("client-{kind}.pem"))),
        client_key: Some(Zeroizing::new(read(&format!("client-{kind}-key.pem")))),
        key_password: (kind == "encrypted").then(|| Zeroizing::new(KEY_PASSWORD.to_owned())),
        root_cert: None,
    }
}

/// What OpenSSL says of `client-KIND.pem`: subject, issuer and SHA-256 fingerprint.
fn openssl_facts(kind: &str) -> (String, String, String) {
    let path = ca_dir().join(format!("client-{kind}.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "x509", "-noout", "-nameopt", "RFC2253", "-subject", "-issuer",
        ])
        .args(["-fingerprint", "-sha256", "-in"])
        .arg(&path)
        .output()
        .expect("openssl runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix} in {text}"))
            .trim()
            .to_owned()
    };
    (
        field("subject="),
        field("issuer="),
        field("sha256 Fingerprint="),
    )
}

async fn test(uri: &str, credentials: TlsCredentials) -> ProbeReport {
    let spec = ConnectionSpec::parse(uri)
        .unwrap()
        .with_tls_credentials(credentials)
        .expect("the test's material is usable");
    probe(&spec, &ctx()).await
}

fn pg_cert(user: &str) -> String {
    format!(
        "postgresql://{user}:{PASSWORD}@{PG_CERT}/{DATABASE}?validateSsl=true&sslRootCert={CA_PEM}"
    )
}

fn mariadb_cert() -> String {
    format!(
        "mysql://{MARIADB_CERT_USER}:{PASSWORD}@{MARIADB_TLS}/{DATABASE}?validateSsl=true&sslRootCert={CA_PEM}"
    )
}

/// The client certificate the test reported presenting.
fn presented(report: &ProbeReport) -> CertificateFacts {
    let facts = report
        .tls
        .as_ref()
        .and_then(|t| t.facts.as_ref())
        .expect("TLS facts");
    assert!(facts.client_certificate_requested);
    facts
        .client_certificate
        .clone()
        .expect("a certificate was presented")
}

fn failure(report: &ProbeReport, code: ErrorCode) -> String {
    match &report.outcome {
        Ok(v) => panic!("expected {code:?}, got success: {v:?}"),
        Err(f) => {
            assert_eq!(f.code, code, "{}", f.message);
            assert!(!f.message.contains(PASSWORD.get()), "{}", f.message);
            f.message.clone()
        }
    }
}

#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn postgresql_takes_each_key_format_and_reports_the_certificate_presented() {
    require(&[&PG_CERT]);
    for kind in ["pkcs8", "pkcs1", "ec", "encrypted"] {
        let report = test(&pg_cert(USER.get()), client(kind)).await;
        let version = report
            .outcome
            .as_ref()
            .unwrap_or_else(|f| panic!("{kind}: {f:?}"));
        assert_eq!(version.product_name, "PostgreSQL");
        let cert = presented(&report);
        let (subject, issuer, fingerprint) = openssl_facts(kind);
        assert_eq!(cert.subject, subject, "{kind}");
        assert_eq!(cert.issuer, issuer, "{kind}");
        assert_eq!(cert.fingerprint_sha256, fingerprint, "{kind}");
        assert!(cert.days_left > 3000, "{kind}: {cert:?}");
        // The server's side, checked against the certificate the script made.
        let tls = report.tls.as_ref().unwrap();
        let server = tls
            .facts
            .as_ref()
            .unwrap()
            .server_certificate
            .clone()
            .unwrap();
        assert_eq!(server.subject, "CN=localhost");
        assert_eq!(server.issuer, "CN=Jackal test CA");
        assert!(tls.verified);
        assert!(tls.facts.as_ref().unwrap().warnings.is_empty(), "{tls:?}");
    }
}

#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn postgresql_refuses_a_certificate_from_an_untrusted_ca_as_client_cert_rejected() {
    require(&[&PG_CERT]);
    let report = test(&pg_cert(USER.get()), client("untrusted")).await;
    let message = failure(&report, ErrorCode::ClientCertRejected);
    assert!(
        message.contains("CN=jackal_test")
            && message.contains("its issuer (CN=Jackal untrusted CA) is unknown to the server"),
        "{message}"
    );
}

#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn postgresql_refuses_a_subject_that_is_not_the_user_as_client_cert_rejected() {
    require(&[&PG_CERT]);
    let report = test(&pg_cert(USER.get()), client("other")).await;
    let message = failure(&report, ErrorCode::ClientCertRejected);
    assert!(
        message.contains("CN=jackal_other") && message.contains("CN to be the user name"),
        "{message}"
    );
}

#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn a_certificate_that_expires_soon_works_and_is_warned_about() {
    require(&[&PG_CERT]);
    let report = test(&pg_cert(USER.get()), client("soon")).await;
    report.outcome.as_ref().expect("success");
    let cert = presented(&report);
    assert!((0..=3).contains(&cert.days_left), "{cert:?}");
    let warnings = &report
        .tls
        .as_ref()
        .unwrap()
        .facts
        .as_ref()
        .unwrap()
        .warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("the client certificate (sslCert) (CN=jackal_test) expires in")
            && warnings[0].contains(&cert.not_after),
        "{warnings:?}"
    );
}

/// pgbouncer demands a certificate at the TLS level: refused without one (the alert), in with
/// one of the test CA.
#[tokio::test]
#[ignore = "live: needs PGBOUNCER_CERT (scripts/test-databases)"]
async fn pgbouncer_demanding_a_certificate_takes_the_one_presented() {
    require(&[&PGBOUNCER_CERT]);
    let uri = format!(
        "postgresql://{PG_ADMIN_USER}@{PGBOUNCER_CERT}/postgres?validateSsl=true&sslRootCert={CA_PEM}"
    );
    let report = test(&uri, TlsCredentials::default()).await;
    failure(&report, ErrorCode::ClientCertRequired);
    let report = test(&uri, client("ec")).await;
    report
        .outcome
        .as_ref()
        .expect("success with the certificate");
    assert_eq!(presented(&report).subject, "CN=jackal_test");
    let report = test(&uri, client("untrusted")).await;
    let message = failure(&report, ErrorCode::ClientCertRejected);
    assert!(message.contains("CN=Jackal untrusted CA"), "{message}");
}

#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn mariadb_takes_the_certificate_its_account_requires() {
    require(&[&MARIADB_TLS]);
    for kind in ["pkcs8", "pkcs1", "ec", "encrypted"] {
        let report = test(&mariadb_cert(), client(kind)).await;
        let version = report
            .outcome
            .as_ref()
            .unwrap_or_else(|f| panic!("{kind}: {f:?}"));
        assert_eq!(version.product_name, "MariaDB");
        let (subject, _, fingerprint) = openssl_facts(kind);
        let cert = presented(&report);
        assert_eq!(cert.subject, subject);
        assert_eq!(cert.fingerprint_sha256, fingerprint);
    }
}

/// MariaDB asks every TLS client for a certificate and judges at login: without one, or with
/// one whose subject the account does not name, it answers error 1045, the same as for a
/// wrong password. `auth_failed`, saying so.
#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn mariadb_without_the_required_certificate_is_auth_failed_naming_the_certificate() {
    require(&[&MARIADB_TLS]);
    let report = test(&mariadb_cert(), TlsCredentials::default()).await;
    let message = failure(&report, ErrorCode::AuthFailed);
    assert!(
        message.contains("asked for a client certificate, and none is configured")
            && message.contains("sslCert and sslKey"),
        "{message}"
    );
    let report = test(&mariadb_cert(), client("other")).await;
    let message = failure(&report, ErrorCode::AuthFailed);
    assert!(
        message.contains("CN=jackal_other") && message.contains("REQUIRE SUBJECT"),
        "{message}"
    );
}

#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn mariadb_refuses_a_certificate_from_an_untrusted_ca_as_client_cert_rejected() {
    require(&[&MARIADB_TLS]);
    let report = test(&mariadb_cert(), client("untrusted")).await;
    let message = failure(&report, ErrorCode::ClientCertRejected);
    assert!(message.contains("CN=Jackal untrusted CA"), "{message}");
}
