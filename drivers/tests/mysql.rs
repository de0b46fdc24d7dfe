//! MySQL/MariaDB connection tests against the real servers `scripts/test-databases` sets up,
//! plus local sockets for the failures a server cannot produce on demand (closed port, silence).

mod cases;
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cases::{Case, Tls};
use common::{ca_dir, require, CA_PEM, DATABASE, MARIADB_PLAIN, MARIADB_TLS, PASSWORD, USER};
use jackal_drivers::{
    probe, ConnectionSpec, EgressPolicy, ErrorCode, Phase, ProbeContext, ProbeReport,
    StaticResolver,
};
use mysql_async::prelude::Queryable;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WRONG_PASSWORD: &str = "jackal-wrong-pw-8d1f";

/// Names resolve only through this resolver: `localhost` and a name no DNS knows, both to
/// 127.0.0.1. The default egress policy (which allows loopback) applies.
fn ctx() -> ProbeContext {
    ProbeContext {
        resolver: Arc::new(
            StaticResolver::new()
                .answer("localhost", &[LOOPBACK])
                .answer("db.jackal.test", &[LOOPBACK]),
        ),
        egress: EgressPolicy::default(),
        sqlite_allowed_dirs: Vec::new(),
        ssl_root_cert_dirs: vec![ca_dir()],
        default_timeout: Duration::from_secs(5),
        ssh_resolves_names: false,
    }
}

fn spec(uri: &str) -> ConnectionSpec {
    ConnectionSpec::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

fn uri(host_port: &str, password: &str, database: &str, options: &str) -> String {
    format!("mysql://{USER}:{password}@{host_port}/{database}?{options}")
}

async fn run(uri: &str) -> ProbeReport {
    probe(&spec(uri), &ctx()).await
}

fn phases(report: &ProbeReport) -> Vec<(Phase, bool)> {
    report.phases.iter().map(|p| (p.phase, p.ok)).collect()
}

/// The failure of `report`, checked to be `code`, to hold neither password, and to have ended
/// in a failed phase.
fn failure(report: &ProbeReport, code: ErrorCode) -> String {
    let failure = match &report.outcome {
        Ok(v) => panic!("expected {code:?}, got success: {v:?}"),
        Err(f) => f,
    };
    assert_eq!(failure.code, code, "{}", failure.message);
    for secret in [PASSWORD.get(), WRONG_PASSWORD] {
        assert!(!failure.message.contains(secret), "{}", failure.message);
    }
    assert!(
        report.phases.last().is_some_and(|p| !p.ok),
        "{:?}",
        report.phases
    );
    failure.message.clone()
}

/// What the server says its version is, asked directly with mysql_async.
async fn server_version(addr: &str) -> String {
    let addr: SocketAddr = addr.parse().unwrap();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some(USER.get()))
        .pass(Some(PASSWORD.get()))
        .db_name(Some(DATABASE.get()))
        .prefer_socket(false);
    let mut conn = mysql_async::Conn::new(opts).await.expect("direct login");
    let version: String = conn
        .query_first("SELECT VERSION()")
        .await
        .expect("SELECT VERSION()")
        .expect("a row");
    conn.disconnect().await.expect("disconnect");
    version
}

#[tokio::test]
#[ignore = "live: needs MARIADB_PLAIN (scripts/test-databases)"]
async fn plain_server_with_ssl_false_reports_mariadb_and_its_exact_version() {
    require(&[&MARIADB_PLAIN]);
    let report = run(&uri(
        MARIADB_PLAIN.get(),
        PASSWORD.get(),
        DATABASE.get(),
        "ssl=false",
    ))
    .await;
    let version = report.outcome.clone().expect("success");
    assert_eq!(version.product_name, "MariaDB");
    assert_eq!(version.compatible_with, None);
    assert_eq!(version.version_string.as_ref(), Some(&version.description));
    assert_eq!(
        version.description,
        server_version(MARIADB_PLAIN.get()).await
    );
    assert!(
        version.description.starts_with(&version.product_version),
        "{version:?}"
    );
    assert!(version.major >= 10, "{version:?}");
    assert_eq!(
        phases(&report),
        [
            (Phase::Resolve, true),
            (Phase::Connect, true),
            (Phase::Query, true)
        ]
    );
    assert_eq!(report.address, Some(MARIADB_PLAIN.get().parse().unwrap()));
    let tls = report.tls.expect("tls reported");
    assert!(
        !tls.enabled && !tls.verified && tls.protocol.is_none(),
        "{tls:?}"
    );
}

