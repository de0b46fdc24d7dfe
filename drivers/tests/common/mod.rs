//! The live test servers (`scripts/test-databases` sets them up on this machine,
//! `tests/docker-compose.yml` on a laptop with Docker; each address, user and CA path can be
//! overridden), and the rule for an unreachable one: with `CI=true` the test fails; otherwise it
//! is skipped with a reason.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A live-test setting: the environment variable `var` when it is set and not empty, else
/// `default`, today's value on a machine prepared by `scripts/test-databases`. Read once.
/// `tests/docker-compose.yml` and `docs/testing.md` show a machine where the defaults do not hold.
pub struct Setting {
    var: &'static str,
    default: &'static str,
    value: OnceLock<String>,
}

impl Setting {
    const fn new(var: &'static str, default: &'static str) -> Self {
        Setting {
            var,
            default,
            value: OnceLock::new(),
        }
    }

    pub fn get(&self) -> &str {
        self.value.get_or_init(|| {
            std::env::var(self.var)
                .ok()
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| self.default.to_owned())
        })
    }
}

impl std::ops::Deref for Setting {
    type Target = str;
    fn deref(&self) -> &str {
        self.get()
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

/// The role and database created on every test server, with a real password.
pub static USER: Setting = Setting::new("JACKAL_TEST_USER", "jackal_test");
pub static PASSWORD: Setting = Setting::new("JACKAL_TEST_PASSWORD", "jackal-test-pw-1");
pub static DATABASE: Setting = Setting::new("JACKAL_TEST_DATABASE", "jackal_test");

/// The superusers of `PG_MAIN` (trust auth, database `postgres`) and `MARIADB_PLAIN` (no
/// password), for tests that create databases of their own.
pub static PG_ADMIN_USER: Setting = Setting::new("JACKAL_TEST_PG_ADMIN_USER", "postgres");
pub static MARIADB_ADMIN_USER: Setting = Setting::new("JACKAL_TEST_MARIADB_ADMIN_USER", "root");

/// The CA that signed the test servers' certificates (SANs: localhost, 127.0.0.1, ::1).
pub static CA_PEM: Setting = Setting::new("JACKAL_TEST_CA_PEM", "/var/lib/jackal-test/tls/ca.pem");

/// The directory of `CA_PEM`: what `[drivers.tls] root_cert_dirs` must list for tests that
/// name it in `sslRootCert`.
pub fn ca_dir() -> std::path::PathBuf {
    std::path::Path::new(CA_PEM.get())
        .parent()
        .unwrap()
        .to_owned()
}

/// The machine's own PostgreSQL: trust auth, TLS with a certificate no test CA signed.
pub static PG_MAIN: Setting = Setting::new("JACKAL_TEST_PG_MAIN", "127.0.0.1:5432");
/// A cluster that checks passwords (scram-sha-256) and offers TLS with the test CA's certificate.
pub static PG_TLS: Setting = Setting::new("JACKAL_TEST_PG_TLS", "127.0.0.1:55432");
/// A cluster that checks passwords and offers no TLS.
pub static PG_PLAIN: Setting = Setting::new("JACKAL_TEST_PG_PLAIN", "127.0.0.1:55433");
/// A cluster that requires a client certificate of the test CA (`hostssl … cert`).
pub static PG_CERT: Setting = Setting::new("JACKAL_TEST_PG_CERT", "127.0.0.1:55434");
/// Debian's pgbouncer in front of PG_MAIN (session pooling, trust for the admin user).
pub static PGBOUNCER: Setting = Setting::new("JACKAL_TEST_PGBOUNCER", "127.0.0.1:56432");
/// A pgbouncer in front of PG_MAIN that demands a client certificate at the TLS level.
pub static PGBOUNCER_CERT: Setting = Setting::new("JACKAL_TEST_PGBOUNCER_CERT", "127.0.0.1:56433");
/// The machine's own MariaDB: no TLS, checks the test user's password.
pub static MARIADB_PLAIN: Setting = Setting::new("JACKAL_TEST_MARIADB_PLAIN", "127.0.0.1:3306");
/// A second MariaDB that offers TLS with the test CA's certificate.
pub static MARIADB_TLS: Setting = Setting::new("JACKAL_TEST_MARIADB_TLS", "127.0.0.1:33306");

/// SSH servers of `scripts/test-databases` (OpenSSH's sshd, each with its own ed25519 host
/// key): a bastion, a jump host in front of it, one that refuses TCP forwarding, one that takes
/// passwords; all log in `SSH_USER`.
pub static SSH_BASTION: Setting = Setting::new("JACKAL_TEST_SSH_BASTION", "127.0.0.1:52222");
pub static SSH_JUMP: Setting = Setting::new("JACKAL_TEST_SSH_JUMP", "127.0.0.1:52223");
pub static SSH_NOFORWARD: Setting = Setting::new("JACKAL_TEST_SSH_NOFORWARD", "127.0.0.1:52224");
pub static SSH_PASSWORD_SERVER: Setting =
    Setting::new("JACKAL_TEST_SSH_PASSWORD_SERVER", "127.0.0.1:52225");
pub static SSH_USER: Setting = Setting::new("JACKAL_TEST_SSH_USER", "jackal_ssh");
pub static SSH_PASSWORD: Setting = Setting::new("JACKAL_TEST_SSH_PASSWORD", "jackal-ssh-pw-1");
/// The passphrase of `client/id_ed25519_pass`.
pub static SSH_KEY_PASSPHRASE: Setting =
    Setting::new("JACKAL_TEST_SSH_KEY_PASSPHRASE", "jackal-key-pass-1");
/// Where the servers' fingerprints (`NAME.fingerprint`) and the client keys (`client/id_*`) are.
pub static SSH_DIR: Setting = Setting::new("JACKAL_TEST_SSH_DIR", "/var/lib/jackal-test/ssh");

/// `SHA256:…` of the host key of the SSH server `name` (bastion, jump, noforward, password).
pub fn ssh_fingerprint(name: &str) -> String {
    let path = std::path::Path::new(SSH_DIR.get()).join(format!("{name}.fingerprint"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/test-databases", path.display()))
        .trim()
        .to_owned()
}

/// The text of the client key `client/NAME` (id_ed25519, id_ecdsa, id_rsa, id_rsa_pkcs8,
/// id_ed25519_pass).
pub fn ssh_client_key(name: &str) -> String {
    let path = std::path::Path::new(SSH_DIR.get())
        .join("client")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/test-databases", path.display()))
}

/// A URL of `PG_MAIN` as its superuser, for `database`.
pub fn pg_admin_url(database: &str) -> String {
    format!("postgresql://{PG_ADMIN_USER}@{PG_MAIN}/{database}")
}

/// `true` when `addr` accepts TCP. When it does not: under CI, panic (a live test never skips
/// there); elsewhere, print why and return `false` so the test can return early.
pub fn reachable(addr: &str) -> bool {
    let socket: SocketAddr = addr
        .parse()
        .unwrap_or_else(|_| panic!("{addr}: a live-test address must be a literal IP:port"));
    if TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_ok() {
        return true;
    }
    let why =
        format!("{addr} is not reachable; run scripts/test-databases (or scripts/test) first");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {why}");
    }
    eprintln!("SKIPPED: {why}");
    false
}

/// A loopback listener that accepts connections, holds them and never writes: a host that
/// never answers. Returns its port and a count of the connections it accepted.
pub async fn silent_listener() -> (u16, Arc<AtomicUsize>) {
    silent_listener_at("127.0.0.1").await
}

/// [`silent_listener`] on another loopback address (`127.0.0.5`, say, for a test that denies
/// it): whatever it counts got past the egress policy.
pub async fn silent_listener_at(ip: &str) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (port, accepted)
}
