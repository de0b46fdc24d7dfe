//! The PostgreSQL probe against real servers (see `common`), and against sockets of our own
//! for what no server does on purpose: refuse, stay silent, be denied.

mod cases;
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cases::{Case, Tls};
use common::{
    ca_dir, require, silent_listener, CA_PEM, DATABASE, PASSWORD, PGBOUNCER, PGBOUNCER_CERT,
    PG_ADMIN_USER, PG_CERT, PG_MAIN, PG_PLAIN, PG_TLS, USER,
};
use jackal_drivers::{
    probe, ConnectionSpec, EgressPolicy, ErrorCode, Phase, ProbeContext, ProbeReport, ResolveError,
    StaticResolver,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A password no server has, easy to spot in a message.
const WRONG_PASSWORD: &str = "Wr0ng-Zebra-Password-7731";

/// A context that never asks real DNS: names are answered by `resolver` only.
fn context(resolver: StaticResolver) -> ProbeContext {
    ProbeContext {
        resolver: Arc::new(resolver),
        egress: EgressPolicy::allow_all(),
        sqlite_allowed_dirs: Vec::new(),
        ssl_root_cert_dirs: vec![ca_dir()],
        default_timeout: Duration::from_secs(5),
        ssh_resolves_names: false,
    }
}

async fn run_with(uri: &str, ctx: &ProbeContext) -> ProbeReport {
    let spec = ConnectionSpec::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
    probe(&spec, ctx).await
}

async fn run(uri: &str) -> ProbeReport {
    run_with(uri, &context(StaticResolver::new())).await
}

fn phases(report: &ProbeReport) -> Vec<(&'static str, bool)> {
    report
        .phases
        .iter()
        .map(|p| (p.phase.as_str(), p.ok))
        .collect()
}

const ALL_OK: [(&str, bool); 5] = [
    ("resolve", true),
    ("connect", true),
    ("tls", true),
    ("auth", true),
    ("query", true),
];

fn assert_success(report: &ProbeReport) {
    let version = report
        .outcome
        .as_ref()
        .unwrap_or_else(|f| panic!("expected success, got {f:?}; phases {:?}", report.phases));
    assert_eq!(version.product_name, "PostgreSQL");
    // The real server is its own wire product: nothing to be compatible with.
    assert_eq!(version.compatible_with, None);
    assert_eq!(version.version_string.as_ref(), Some(&version.description));
    assert!(
        version.description.starts_with("PostgreSQL "),
        "{}",
        version.description
    );
    assert!(version.major >= 9, "{version:?}");
    assert!(
        version
            .product_version
            .starts_with(&version.major.to_string()),
        "{version:?}"
    );
}

fn assert_failure(report: &ProbeReport, code: ErrorCode) -> String {
    let failure = report
        .outcome
        .as_ref()
        .expect_err("expected the probe to fail");
    assert_eq!(
        failure.code, code,
        "{failure:?}; phases {:?}",
        report.phases
    );
    let last = report.phases.last().expect("a failure has a last phase");
    assert!(!last.ok, "the last phase failed: {:?}", report.phases);
    failure.message.clone()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

// --- success -----------------------------------------------------------------------------

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn plain_connection_to_main_server_succeeds_without_tls() {
    require(&[&PG_MAIN]);
    let report = run(&format!(
        "postgresql://{PG_ADMIN_USER}@{PG_MAIN}/postgres?ssl=false"
    ))
    .await;
    assert_success(&report);
    let expected: Vec<_> = ALL_OK.iter().copied().filter(|p| p.0 != "tls").collect();
    assert_eq!(phases(&report), expected);
    let tls = report.tls.as_ref().expect("a TLS report even without TLS");
    assert!(
        !tls.enabled && !tls.verified && tls.protocol.is_none(),
        "{tls:?}"
    );
    assert_eq!(report.address, Some(addr(PG_MAIN.get())));
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn tls_without_validation_to_self_signed_main_server_succeeds() {
    require(&[&PG_MAIN]);
    let report = run(&format!(
        "postgresql://{PG_ADMIN_USER}@{PG_MAIN}/postgres?ssl=true&validateSsl=false"
    ))
    .await;
    assert_success(&report);
    assert_eq!(phases(&report), ALL_OK);
    let tls = report.tls.as_ref().expect("TLS report");
    assert!(tls.enabled && !tls.verified, "{tls:?}");
    assert!(tls.protocol.is_some(), "{tls:?}");
    // The machine's own certificate is self-signed, and nothing was verified: both warned.
    let facts = tls.facts.as_ref().expect("Jackal ran the handshake");
    let cert = facts.server_certificate.as_ref().expect("a certificate");
    assert!(cert.self_signed, "{cert:?}");
    assert_eq!(facts.warnings.len(), 2, "{:?}", facts.warnings);
    assert!(facts.warnings[0].starts_with("validateSsl=false"));
    assert!(facts.warnings[1].contains("is self-signed"));
}

#[tokio::test]
#[ignore = "live: needs PG_TLS (scripts/test-databases)"]
async fn verified_tls_with_test_ca_and_password_succeeds() {
    require(&[&PG_TLS]);
    let report = run(&format!(
        "postgresql://{USER}:{PASSWORD}@{PG_TLS}/{DATABASE}?validateSsl=true&sslRootCert={CA_PEM}"
    ))
    .await;
    assert_success(&report);
    assert_eq!(phases(&report), ALL_OK);
    let tls = report.tls.as_ref().expect("TLS report");
    assert!(
        tls.enabled && tls.verified && tls.protocol.is_some(),
        "{tls:?}"
    );
    // The facts of the certificate scripts/test-certs made, read back by openssl.
    let facts = tls.facts.as_ref().expect("Jackal ran the handshake");
    let cert = facts.server_certificate.as_ref().expect("a certificate");
    let pem = CA_PEM.get().replace("ca.pem", "server.pem");
    let openssl = |what: &str| {
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-dateopt", "iso_8601", what, "-in", &pem])
            .output()
            .expect("openssl runs");
        let text = String::from_utf8(out.stdout).unwrap();
        text.trim().split_once('=').unwrap().1.replace(' ', "T")
    };
    assert_eq!(cert.not_after, openssl("-enddate"));
    assert_eq!(cert.not_before, openssl("-startdate"));
    assert_eq!(cert.subject, "CN=localhost");
    assert_eq!(cert.issuer, "CN=Jackal test CA");
    assert_eq!(cert.names, ["localhost", "127.0.0.1", "::1"]);
    assert!(!cert.self_signed);
    assert!(cert.days_left > 14, "{cert:?}");
    assert!(facts.warnings.is_empty(), "{:?}", facts.warnings);
    assert!(!facts.client_certificate_requested);
    assert!(
        facts
            .cipher_suite
            .as_deref()
            .is_some_and(|s| s.starts_with("TLS")),
        "{facts:?}"
    );
}

#[tokio::test]
#[ignore = "live: needs PG_TLS (scripts/test-databases)"]
async fn verified_tls_to_localhost_name_succeeds() {
    require(&[&PG_TLS]);
    let port = addr(PG_TLS.get()).port();
    let ctx = context(StaticResolver::new().answer("localhost", &[LOCALHOST]));
    let report = run_with(
        &format!(
            "postgresql://{USER}:{PASSWORD}@localhost:{port}/{DATABASE}?validateSsl=true&sslRootCert={CA_PEM}"
        ),
        &ctx,
    )
    .await;
    assert_success(&report);
    assert_eq!(phases(&report), ALL_OK);
    assert!(report.tls.as_ref().is_some_and(|t| t.verified));
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn reported_version_matches_what_the_server_says() {
    require(&[&PG_MAIN]);
    let main = addr(PG_MAIN.get());
    let (client, connection) = tokio_postgres::Config::new()
        .host(main.ip().to_string())
        .port(main.port())
        .user(PG_ADMIN_USER.get())
        .dbname("postgres")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("direct connection to PG_MAIN");
    let task = tokio::spawn(connection);
    let version: String = client
        .query_one("SELECT version()", &[])
        .await
        .unwrap()
        .get(0);
    let show: String = client
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    drop(client);
    let _ = task.await;

    let report = run(&format!(
        "postgresql://{PG_ADMIN_USER}@{PG_MAIN}/postgres?ssl=false"
    ))
    .await;
    let reported = report.outcome.expect("probe succeeds");
    assert_eq!(reported.description, version);
    assert!(
        show.starts_with(&reported.product_version),
        "{show:?} starts with {:?}",
        reported.product_version
    );
    let mut numbers = reported.product_version.split('.');
    assert_eq!(numbers.next(), Some(reported.major.to_string().as_str()));
}

// --- failures a live server gives ---------------------------------------------------------

/// How each failure a live server gives is classified: code, message, failed phase, TLS.
#[tokio::test]
#[ignore = "live: needs PG_MAIN, PG_TLS, PG_PLAIN (scripts/test-databases)"]
async fn server_failures_are_classified() {
    require(&[&PG_MAIN, &PG_TLS, &PG_PLAIN]);
    let tls_port = addr(PG_TLS.get()).port();
    let cases = vec![
        Case {
            name: "wrong password over TLS names the user",
            uri: format!(
                "postgresql://{USER}:{WRONG_PASSWORD}@{PG_TLS}/{DATABASE}?ssl=true&validateSsl=false"
            ),
            code: ErrorCode::AuthFailed,
            message: vec![USER.to_string()],
            failed: Phase::Auth,
            tls: Tls::On,
        },
        Case {
            name: "wrong password without TLS names the user",
            uri: format!("postgresql://{USER}:{WRONG_PASSWORD}@{PG_PLAIN}/{DATABASE}?ssl=false"),
            code: ErrorCode::AuthFailed,
            message: vec![USER.to_string()],
            failed: Phase::Auth,
            tls: Tls::Off,
        },
        // Trust auth: the server refuses the role itself (SQLSTATE 28000), not a password.
        Case {
            name: "unknown role is named",
            uri: format!("postgresql://no_such_role_jackal@{PG_MAIN}/postgres?ssl=false"),
            code: ErrorCode::AuthFailed,
            message: vec!["\"no_such_role_jackal\"".into(), "pg_hba.conf".into()],
            failed: Phase::Auth,
            tls: Tls::Off,
        },
        Case {
            name: "missing password is asked for",
            uri: format!("postgresql://{USER}@{PG_PLAIN}/{DATABASE}?ssl=false"),
            code: ErrorCode::AuthFailed,
            message: vec!["configUri has none".into()],
            failed: Phase::Auth,
            tls: Tls::Off,
        },
        Case {
            name: "missing database",
            uri: format!(
                "postgresql://{USER}:{PASSWORD}@{PG_TLS}/no_such_database_here?validateSsl=false"
            ),
            code: ErrorCode::UnknownDatabase,
            message: vec!["no_such_database_here".into(), PG_TLS.to_string()],
            failed: Phase::Auth,
            tls: Tls::On,
        },
        // The TLS phase is the last: nothing was sent in plain text.
        Case {
            name: "TLS asked of a server without TLS: no fallback",
            uri: format!("postgresql://{USER}:{PASSWORD}@{PG_PLAIN}/{DATABASE}?ssl=true"),
            code: ErrorCode::TlsUnavailable,
            message: vec![PG_PLAIN.to_string(), "ssl=false".into()],
            failed: Phase::Tls,
            tls: Tls::NotReported,
        },
        // Debian links the snakeoil certificate (CN=localhost) into /etc/ssl/certs, so the
        // system roots may trust it: then it fails on the name 127.0.0.1 rather than its issuer.
        Case {
            name: "validating the self-signed certificate",
            uri: format!("postgresql://{PG_ADMIN_USER}@{PG_MAIN}/postgres?validateSsl=true"),
            code: ErrorCode::TlsFailed,
            message: vec!["127.0.0.1".into()],
            failed: Phase::Tls,
            tls: Tls::Refused,
        },
        Case {
            name: "validating the test CA's certificate without sslRootCert names its issuer",
            uri: format!("postgresql://{USER}:{PASSWORD}@{PG_TLS}/{DATABASE}?validateSsl=true"),
            code: ErrorCode::TlsFailed,
            message: vec!["issued by CN=Jackal test CA".into(), "not signed by a CA".into()],
            failed: Phase::Tls,
            tls: Tls::Refused,
        },
        Case {
            name: "a certificate not for the host name names it",
            uri: format!(
                "postgresql://{USER}:{PASSWORD}@db.example.test:{tls_port}/{DATABASE}?validateSsl=true&sslRootCert={CA_PEM}"
            ),
            code: ErrorCode::TlsFailed,
            message: vec![
                "db.example.test".into(),
                "not valid for the host name".into(),
                "It lists: localhost, 127.0.0.1, ::1".into(),
            ],
            failed: Phase::Tls,
            tls: Tls::Refused,
        },
    ];
    let ctx = context(StaticResolver::new().answer("db.example.test", &[LOCALHOST]));
    let ctx = &ctx;
    let secrets = [PASSWORD.get(), WRONG_PASSWORD];
    cases::check(
        cases,
        &secrets,
        |uri| async move { run_with(&uri, ctx).await },
    )
    .await;
}

// --- sockets of our own ---------------------------------------------------------------------

#[tokio::test]
async fn closed_port_is_refused_with_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let report = run(&format!(
        "postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/db"
    ))
    .await;
    let message = assert_failure(&report, ErrorCode::Refused);
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert_eq!(
        report.address,
        Some(addr(&format!("127.0.0.1:{port}"))),
        "the address dialled is reported"
    );
    assert_eq!(phases(&report), [("resolve", true), ("connect", false)]);
}

async fn assert_silent_server_times_out(ssl: bool, stuck_in: &str) {
    let (port, accepted) = silent_listener().await;
    let started = Instant::now();
    let report = run(&format!(
        "postgresql://{USER}:{WRONG_PASSWORD}@127.0.0.1:{port}/db?ssl={ssl}&connectTimeout=1"
    ))
    .await;
    let elapsed = started.elapsed();
    let message = assert_failure(&report, ErrorCode::Timeout);
    assert!(
        message.starts_with(&format!("nothing answered at 127.0.0.1:{port} within 1 s")),
        "{message}"
    );
    assert!(!message.contains(WRONG_PASSWORD), "{message}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert_eq!(phases(&report).last(), Some(&(stuck_in, false)));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn silent_server_with_tls_times_out_in_tls_within_deadline() {
    assert_silent_server_times_out(true, "tls").await;
}

#[tokio::test]
async fn silent_server_without_tls_times_out_in_auth_within_deadline() {
    assert_silent_server_times_out(false, "auth").await;
}

#[tokio::test]
async fn server_that_is_not_postgres_is_server_error() {
    // Reads the request, answers with an HTTP error and closes, as a web server on the wrong
    // port would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    for ssl in [true, false] {
        let report = run(&format!(
            "postgresql://{USER}:{WRONG_PASSWORD}@127.0.0.1:{port}/db?ssl={ssl}&connectTimeout=2"
        ))
        .await;
        let message = assert_failure(&report, ErrorCode::ServerError);
        assert!(
            message.contains("PostgreSQL server"),
            "ssl={ssl}: {message}"
        );
        assert!(!message.contains(WRONG_PASSWORD), "{message}");
        let stuck_in = if ssl { "tls" } else { "auth" };
        assert_eq!(
            phases(&report).last(),
            Some(&(stuck_in, false)),
            "ssl={ssl}"
        );
    }
}

#[tokio::test]
async fn unresolvable_host_is_dns_failed_without_real_lookup() {
    let ctx =
        context(StaticResolver::new().fail("no-such-host.example.test", ResolveError::NotFound));
    let report = run_with(
        &format!("postgresql://{USER}:{PASSWORD}@no-such-host.example.test/db"),
        &ctx,
    )
    .await;
    let message = assert_failure(&report, ErrorCode::DnsFailed);
    assert!(message.contains("no-such-host.example.test"), "{message}");
    assert_eq!(phases(&report), [("resolve", false)]);
}

#[tokio::test]
async fn denied_address_is_denied_by_policy_and_never_dialled() {
    let (port, accepted) = silent_listener().await;
    let ctx = ProbeContext {
        egress: EgressPolicy::new(vec![], vec!["127.0.0.0/8".parse().unwrap()]),
        ..context(StaticResolver::new())
    };
    let report = run_with(
        &format!("postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/db?connectTimeout=1"),
        &ctx,
    )
    .await;
    let message = assert_failure(&report, ErrorCode::DeniedByPolicy);
    assert!(message.contains("127.0.0.0/8"), "{message}");
    assert_eq!(report.address, None);
    // Give a stray connection time to be accepted, then check none was.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the listener was dialled"
    );
}

#[tokio::test]
async fn user_less_uri_is_invalid_before_any_io() {
    let (port, accepted) = silent_listener().await;
    let report = run(&format!(
        "postgresql://127.0.0.1:{port}/db?connectTimeout=1"
    ))
    .await;
    let failure = report.outcome.as_ref().expect_err("a user-less URI fails");
    assert_eq!(failure.code, ErrorCode::InvalidUri, "{failure:?}");
    assert!(
        failure.message.contains("names no user"),
        "{}",
        failure.message
    );
    // Refused before any phase ran: nothing was resolved or dialled.
    assert_eq!(phases(&report), []);
    assert_eq!(report.address, None);
    // A negative: a dial let through would reach the listener well within this wait.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the listener was dialled"
    );
}

/// Every failure this file can provoke without a server, with a distinctive password: none may
/// quote it.
#[tokio::test]
async fn no_failure_message_contains_the_password() {
    let (silent_port, _) = silent_listener().await;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_no_failure_quotes_the_password(&[
        format!("postgresql://{USER}:{WRONG_PASSWORD}@127.0.0.1:{closed_port}/db"),
        format!(
            "postgresql://{USER}:{WRONG_PASSWORD}@127.0.0.1:{silent_port}/db?ssl=false&connectTimeout=1"
        ),
        format!("postgresql://{USER}:{WRONG_PASSWORD}@no-such-host.example.test/db"),
    ])
    .await;
}

/// The failures the live servers answer, with a distinctive password: none may quote it.
#[tokio::test]
#[ignore = "live: needs PG_TLS, PG_PLAIN, PG_MAIN (scripts/test-databases)"]
async fn no_server_failure_message_contains_the_password() {
    require(&[&PG_TLS, &PG_PLAIN, &PG_MAIN]);
    assert_no_failure_quotes_the_password(&[
        format!("postgresql://{USER}:{WRONG_PASSWORD}@{PG_TLS}/{DATABASE}"),
        format!("postgresql://{USER}:{WRONG_PASSWORD}@{PG_TLS}/{DATABASE}?validateSsl=true"),
        format!("postgresql://no_such_role_x:{WRONG_PASSWORD}@{PG_TLS}/{DATABASE}"),
        format!("postgresql://{USER}:{WRONG_PASSWORD}@{PG_PLAIN}/{DATABASE}?ssl=false"),
        format!("postgresql://{USER}:{WRONG_PASSWORD}@{PG_PLAIN}/{DATABASE}?ssl=true"),
        // Trust auth accepts any password, so ask for a database that is not there.
        format!("postgresql://postgres:{WRONG_PASSWORD}@{PG_MAIN}/no_such_db_here?ssl=false"),
    ])
    .await;
}

async fn assert_no_failure_quotes_the_password(uris: &[String]) {
    let probes = uris.iter().map(|uri| async move { (uri, run(uri).await) });
    for (uri, report) in futures_util::future::join_all(probes).await {
        let failure = report
            .outcome
            .as_ref()
            .expect_err(&format!("{uri} should fail"));
        assert!(
            !failure.message.contains(WRONG_PASSWORD),
            "{uri}: {}",
            failure.message
        );
    }
}

/// A pooler in front changes nothing in what the test reports: PostgreSQL, its version and
/// text, no `compatibleWith` (crate::product reads only what the server itself sends).
#[tokio::test]
#[ignore = "live: needs PG_MAIN, PGBOUNCER (scripts/test-databases)"]
async fn a_pgbouncer_in_front_reports_the_same_postgresql() {
    require(&[&PG_MAIN, &PGBOUNCER]);
    let direct = run(&format!(
        "postgresql://{PG_ADMIN_USER}@{PG_MAIN}/postgres?ssl=false"
    ))
    .await;
    let pooled = run(&format!(
        "postgresql://{PG_ADMIN_USER}@{PGBOUNCER}/postgres?ssl=false"
    ))
    .await;
    assert_success(&direct);
    assert_success(&pooled);
    assert_eq!(pooled.outcome, direct.outcome);
    assert_eq!(pooled.address.unwrap().to_string(), PGBOUNCER.get());
}

/// A server with a `cert` rule: it asks every TLS client for a certificate, then refuses the
/// login without one (SQLSTATE 28000). 28000 with a CertificateRequest suggests, but does not
/// prove, the `cert` rule (a server with ssl_ca_file asks everyone; 28000 is also "no
/// pg_hba.conf entry"): `auth_failed`, with the hint; without TLS, `auth_failed` without it.
#[tokio::test]
#[ignore = "live: needs PG_CERT (scripts/test-databases)"]
async fn a_cert_rule_is_auth_failed_with_the_client_certificate_hint() {
    require(&[&PG_CERT]);
    let report = run(&format!(
        "postgresql://{USER}:{PASSWORD}@{PG_CERT}/{DATABASE}?validateSsl=true&sslRootCert={CA_PEM}"
    ))
    .await;
    let message = assert_failure(&report, ErrorCode::AuthFailed);
    assert!(
        message.contains("asked for a client certificate"),
        "{message}"
    );
    let facts = report.tls.as_ref().and_then(|t| t.facts.as_ref()).unwrap();
    assert!(facts.client_certificate_requested);

    let report = run(&format!(
        "postgresql://{USER}:{PASSWORD}@{PG_CERT}/{DATABASE}?ssl=false"
    ))
    .await;
    let message = assert_failure(&report, ErrorCode::AuthFailed);
    assert!(!message.contains("client certificate"), "{message}");
}

/// A server that demands a client certificate at the TLS level (pgbouncer with
/// `client_tls_sslmode = verify-full`): TLS 1.3's certificate_required alert, which comes after
/// the client's side of the handshake, is `client_cert_required`.
#[tokio::test]
#[ignore = "live: needs PGBOUNCER_CERT (scripts/test-databases)"]
async fn a_tls_level_demand_for_a_client_certificate_is_client_cert_required() {
    require(&[&PGBOUNCER_CERT]);
    let report = run(&format!(
        "postgresql://{PG_ADMIN_USER}@{PGBOUNCER_CERT}/postgres?validateSsl=true&sslRootCert={CA_PEM}"
    ))
    .await;
    let message = assert_failure(&report, ErrorCode::ClientCertRequired);
    assert!(
        message.contains("demands a client certificate"),
        "{message}"
    );
    let facts = report.tls.as_ref().and_then(|t| t.facts.as_ref()).unwrap();
    assert!(facts.client_certificate_requested);
}

/// A certificate verification refuses is shown: the test's TLS report carries what the server
/// presented, as a passing test's does.
#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn a_refused_server_certificate_is_reported_with_its_facts() {
    require(&[&PG_MAIN]);
    let report = run(&format!(
        "postgresql://{PG_ADMIN_USER}@{PG_MAIN}/postgres?validateSsl=true"
    ))
    .await;
    let failure = report
        .outcome
        .as_ref()
        .expect_err("a certificate no test trusts");
    assert_eq!(failure.code, ErrorCode::TlsFailed, "{}", failure.message);
    let tls = report
        .tls
        .as_ref()
        .expect("the refused handshake is reported");
    assert!(
        tls.enabled && tls.verified && tls.protocol.is_none(),
        "{tls:?}"
    );
    let cert = tls
        .facts
        .as_ref()
        .and_then(|f| f.server_certificate.as_ref())
        .expect("the certificate presented");
    assert!(
        !cert.subject.is_empty() && !cert.issuer.is_empty(),
        "{cert:?}"
    );
    assert_eq!(cert.fingerprint_sha256.len(), 64 + 31, "{cert:?}");
    assert!(
        failure.message.contains(&cert.subject),
        "the message names the certificate: {}",
        failure.message
    );
}