#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn tls_server_without_validation_is_encrypted_and_reports_the_protocol() {
    require(&[&MARIADB_TLS]);
    let report = run(&uri(
        MARIADB_TLS.get(),
        PASSWORD.get(),
        DATABASE.get(),
        "ssl=true&validateSsl=false",
    ))
    .await;
    let version = report.outcome.clone().expect("success");
    assert_eq!(version.product_name, "MariaDB");
    assert_eq!(version.description, server_version(MARIADB_TLS.get()).await);
    // Jackal's own handshake: timed as its own phase, with the certificate facts.
    assert_eq!(
        phases(&report),
        [
            (Phase::Resolve, true),
            (Phase::Connect, true),
            (Phase::Tls, true),
            (Phase::Auth, true),
            (Phase::Query, true)
        ]
    );
    let tls = report.tls.expect("tls reported");
    assert!(tls.enabled && !tls.verified, "{tls:?}");
    let protocol = tls.protocol.clone().expect("the negotiated version");
    assert!(protocol.starts_with("TLSv1."), "{protocol}");
    let facts = tls.facts.expect("facts");
    assert!(facts.cipher_suite.is_some(), "{facts:?}");
    let server = facts.server_certificate.expect("the server's certificate");
    assert_eq!(server.subject, "CN=localhost");
    assert_eq!(server.issuer, "CN=Jackal test CA");
    assert!(server.names.contains(&"127.0.0.1".to_owned()), "{server:?}");
    assert!(!facts.client_certificate_requested || facts.client_certificate.is_none());
    assert!(
        facts.warnings[0].starts_with("validateSsl=false"),
        "{:?}",
        facts.warnings
    );
}

#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn tls_server_is_verified_against_ssl_root_cert() {
    require(&[&MARIADB_TLS]);
    let options = format!("validateSsl=true&sslRootCert={CA_PEM}");
    let report = run(&uri(
        MARIADB_TLS.get(),
        PASSWORD.get(),
        DATABASE.get(),
        &options,
    ))
    .await;
    report.outcome.clone().expect("success");
    let tls = report.tls.expect("tls reported");
    assert!(tls.enabled && tls.verified, "{tls:?}");
}

#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn localhost_is_dialled_at_its_checked_ip_and_verified_by_name() {
    require(&[&MARIADB_TLS]);
    let port = MARIADB_TLS.get().rsplit(':').next().unwrap();
    let options = format!("validateSsl=true&sslRootCert={CA_PEM}");
    let report = run(&uri(
        &format!("localhost:{port}"),
        PASSWORD.get(),
        DATABASE.get(),
        &options,
    ))
    .await;
    report.outcome.clone().expect("success");
    assert_eq!(report.address, Some(MARIADB_TLS.get().parse().unwrap()));
    assert!(report.tls.expect("tls reported").verified);
}

#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn the_written_name_not_the_dialled_ip_is_what_the_certificate_must_match() {
    require(&[&MARIADB_TLS]);
    // The certificate lists 127.0.0.1, the address dialled, but not db.jackal.test, the host
    // written: verifying against the IP would wrongly pass.
    let port = MARIADB_TLS.get().rsplit(':').next().unwrap();
    let options = format!("validateSsl=true&sslRootCert={CA_PEM}");
    let report = run(&uri(
        &format!("db.jackal.test:{port}"),
        PASSWORD.get(),
        DATABASE.get(),
        &options,
    ))
    .await;
    let message = failure(&report, ErrorCode::TlsFailed);
    assert!(
        message.contains("not valid for the host name db.jackal.test"),
        "{message}"
    );
    assert_eq!(report.address, Some(MARIADB_TLS.get().parse().unwrap()));
}

