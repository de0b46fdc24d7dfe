//! Tests through real SSH servers (OpenSSH's sshd, started by scripts/test-databases) to the
//! real PostgreSQL servers: tunnels, jump hosts, every key type, password login, and every
//! SSH failure provoked for real.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    ca_dir, require, silent_listener, silent_listener_at, ssh_client_key, ssh_fingerprint, CA_PEM,
    DATABASE, MARIADB_PLAIN, MARIADB_TLS, PASSWORD, PG_ADMIN_USER, PG_MAIN, PG_TLS, SSH_BASTION,
    SSH_JUMP, SSH_KEY_PASSPHRASE, SSH_NOFORWARD, SSH_PASSWORD, SSH_PASSWORD_SERVER, SSH_USER, USER,
};
use jackal_drivers::ssh::{KeyError, SshCredentials};
use jackal_drivers::{
    introspect, probe, ConnectionSpec, EgressPolicy, ErrorCode, ProbeContext, ProbeReport,
    StaticResolver,
};
use zeroize::Zeroizing;

/// The default egress policy, and a resolver that knows a few names and nothing else: no
/// lookup leaves the process.
fn ctx() -> ProbeContext {
    let ip = |text: &str| text.parse::<IpAddr>().unwrap();
    ProbeContext {
        resolver: Arc::new(
            StaticResolver::new()
                .answer("denied.test", &[ip(DENIED)])
                .answer("mixed.test", &[ip("127.0.0.1"), ip(DENIED)])
                .answer("db.behind.test", &[ip("127.0.0.1")]),
        ),
        ssl_root_cert_dirs: vec![ca_dir()],
        default_timeout: Duration::from_secs(10),
        ..ProbeContext::default()
    }
}

fn key(name: &str) -> SshCredentials {
    SshCredentials {
        private_key: Some(Zeroizing::new(ssh_client_key(name))),
        ..SshCredentials::default()
    }
}

fn host_port(addr: &str) -> (&str, &str) {
    addr.rsplit_once(':').unwrap()
}

/// `sshHost`, `sshPort`, `sshUser` and (when given) `sshHostKey` for the server at `addr`.
fn via(addr: &str, pin: Option<&str>) -> String {
    let (host, port) = host_port(addr);
    let mut out = format!("sshHost={host}&sshPort={port}&sshUser={SSH_USER}");
    if let Some(pin) = pin {
        out.push_str(&format!("&sshHostKey={}", pin.replace('+', "%2B")));
    }
    out
}

/// PG_MAIN as its superuser (trust auth), no TLS, through `ssh`.
fn main_through(ssh: &str) -> String {
    format!("postgresql://{PG_ADMIN_USER}@{PG_MAIN}/postgres?ssl=false&{ssh}")
}

async fn run(uri: &str, credentials: SshCredentials) -> ProbeReport {
    let spec = ConnectionSpec::parse(uri)
        .unwrap_or_else(|e| panic!("{uri}: {e}"))
        .with_ssh_credentials(credentials);
    probe(&spec, &ctx()).await
}

fn phases(report: &ProbeReport) -> Vec<String> {
    report
        .phases
        .iter()
        .map(|p| match &p.hop {
            Some(hop) => format!("{}@{}:{}", p.phase.as_str(), hop, p.ok),
            None => format!("{}:{}", p.phase.as_str(), p.ok),
        })
        .collect()
}

fn failure(report: &ProbeReport, code: ErrorCode) -> String {
    match &report.outcome {
        Ok(v) => panic!("expected {code:?}, got success {v:?}"),
        Err(f) => {
            assert_eq!(f.code, code, "{}", f.message);
            f.message.clone()
        }
    }
}

