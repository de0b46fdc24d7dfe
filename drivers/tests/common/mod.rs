//! The live test servers that `scripts/test-databases` sets up on this machine, and the rule for
//! an unreachable one: with `CI=true` the test fails; otherwise it is skipped with a reason.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The role and database created on every test server, with a real password.
pub const USER: &str = "jackal_test";
pub const PASSWORD: &str = "jackal-test-pw-1";
pub const DATABASE: &str = "jackal_test";

/// The CA that signed the test servers' certificates (SANs: localhost, 127.0.0.1, ::1).
pub const CA_PEM: &str = "/var/lib/jackal-test/tls/ca.pem";

/// The directory of `CA_PEM`: what `[drivers.tls] root_cert_dirs` must list for tests that
/// name it in `sslRootCert`.
pub fn ca_dir() -> std::path::PathBuf {
    std::path::Path::new(CA_PEM).parent().unwrap().to_owned()
}

/// The machine's own PostgreSQL: trust auth, TLS with Debian's self-signed snakeoil certificate.
pub const PG_MAIN: &str = "127.0.0.1:5432";
/// A cluster that checks passwords (scram-sha-256) and offers TLS with the test CA's certificate.
pub const PG_TLS: &str = "127.0.0.1:55432";
/// A cluster that checks passwords and offers no TLS.
pub const PG_PLAIN: &str = "127.0.0.1:55433";
/// The machine's own MariaDB: no TLS, checks the test user's password.
pub const MARIADB_PLAIN: &str = "127.0.0.1:3306";
/// A second MariaDB that offers TLS with the test CA's certificate.
pub const MARIADB_TLS: &str = "127.0.0.1:33306";

/// `true` when `addr` accepts TCP. When it does not: under CI, panic (a live test never skips
/// there); elsewhere, print why and return `false` so the test can return early.
pub fn reachable(addr: &str) -> bool {
    let socket: SocketAddr = addr.parse().expect("test addresses are literal");
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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