#[tokio::test]
#[ignore = "live: needs MARIADB_PLAIN (scripts/test-databases)"]
async fn a_name_only_our_resolver_knows_is_never_resolved_again_by_the_driver() {
    require(&[&MARIADB_PLAIN]);
    // db.jackal.test exists only in the probe's resolver; had mysql_async been given the name,
    // its own lookup would fail.
    let port = MARIADB_PLAIN.get().rsplit(':').next().unwrap();
    let report = run(&uri(
        &format!("db.jackal.test:{port}"),
        PASSWORD.get(),
        DATABASE.get(),
        "ssl=false",
    ))
    .await;
    report.outcome.clone().expect("success");
    assert_eq!(report.address, Some(MARIADB_PLAIN.get().parse().unwrap()));
}

/// How each failure a live server gives is classified: code, message, failed phase, TLS.
#[tokio::test]
#[ignore = "live: needs MARIADB_PLAIN, MARIADB_TLS (scripts/test-databases)"]
async fn server_failures_are_classified() {
    require(&[&MARIADB_PLAIN, &MARIADB_TLS]);
    let (plain, tls) = (MARIADB_PLAIN.get(), MARIADB_TLS.get());
    let (password, database) = (PASSWORD.get(), DATABASE.get());
    // Without TLS, mysql_async logs in as part of connecting: the failed phase is `connect`.
    let cases = vec![
        Case {
            name: "wrong password, plain server",
            uri: uri(plain, WRONG_PASSWORD, database, "ssl=false"),
            code: ErrorCode::AuthFailed,
            message: vec![
                format!("access denied for user \"{USER}\""),
                "check the user and password in configUri".into(),
            ],
            failed: Phase::Connect,
            tls: Tls::Off,
        },
        Case {
            name: "wrong password, TLS server: after TLS succeeded",
            uri: uri(tls, WRONG_PASSWORD, database, "ssl=true"),
            code: ErrorCode::AuthFailed,
            message: vec![format!("access denied for user \"{USER}\"")],
            failed: Phase::Auth,
            tls: Tls::On,
        },
        // The server says "unknown database" (1049) only to a user with rights on that name.
        // scripts/test-databases grants ALL ON `jackal_test`.*, and `_` is a wildcard in a
        // database-level grant, so the user has rights on the (missing) `jackal0test` too.
        Case {
            name: "missing database the user may use",
            uri: uri(plain, password, "jackal0test", "ssl=false"),
            code: ErrorCode::UnknownDatabase,
            message: vec![format!(
                "database \"jackal0test\" does not exist on {plain}: check the database in configUri"
            )],
            failed: Phase::Connect,
            tls: Tls::Off,
        },
        // To a user without rights on it, a missing database looks forbidden (1044).
        Case {
            name: "database without rights",
            uri: uri(plain, password, "jackal_no_such_db", "ssl=false"),
            code: ErrorCode::AuthFailed,
            message: vec![
                "may not use the database \"jackal_no_such_db\"".into(),
                "whether it exists".into(),
            ],
            failed: Phase::Connect,
            tls: Tls::Off,
        },
        // The password is wrong on purpose: had the driver fallen back to a plain-text login,
        // the server would have answered "access denied" (auth_failed) instead. The greeting
        // said no TLS, and nothing more was sent (the TLS phase is the last).
        Case {
            name: "ssl=true on a server without TLS: no plain fallback",
            uri: uri(plain, WRONG_PASSWORD, database, "ssl=true"),
            code: ErrorCode::TlsUnavailable,
            message: vec![format!(
                "the server at {plain} does not offer TLS, and configUri asks for it (ssl=true): enable TLS on the server, or set ssl=false"
            )],
            failed: Phase::Tls,
            tls: Tls::Off,
        },
        Case {
            name: "validation without sslRootCert, test CA",
            uri: uri(tls, password, database, "validateSsl=true"),
            code: ErrorCode::TlsFailed,
            message: vec![
                "not signed by a CA Jackal trusts".into(),
                "issued by CN=Jackal test CA".into(),
                "sslRootCert".into(),
            ],
            failed: Phase::Tls,
            tls: Tls::Refused,
        },
    ];
    cases::check(cases, &[password, WRONG_PASSWORD], |uri| async move {
        run(&uri).await
    })
    .await;
}

#[tokio::test]
async fn closed_port_is_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let report = run(&uri(&addr, PASSWORD.get(), DATABASE.get(), "ssl=false")).await;
    let message = failure(&report, ErrorCode::Refused);
    assert!(message.contains(&addr), "{message}");
    assert!(
        message.contains("check the host and port (MySQL's default port is 3306)"),
        "{message}"
    );
    assert_eq!(
        phases(&report),
        [(Phase::Resolve, true), (Phase::Connect, false)]
    );
}

