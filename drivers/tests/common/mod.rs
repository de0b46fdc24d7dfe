//! The live test servers (`scripts/test-databases` sets them up on this machine,
//! `tests/docker-compose.yml` on a laptop with Docker; each address, user and CA path can be
//! overridden), and the rule for an unreachable one ([`require`]): the test fails, saying to run
//! scripts/test-databases. Every live test is `#[ignore = "live: needs …"]`, so a plain `cargo
//! test` lists it as ignored rather than passing it; `scripts/test` runs them all.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A live-test setting: the environment variable `var` when it is set and not empty, else the
/// value of the line `var=value` of `tests/servers.env`, where every live-test server is named
/// once (a name missing there fails the build). Read once. `tests/docker-compose.yml` and
/// `docs/testing.md` show a machine where the defaults do not hold.
pub struct Setting {
    var: &'static str,
    default: &'static str,
    value: OnceLock<String>,
}

/// The file `scripts/test-databases` prepares the servers from.
const SERVERS_ENV: &str = include_str!("../../../tests/servers.env");

/// The value of the line `NAME=value` in [`SERVERS_ENV`]; evaluated at compile time, where a
/// panic is a build error.
const fn servers_env(name: &str) -> &'static str {
    let (file, name) = (SERVERS_ENV.as_bytes(), name.as_bytes());
    let mut start = 0;
    while start < file.len() {
        let mut end = start;
        while end < file.len() && file[end] != b'\n' {
            end += 1;
        }
        let (_, rest) = file.split_at(start);
        let (line, _) = rest.split_at(end - start);
        if line.len() > name.len() && line[name.len()] == b'=' && starts_with(line, name) {
            let (_, value) = line.split_at(name.len() + 1);
            return match std::str::from_utf8(value) {
                Ok(value) => value,
                Err(_) => panic!("tests/servers.env is not UTF-8"),
            };
        }
        start = end + 1;
    }
    panic!("a live-test setting has no line NAME=value in tests/servers.env")
}

const fn starts_with(line: &[u8], prefix: &[u8]) -> bool {
    let mut i = 0;
    while i < prefix.len() {
        if line[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Setting {
    const fn new(var: &'static str) -> Self {
        Setting {
            var,
            default: servers_env(var),
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

// What each server is for, and its default address: tests/servers.env.

/// The role and database created on every test server, with a real password.
pub static USER: Setting = Setting::new("JACKAL_TEST_USER");
pub static PASSWORD: Setting = Setting::new("JACKAL_TEST_PASSWORD");
pub static DATABASE: Setting = Setting::new("JACKAL_TEST_DATABASE");

/// The superusers of `PG_MAIN` (trust auth, database `postgres`) and `MARIADB_PLAIN` (no
/// password), for tests that create databases of their own.
pub static PG_ADMIN_USER: Setting = Setting::new("JACKAL_TEST_PG_ADMIN_USER");
pub static MARIADB_ADMIN_USER: Setting = Setting::new("JACKAL_TEST_MARIADB_ADMIN_USER");
/// `MARIADB_TLS`'s account that requires a client certificate of the test CA.
pub static MARIADB_CERT_USER: Setting = Setting::new("JACKAL_TEST_MARIADB_CERT_USER");

/// The CA that signed the test servers' certificates (SANs: localhost, 127.0.0.1, ::1).
pub static CA_PEM: Setting = Setting::new("JACKAL_TEST_CA_PEM");

/// The directory of `CA_PEM`: what `[drivers.tls] root_cert_dirs` must list for tests that
/// name it in `sslRootCert`.
pub fn ca_dir() -> std::path::PathBuf {
    std::path::Path::new(CA_PEM.get())
        .parent()
        .unwrap()
        .to_owned()
}

/// The machine's own PostgreSQL: trust auth, TLS with a certificate no test CA signed.
pub static PG_MAIN: Setting = Setting::new("JACKAL_TEST_PG_MAIN");
/// A cluster that checks passwords (scram-sha-256) and offers TLS with the test CA's certificate.
pub static PG_TLS: Setting = Setting::new("JACKAL_TEST_PG_TLS");
/// A cluster that checks passwords and offers no TLS.
pub static PG_PLAIN: Setting = Setting::new("JACKAL_TEST_PG_PLAIN");
/// A cluster that requires a client certificate of the test CA (`hostssl … cert`).
pub static PG_CERT: Setting = Setting::new("JACKAL_TEST_PG_CERT");
/// Debian's pgbouncer in front of PG_MAIN (session pooling, trust for the admin user).
pub static PGBOUNCER: Setting = Setting::new("JACKAL_TEST_PGBOUNCER");
/// A pgbouncer in front of PG_MAIN that demands a client certificate at the TLS level.
pub static PGBOUNCER_CERT: Setting = Setting::new("JACKAL_TEST_PGBOUNCER_CERT");
/// The machine's own MariaDB: no TLS, checks the test user's password.
pub static MARIADB_PLAIN: Setting = Setting::new("JACKAL_TEST_MARIADB_PLAIN");
/// A second MariaDB that offers TLS with the test CA's certificate.
pub static MARIADB_TLS: Setting = Setting::new("JACKAL_TEST_MARIADB_TLS");

/// SSH servers of `scripts/test-databases` (OpenSSH's sshd, each with its own ed25519 host
/// key): a bastion, a jump host in front of it, one that refuses TCP forwarding, one that takes
/// passwords; all log in `SSH_USER`.
pub static SSH_BASTION: Setting = Setting::new("JACKAL_TEST_SSH_BASTION");
pub static SSH_JUMP: Setting = Setting::new("JACKAL_TEST_SSH_JUMP");
pub static SSH_NOFORWARD: Setting = Setting::new("JACKAL_TEST_SSH_NOFORWARD");
pub static SSH_PASSWORD_SERVER: Setting = Setting::new("JACKAL_TEST_SSH_PASSWORD_SERVER");
pub static SSH_USER: Setting = Setting::new("JACKAL_TEST_SSH_USER");
pub static SSH_PASSWORD: Setting = Setting::new("JACKAL_TEST_SSH_PASSWORD");
/// The passphrase of `client/id_ed25519_pass`.
pub static SSH_KEY_PASSPHRASE: Setting = Setting::new("JACKAL_TEST_SSH_KEY_PASSPHRASE");
/// Where the servers' fingerprints (`NAME.fingerprint`) and the client keys (`client/id_*`) are.
pub static SSH_DIR: Setting = Setting::new("JACKAL_TEST_SSH_DIR");

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

/// Fails the test, saying to run scripts/test-databases, unless every address accepts TCP. A
/// live test is `#[ignore = "live: …"]` (plain `cargo test` lists it as ignored, `scripts/test`
/// runs it with `--include-ignored`) and starts with this, so that when it runs it either
/// reaches its servers or fails: it never passes without asserting.
pub fn require(addrs: &[&str]) {
    let down: Vec<&str> = addrs
        .iter()
        .copied()
        .filter(|addr| !accepts_tcp(addr))
        .collect();
    assert!(
        down.is_empty(),
        "live test: {} not reachable; run scripts/test-databases (or scripts/test) first",
        down.join(", ")
    );
}

fn accepts_tcp(addr: &str) -> bool {
    let socket: SocketAddr = addr
        .parse()
        .unwrap_or_else(|_| panic!("{addr}: a live-test address must be a literal IP:port"));
    TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_ok()
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