fn hop(addr: &str) -> String {
    format!("{SSH_USER}@{addr}")
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn postgresql_through_the_bastion_reports_its_version_and_the_ssh_phases() {
    require(&[&PG_MAIN, &SSH_BASTION]);
    let bastion = ssh_fingerprint("bastion");
    let report = run(
        &main_through(&via(&SSH_BASTION, Some(&bastion))),
        key("id_ed25519"),
    )
    .await;
    let version = report.outcome.as_ref().expect("a tunnelled test succeeds");
    assert_eq!(version.product_name, "PostgreSQL");
    let h = hop(&SSH_BASTION);
    assert_eq!(
        phases(&report),
        [
            "resolve:true".to_owned(),
            format!("ssh_connect@{h}:true"),
            format!("ssh_auth@{h}:true"),
            format!("ssh_forward@{h}:true"),
            "auth:true".to_owned(),
            "query:true".to_owned(),
        ]
    );
    assert_eq!(report.address.unwrap().to_string(), SSH_BASTION.get());
}

/// The test user on the MariaDB server at `addr`, through `ssh`.
fn mariadb_through(addr: &str, password: &str, options: &str, ssh: &str) -> String {
    format!("mysql://{USER}:{password}@{addr}/{DATABASE}?{options}&{ssh}")
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, MARIADB_PLAIN, SSH_JUMP (scripts/test-databases)"]
async fn mariadb_through_a_jump_host_and_the_bastion_reports_its_version() {
    require(&[&PG_MAIN, &SSH_BASTION, &MARIADB_PLAIN, &SSH_JUMP]);
    let (bastion, jump) = (ssh_fingerprint("bastion"), ssh_fingerprint("jump"));
    let direct = via(&SSH_BASTION, Some(&bastion));
    let jumped = format!(
        "{direct}&sshJump={}",
        format!("{SSH_USER}%40{SSH_JUMP};{jump}").replace('+', "%2B")
    );
    for (ssh, hops) in [
        (direct, vec![hop(&SSH_BASTION)]),
        (jumped, vec![hop(&SSH_JUMP), hop(&SSH_BASTION)]),
    ] {
        let uri = mariadb_through(&MARIADB_PLAIN, &PASSWORD, "ssl=false", &ssh);
        let report = run(&uri, key("id_ecdsa")).await;
        let version = report
            .outcome
            .as_ref()
            .expect("a tunnelled MariaDB test succeeds");
        assert_eq!(version.product_name, "MariaDB");
        assert!(version.major >= 10, "{version:?}");
        let mut expected = vec!["resolve:true".to_owned()];
        for h in &hops {
            for phase in ["ssh_connect", "ssh_auth", "ssh_forward"] {
                expected.push(format!("{phase}@{h}:true"));
            }
        }
        // Without TLS, the greeting and the login through the relay are `auth`.
        expected.extend(["auth:true".to_owned(), "query:true".to_owned()]);
        assert_eq!(phases(&report), expected);
        let tls = report.tls.as_ref().unwrap();
        assert!(!tls.enabled, "{tls:?}");
    }
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, MARIADB_TLS, MARIADB_PLAIN (scripts/test-databases)"]
async fn mariadb_tls_inside_the_tunnel_is_started_and_verified_by_jackal() {
    require(&[&PG_MAIN, &SSH_BASTION, &MARIADB_TLS, &MARIADB_PLAIN]);
    let ssh = via(&SSH_BASTION, Some(&ssh_fingerprint("bastion")));
    let verified = format!("ssl=true&validateSsl=true&sslRootCert={CA_PEM}");
    let report = run(
        &mariadb_through(&MARIADB_TLS, &PASSWORD, &verified, &ssh),
        key("id_ed25519"),
    )
    .await;
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);
    let tls = report.tls.as_ref().unwrap();
    assert!(tls.enabled && tls.verified, "{tls:?}");
    assert!(
        tls.protocol
            .as_deref()
            .is_some_and(|p| p.starts_with("TLSv1.")),
        "{tls:?}"
    );

    // Verified against the roots configUri names: without sslRootCert the test CA is unknown.
    let report = run(
        &mariadb_through(&MARIADB_TLS, &PASSWORD, "ssl=true&validateSsl=true", &ssh),
        key("id_ed25519"),
    )
    .await;
    let message = failure(&report, ErrorCode::TlsFailed);
    assert!(
        message.contains("not signed by a CA Jackal trusts"),
        "{message}"
    );

    // A server without TLS, asked for it: refused before the login is sent.
    let report = run(
        &mariadb_through(&MARIADB_PLAIN, &PASSWORD, "ssl=true", &ssh),
        key("id_ed25519"),
    )
    .await;
    let message = failure(&report, ErrorCode::TlsUnavailable);
    assert!(message.contains("through the SSH tunnel via"), "{message}");

    // A wrong password behind TLS behind the tunnel: the database's own code, TLS reported.
    let report = run(
        &mariadb_through(&MARIADB_TLS, &format!("wrong-{PASSWORD}"), &verified, &ssh),
        key("id_ed25519"),
    )
    .await;
    let message = failure(&report, ErrorCode::AuthFailed);
    assert!(!message.contains(PASSWORD.get()), "{message}");
    assert!(report.tls.as_ref().unwrap().enabled);
    let p = phases(&report);
    // TLS went through; the login was refused.
    assert_eq!(p[p.len() - 2..], ["tls:true", "auth:false"], "{p:?}");

    // Introspection takes the same path.
    let spec = ConnectionSpec::parse(&mariadb_through(&MARIADB_TLS, &PASSWORD, &verified, &ssh))
        .unwrap()
        .with_ssh_credentials(key("id_ed25519"));
    let listed = introspect(&spec, &ctx()).await;
    let (_, snapshot) = listed
        .outcome
        .as_ref()
        .expect("introspection through the tunnel");
    assert!(
        snapshot.schemas.iter().any(|s| s.name == DATABASE.get()),
        "{snapshot:?}"
    );
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, PG_TLS (scripts/test-databases)"]
async fn tls_inside_the_tunnel_verifies_the_database_name_as_written() {
    require(&[&PG_MAIN, &SSH_BASTION, &PG_TLS]);
    let bastion = ssh_fingerprint("bastion");
    let uri = format!(
        "postgresql://{USER}:{PASSWORD}@{PG_TLS}/{DATABASE}?ssl=true&validateSsl=true&sslRootCert={CA_PEM}&{}",
        via(&SSH_BASTION, Some(&bastion))
    );
    let report = run(&uri, key("id_ed25519")).await;
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);
    let tls = report.tls.as_ref().unwrap();
    assert!(tls.enabled && tls.verified, "{tls:?}");

    // The same server by a name its certificate does not carry (the bastion is asked for the
    // address Jackal resolved it to): the check uses the name in configUri, not the channel's.
    let wrong = uri.replace(
        PG_TLS.get(),
        &format!("db.behind.test:{}", host_port(&PG_TLS).1),
    );
    let spec = ConnectionSpec::parse(&wrong)
        .unwrap()
        .with_ssh_credentials(key("id_ed25519"));
    let report = probe(&spec, &denying_ctx()).await;
    let message = failure(&report, ErrorCode::TlsFailed);
    assert!(message.contains("db.behind.test"), "{message}");
    let p = phases(&report);
    assert_eq!(
        p[p.len() - 2..],
        [
            "ssh_forward@".to_owned() + &hop(&SSH_BASTION) + ":true",
            "tls:false".to_owned()
        ],
        "{p:?}"
    );
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, PG_TLS (scripts/test-databases)"]
async fn a_database_failure_behind_a_good_tunnel_keeps_its_own_code() {
    require(&[&PG_MAIN, &SSH_BASTION, &PG_TLS]);
    let bastion = ssh_fingerprint("bastion");
    let uri = format!(
        "postgresql://{USER}:wrong-{PASSWORD}@{PG_TLS}/{DATABASE}?ssl=true&{}",
        via(&SSH_BASTION, Some(&bastion))
    );
    let report = run(&uri, key("id_ed25519")).await;
    let message = failure(&report, ErrorCode::AuthFailed);
    assert!(!message.contains(PASSWORD.get()), "{message}");
    // The tunnel itself worked: every ssh_* phase passed, the database's own auth failed.
    let p = phases(&report);
    assert!(
        p.iter()
            .filter(|p| p.starts_with("ssh_"))
            .all(|p| p.ends_with(":true")),
        "{p:?}"
    );
    assert_eq!(p.last().unwrap(), "auth:false");
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, SSH_PASSWORD_SERVER (scripts/test-databases)"]
async fn every_key_type_and_a_password_log_in() {
    require(&[&PG_MAIN, &SSH_BASTION, &SSH_PASSWORD_SERVER]);
    let bastion = ssh_fingerprint("bastion");
    for name in ["id_ed25519", "id_ecdsa", "id_rsa", "id_rsa_pkcs8"] {
        let report = run(&main_through(&via(&SSH_BASTION, Some(&bastion))), key(name)).await;
        assert!(report.outcome.is_ok(), "{name}: {:?}", report.outcome);
    }
    let mut protected = key("id_ed25519_pass");
    protected.passphrase = Some(Zeroizing::new(SSH_KEY_PASSPHRASE.get().to_owned()));
    let report = run(&main_through(&via(&SSH_BASTION, Some(&bastion))), protected).await;
    assert!(report.outcome.is_ok(), "passphrase: {:?}", report.outcome);

    let password = SshCredentials {
        password: Some(Zeroizing::new(SSH_PASSWORD.get().to_owned())),
        ..SshCredentials::default()
    };
    let pin = ssh_fingerprint("password");
    let report = run(
        &main_through(&via(&SSH_PASSWORD_SERVER, Some(&pin))),
        password,
    )
    .await;
    assert!(report.outcome.is_ok(), "password: {:?}", report.outcome);
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, SSH_JUMP (scripts/test-databases)"]
async fn through_a_jump_host_to_the_bastion_to_the_database() {
    require(&[&PG_MAIN, &SSH_BASTION, &SSH_JUMP]);
    let (bastion, jump) = (ssh_fingerprint("bastion"), ssh_fingerprint("jump"));
    // `@` is written %40 inside configUri (a raw one after the host is refused).
    let jump_list = format!("{SSH_USER}%40{SSH_JUMP};{jump}").replace('+', "%2B");
    let uri = main_through(&format!(
        "{}&sshJump={jump_list}",
        via(&SSH_BASTION, Some(&bastion))
    ));
    let report = run(&uri, key("id_ed25519")).await;
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);
    let ssh: Vec<String> = phases(&report)
        .into_iter()
        .filter(|p| p.starts_with("ssh_"))
        .collect();
    let (j, b) = (hop(&SSH_JUMP), hop(&SSH_BASTION));
    assert_eq!(
        ssh,
        [
            format!("ssh_connect@{j}:true"),
            format!("ssh_auth@{j}:true"),
            format!("ssh_forward@{j}:true"),
            format!("ssh_connect@{b}:true"),
            format!("ssh_auth@{b}:true"),
            format!("ssh_forward@{b}:true"),
        ]
    );

    // The jump host unpinned: it fails there, naming its key and where to pin it.
    let uri = main_through(&format!(
        "{}&sshJump={SSH_USER}%40{}",
        via(&SSH_BASTION, Some(&bastion)),
        SSH_JUMP.get()
    ));
    let message = failure(
        &run(&uri, key("id_ed25519")).await,
        ErrorCode::SshHostKeyUnknown,
    );
    assert!(
        message.contains(&jump) && message.contains("hop 1 of sshJump"),
        "{message}"
    );
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn an_unpinned_or_changed_host_key_is_refused_before_logging_in() {
    require(&[&PG_MAIN, &SSH_BASTION]);
    let bastion = ssh_fingerprint("bastion");
    let report = run(&main_through(&via(&SSH_BASTION, None)), key("id_ed25519")).await;
    let message = failure(&report, ErrorCode::SshHostKeyUnknown);
    assert!(
        message.contains(&bastion) && message.contains("sshHostKey"),
        "{message}"
    );
    assert_eq!(
        phases(&report).last().unwrap(),
        &format!("ssh_connect@{}:false", hop(&SSH_BASTION))
    );

    let other = ssh_fingerprint("jump");
    let report = run(
        &main_through(&via(&SSH_BASTION, Some(&other))),
        key("id_ed25519"),
    )
    .await;
    let message = failure(&report, ErrorCode::SshHostKeyMismatch);
    assert!(
        message.contains(&bastion) && message.contains(&other),
        "{message}"
    );
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn a_refused_login_names_the_methods_the_server_offers() {
    require(&[&PG_MAIN, &SSH_BASTION]);
    let bastion = ssh_fingerprint("bastion");
    // A key the server does not know.
    let stranger = russh_key_not_authorized();
    let report = run(&main_through(&via(&SSH_BASTION, Some(&bastion))), stranger).await;
    let message = failure(&report, ErrorCode::SshAuthFailed);
    assert!(message.contains("it offers: publickey"), "{message}");

    let pin = ssh_fingerprint("password");
    let wrong = SshCredentials {
        password: Some(Zeroizing::new("not-the-password".to_owned())),
        ..SshCredentials::default()
    };
    let report = run(&main_through(&via(&SSH_PASSWORD_SERVER, Some(&pin))), wrong).await;
    let message = failure(&report, ErrorCode::SshAuthFailed);
    assert!(message.contains("password"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");

    let report = run(
        &main_through(&via(&SSH_BASTION, Some(&bastion))),
        SshCredentials::default(),
    )
    .await;
    failure(&report, ErrorCode::SshAuthFailed);
}

/// An ed25519 key made now, in no authorized_keys.
fn russh_key_not_authorized() -> SshCredentials {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    SshCredentials {
        private_key: Some(Zeroizing::new(std::fs::read_to_string(path).unwrap())),
        ..SshCredentials::default()
    }
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, SSH_NOFORWARD (scripts/test-databases)"]
async fn a_bastion_without_forwarding_is_forward_denied_naming_the_target() {
    require(&[&PG_MAIN, &SSH_BASTION, &SSH_NOFORWARD]);
    let pin = ssh_fingerprint("noforward");
    let report = run(
        &main_through(&via(&SSH_NOFORWARD, Some(&pin))),
        key("id_ed25519"),
    )
    .await;
    let message = failure(&report, ErrorCode::SshForwardDenied);
    assert!(message.contains(PG_MAIN.get()), "{message}");
}

#[tokio::test]
async fn a_closed_port_is_ssh_refused_and_a_silent_one_ssh_timeout_at_the_deadline() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let uri = format!(
        "postgresql://u@127.0.0.1:5432/db?ssl=false&sshHost=127.0.0.1&sshPort={}&sshUser=x",
        closed.port()
    );
    failure(&run(&uri, key_or_empty()).await, ErrorCode::SshRefused);

    let (port, accepted) = silent_listener().await;
    let uri = format!(
        "postgresql://u@127.0.0.1:5432/db?ssl=false&connectTimeout=2&sshHost=127.0.0.1&sshPort={port}&sshUser=x"
    );
    let started = Instant::now();
    let report = run(&uri, key_or_empty()).await;
    let elapsed = started.elapsed();
    let message = failure(&report, ErrorCode::SshTimeout);
    assert!(message.contains("2 s"), "{message}");
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

fn key_or_empty() -> SshCredentials {
    SshCredentials::default()
}

#[tokio::test]
async fn a_denied_bastion_is_denied_by_policy_with_nothing_dialled() {
    let (port, accepted) = silent_listener().await;
    let uri = format!(
        "postgresql://u@10.0.0.5:5432/db?ssl=false&sshHost=127.0.0.1&sshPort={port}&sshUser=x"
    );
    let spec = ConnectionSpec::parse(&uri).unwrap();
    let ctx = ProbeContext {
        egress: EgressPolicy::new(Vec::new(), vec!["127.0.0.0/8".parse().unwrap()]),
        ..ctx()
    };
    let report = probe(&spec, &ctx).await;
    failure(&report, ErrorCode::DeniedByPolicy);
    // A negative: a dial let through would reach the listener well within this wait.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);

    // The database behind the bastion is checked too when it is a literal address.
    let uri = format!(
        "postgresql://u@169.254.169.254:5432/db?ssl=false&sshHost=127.0.0.1&sshPort={port}&sshUser=x"
    );
    let report = probe(&ConnectionSpec::parse(&uri).unwrap(), &self::ctx()).await;
    failure(&report, ErrorCode::DeniedByPolicy);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
#[ignore = "live: needs the client keys of SSH_DIR (scripts/test-databases)"]
fn keys_that_cannot_be_used_say_why_without_echoing_them() {
    let protected = ssh_client_key("id_ed25519_pass");
    let with = |text: &str, passphrase: Option<&str>| SshCredentials {
        private_key: Some(Zeroizing::new(text.to_owned())),
        passphrase: passphrase.map(|p| Zeroizing::new(p.to_owned())),
        password: None,
    };
    assert_eq!(
        with(&protected, None).facts().unwrap_err(),
        KeyError::PassphraseMissing
    );
    assert_eq!(
        with(&protected, Some("nope")).facts().unwrap_err(),
        KeyError::WrongPassphrase
    );
    let facts = with(&protected, Some(SSH_KEY_PASSPHRASE.get()))
        .facts()
        .unwrap();
    assert_eq!(facts.method, "publicKey");
    let public = std::fs::read_to_string(
        std::path::Path::new(common::SSH_DIR.get()).join("client/id_ed25519_pass.pub"),
    )
    .unwrap();
    let expected = jackal_drivers::ssh::HostKeyPin::parse(&public).unwrap();
    assert_eq!(
        facts.public_key_fingerprint.as_deref(),
        Some(expected.as_str())
    );

    let garbage =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key at all\n-----END OPENSSH PRIVATE KEY-----";
    let err = with(garbage, None).facts().unwrap_err();
    assert_eq!(err, KeyError::Unreadable);
    assert!(!err.to_string().contains("not a key at all"));
    assert_eq!(
        with(&"x".repeat(jackal_drivers::ssh::MAX_KEY_BYTES + 1), None)
            .facts()
            .unwrap_err(),
        KeyError::TooLarge
    );
}

/// A loopback address the egress tests deny: a listener there counts whatever got past the policy.
const DENIED: &str = "127.0.0.5";

/// [`ctx`] denying [`DENIED`].
fn denying_ctx() -> ProbeContext {
    ProbeContext {
        egress: EgressPolicy::new(Vec::new(), vec![format!("{DENIED}/32").parse().unwrap()]),
        ..ctx()
    }
}

/// Waits a moment for a connection that should never come, then says how many came.
async fn connections_seen(accepted: &AtomicUsize) -> usize {
    tokio::time::sleep(Duration::from_millis(200)).await;
    accepted.load(Ordering::SeqCst)
}

/// The numeric spellings other than a dotted quad that resolvers (inet_aton) read as an
/// address: each is refused as a host wherever a host is written.
const ODD_SPELLINGS: &[&str] = &[
    "127.5",
    "2130706437",
    "0x7f000005",
    "0177.0.0.5",
    "127.0.5",
    "0x7f.0.0.5",
    "127.0.0.5.",
    "127.0.0.0x5",
];

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn a_denied_database_behind_the_bastion_is_never_dialled_in_any_spelling() {
    require(&[&PG_MAIN, &SSH_BASTION]);
    let (port, accepted) = silent_listener_at(DENIED).await;
    let pin = ssh_fingerprint("bastion");
    let written = |host: &str| {
        format!(
            "postgresql://u@{host}:{port}/db?ssl=false&connectTimeout=2&{}",
            via(&SSH_BASTION, Some(&pin))
        )
    };
    for host in ODD_SPELLINGS {
        let refused = ConnectionSpec::parse(&written(host))
            .err()
            .unwrap_or_else(|| panic!("{host} was read as a host"));
        assert_eq!(refused.code(), "bad_host", "{host}: {refused}");
        assert!(refused.to_string().contains("dotted"), "{host}: {refused}");
    }
    for host in [DENIED, "[::ffff:127.0.0.5]", "denied.test", "mixed.test"] {
        let spec = ConnectionSpec::parse(&written(host))
            .unwrap()
            .with_ssh_credentials(key("id_ed25519"));
        let report = probe(&spec, &denying_ctx()).await;
        let message = failure(&report, ErrorCode::DeniedByPolicy);
        assert!(message.contains(DENIED), "{host}: {message}");
        // Refused before any SSH phase: the bastion was not even dialled.
        assert_eq!(phases(&report), ["resolve:false"], "{host}");
    }
    assert_eq!(connections_seen(&accepted).await, 0);
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn a_name_behind_the_bastion_is_resolved_by_jackal_and_the_bastion_asked_for_its_ip() {
    require(&[&PG_MAIN, &SSH_BASTION]);
    let (_, port) = host_port(&PG_MAIN);
    let uri = format!(
        "postgresql://{PG_ADMIN_USER}@db.behind.test:{port}/postgres?ssl=false&{}",
        via(&SSH_BASTION, Some(&ssh_fingerprint("bastion")))
    );
    let spec = ConnectionSpec::parse(&uri)
        .unwrap()
        .with_ssh_credentials(key("id_ed25519"));
    // Only Jackal's resolver knows the name; the bastion's DNS does not.
    let report = probe(&spec, &denying_ctx()).await;
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);

    // A name Jackal cannot resolve is a DNS failure before anything is dialled, saying what to
    // set for a name only the bastion's DNS knows.
    let uri = uri.replace("db.behind.test", "only.the.bastion.knows.test");
    let spec = ConnectionSpec::parse(&uri)
        .unwrap()
        .with_ssh_credentials(key("id_ed25519"));
    let report = probe(&spec, &denying_ctx()).await;
    let message = failure(&report, ErrorCode::DnsFailed);
    assert!(message.contains("ssh_resolves_names"), "{message}");
    assert_eq!(phases(&report), ["resolve:false"]);
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION (scripts/test-databases)"]
async fn with_ssh_resolves_names_the_bastion_resolves_names_but_addresses_are_still_checked() {
    require(&[&PG_MAIN, &SSH_BASTION]);
    let ctx = ProbeContext {
        ssh_resolves_names: true,
        ..denying_ctx()
    };
    let (_, port) = host_port(&PG_MAIN);
    let through = |host: &str, port: &str| {
        let uri = format!(
            "postgresql://{PG_ADMIN_USER}@{host}:{port}/postgres?ssl=false&connectTimeout=2&{}",
            via(&SSH_BASTION, Some(&ssh_fingerprint("bastion")))
        );
        ConnectionSpec::parse(&uri)
            .unwrap()
            .with_ssh_credentials(key("id_ed25519"))
    };
    // `localhost` is the bastion's own name for itself; Jackal's resolver does not know it.
    let report = probe(&through("localhost", port), &ctx).await;
    assert!(report.outcome.is_ok(), "{:?}", report.outcome);

    let (denied_port, accepted) = silent_listener_at(DENIED).await;
    let report = probe(&through(DENIED, &denied_port.to_string()), &ctx).await;
    failure(&report, ErrorCode::DeniedByPolicy);
    assert_eq!(connections_seen(&accepted).await, 0);
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN, SSH_BASTION, SSH_JUMP (scripts/test-databases)"]
async fn a_denied_bastion_behind_an_allowed_jump_host_is_never_dialled() {
    require(&[&PG_MAIN, &SSH_BASTION, &SSH_JUMP]);
    let (port, accepted) = silent_listener_at(DENIED).await;
    let jump = format!("{SSH_USER}%40{SSH_JUMP};{}", ssh_fingerprint("jump")).replace('+', "%2B");
    let bastion_pin = ssh_fingerprint("bastion").replace('+', "%2B");
    for bastion in [DENIED, "denied.test", "mixed.test"] {
        let uri = format!(
            "postgresql://u@127.0.0.1:5432/db?ssl=false&connectTimeout=2&sshHost={bastion}\
             &sshPort={port}&sshUser={SSH_USER}&sshHostKey={bastion_pin}&sshJump={jump}"
        );
        let spec = ConnectionSpec::parse(&uri)
            .unwrap()
            .with_ssh_credentials(key("id_ed25519"));
        let report = probe(&spec, &denying_ctx()).await;
        let message = failure(&report, ErrorCode::DeniedByPolicy);
        assert!(message.contains(DENIED), "{bastion}: {message}");
        assert_eq!(phases(&report), ["resolve:false"], "{bastion}");
    }
    // Odd spellings of a hop are refused as written, in sshHost and in sshJump.
    for host in ODD_SPELLINGS {
        let uri = format!(
            "postgresql://u@127.0.0.1:5432/db?sshHost={host}&sshUser={SSH_USER}&sshJump={jump}"
        );
        let refused = ConnectionSpec::parse(&uri)
            .err()
            .unwrap_or_else(|| panic!("sshHost={host} was read"));
        assert_eq!(refused.code(), "bad_option_value", "{host}: {refused}");
        let uri = format!(
            "postgresql://u@127.0.0.1:5432/db?sshHost=127.0.0.1&sshUser={SSH_USER}&sshJump=x%40{host}:{port}"
        );
        let refused = ConnectionSpec::parse(&uri)
            .err()
            .unwrap_or_else(|| panic!("sshJump host {host} was read"));
        assert_eq!(refused.code(), "bad_ssh_jump", "{host}: {refused}");
    }
    assert_eq!(connections_seen(&accepted).await, 0);
}