#[tokio::test]
async fn silent_listener_times_out_within_connect_timeout() {
    // Accepts connections and never writes a byte: no MySQL greeting ever comes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let report = run(&uri(
        &addr.to_string(),
        PASSWORD.get(),
        DATABASE.get(),
        "ssl=true&connectTimeout=1",
    ))
    .await;
    let elapsed = started.elapsed();
    silent.abort();
    let message = failure(&report, ErrorCode::Timeout);
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("within 1 s"), "{message}");
    assert_eq!(report.address, Some(addr));
    // Connected, then no greeting: the login never got anywhere.
    assert_eq!(
        phases(&report),
        [
            (Phase::Resolve, true),
            (Phase::Connect, true),
            (Phase::Auth, false)
        ]
    );
}

#[tokio::test]
async fn a_uri_without_user_is_invalid_and_dials_nothing() {
    let (port, accepted) = common::silent_listener().await;
    let report = run(&format!("mysql://127.0.0.1:{port}/db?ssl=false")).await;
    failure_without_phase(&report, ErrorCode::InvalidUri);
    assert_eq!(report.address, None);
    // A negative: a dial let through would reach the listener well within this wait.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was dialled"
    );
}

fn failure_without_phase(report: &ProbeReport, code: ErrorCode) {
    let failure = report.outcome.as_ref().expect_err("a failure");
    assert_eq!(failure.code, code, "{}", failure.message);
    assert!(
        report.phases.iter().all(|p| p.phase == Phase::Resolve),
        "{:?}",
        report.phases
    );
}

#[tokio::test]
async fn a_denied_address_is_never_dialled() {
    let ctx = ProbeContext {
        egress: EgressPolicy::new(Vec::new(), vec!["127.0.0.0/8".parse().unwrap()]),
        ..ctx()
    };
    let report = probe(
        &spec(&uri(
            MARIADB_PLAIN.get(),
            PASSWORD.get(),
            DATABASE.get(),
            "ssl=false",
        )),
        &ctx,
    )
    .await;
    failure(&report, ErrorCode::DeniedByPolicy);
    assert_eq!(phases(&report), [(Phase::Resolve, false)]);
    assert_eq!(report.address, None);
}

#[tokio::test]
async fn no_failure_message_contains_the_password() {
    // Every failure above is also checked by `failure`; this gathers the ones reachable without
    // a server.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let report = run(&uri(&closed, WRONG_PASSWORD, DATABASE.get(), "ssl=false")).await;
    assert_no_failure_quotes_a_password(vec![report]);
}

/// The failures the live servers answer, with a distinctive password: none may quote it.
#[tokio::test]
#[ignore = "live: needs MARIADB_PLAIN, MARIADB_TLS (scripts/test-databases)"]
async fn no_server_failure_message_contains_the_password() {
    require(&[&MARIADB_PLAIN, &MARIADB_TLS]);
    let cases = [
        (
            MARIADB_PLAIN.get(),
            WRONG_PASSWORD,
            DATABASE.get(),
            "ssl=false",
        ),
        (
            MARIADB_PLAIN.get(),
            WRONG_PASSWORD,
            "no_such_db",
            "ssl=true",
        ),
        (
            MARIADB_PLAIN.get(),
            PASSWORD.get(),
            "no_such_db",
            "ssl=false",
        ),
        (
            MARIADB_TLS.get(),
            WRONG_PASSWORD,
            DATABASE.get(),
            "validateSsl=true",
        ),
        (
            MARIADB_TLS.get(),
            WRONG_PASSWORD,
            DATABASE.get(),
            "ssl=true",
        ),
    ];
    let mut reports = Vec::new();
    for (addr, password, database, options) in cases {
        reports.push(run(&uri(addr, password, database, options)).await);
    }
    assert_no_failure_quotes_a_password(reports);
}

fn assert_no_failure_quotes_a_password(reports: Vec<ProbeReport>) {
    for report in reports {
        let failure = report.outcome.expect_err("a failure");
        for secret in [PASSWORD.get(), WRONG_PASSWORD] {
            assert!(!failure.message.contains(secret), "{}", failure.message);
        }
    }
}
