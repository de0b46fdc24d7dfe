//! What every path of a test shares, whichever backend and route it takes: the context
//! ([`ProbeContext`]), the stream a backend logs in over ([`Io`]), how messages name the
//! database ([`Peer`]), what a backend is asked to do and returns ([`Work`], [`Found`]), where it
//! may dial ([`Target`]), the record of the test in progress with its deadline ([`Attempt`]),
//! and how a failed dial is classified. It imports no backend: `probe.rs` orchestrates, the
//! backends and the SSH tunnel use this.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::egress::EgressPolicy;
use crate::report::{ErrorCode, Phase, PhaseRecord, ProbeFailure, ServerVersion, TlsReport};
use crate::resolve::{Resolver, SystemResolver};
use crate::schema::SchemaSnapshot;
use crate::uri::{ConnectionSpec, Kind};

/// What every test shares: how to resolve, where it may go, how long it may take.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    pub resolver: Arc<dyn Resolver>,
    pub egress: EgressPolicy,
    /// SQLite files may be opened only under these directories; empty denies all.
    pub sqlite_allowed_dirs: Vec<PathBuf>,
    /// `sslRootCert` files may be read only under these directories; empty denies all.
    pub ssl_root_cert_dirs: Vec<PathBuf>,
    /// The deadline when the configUri has no `connectTimeout`.
    pub default_timeout: Duration,
    /// Whether the hosts behind the first SSH hop (further hops, the database) are passed to
    /// the hop before them as names, for it to resolve, instead of being resolved and checked
    /// here (`[egress] ssh_resolves_names`, for split-horizon DNS). Addresses written as such
    /// are checked either way. Off by default: a name the bastion resolves is outside the
    /// egress policy.
    pub ssh_resolves_names: bool,
}

impl Default for ProbeContext {
    fn default() -> Self {
        Self {
            resolver: Arc::new(SystemResolver),
            egress: EgressPolicy::default(),
            sqlite_allowed_dirs: Vec::new(),
            ssl_root_cert_dirs: Vec::new(),
            default_timeout: Duration::from_secs(10),
            ssh_resolves_names: false,
        }
    }
}

impl ProbeContext {
    /// The time budget for `spec`: its `connectTimeout`, else the default.
    pub fn budget(&self, spec: &ConnectionSpec) -> Duration {
        spec.connect_timeout().unwrap_or(self.default_timeout)
    }
}

/// A stream a backend can log in over: plain TCP, TLS over TCP, or a channel through an SSH
/// tunnel.
pub(crate) trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// The database as messages name it: the address Jackal dialled, or the host and port the
/// bastion was asked to reach.
#[derive(Debug, Clone)]
pub(crate) struct Peer(String);

impl Peer {
    pub fn direct(addr: SocketAddr) -> Peer {
        Peer(addr.to_string())
    }

    pub fn tunnelled(host: &str, port: u16, bastion: &str) -> Peer {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        Peer(format!(
            "{host}:{port} (through the SSH tunnel via {bastion})"
        ))
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a backend does once logged in and the version is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// Nothing more: a connection test.
    Version,
    /// List schemas, tables, views and columns, in a [`Phase::Introspect`].
    Schema,
}

/// What a backend found: the version, and the schemas when [`Work::Schema`] asked for them.
pub(crate) type Found = (ServerVersion, Option<SchemaSnapshot>);

/// Where a network test goes: the addresses the host resolved to, every one already allowed
/// by the egress policy. (The host as written, for TLS names and messages, is the spec's.)
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub addrs: Vec<SocketAddr>,
}

/// The record of one test in progress: its deadline and the phases reached.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) deadline: Instant,
    pub(crate) budget: Duration,
    kind: Kind,
    /// `host:port` as written, for messages before an address is known.
    destination: String,
    pub(crate) current: Option<Phase>,
    /// The SSH hop of the current phase, for `ssh_*` phases.
    current_hop: Option<String>,
    pub(crate) phases: Vec<PhaseRecord>,
    pub address: Option<SocketAddr>,
    pub tls: Option<TlsReport>,
}

pub(crate) fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

impl Attempt {
    pub(crate) fn new(
        kind: Kind,
        destination: String,
        started: Instant,
        deadline: Instant,
    ) -> Self {
        Self {
            deadline,
            budget: deadline.saturating_duration_since(started),
            kind,
            destination,
            current: None,
            current_hop: None,
            phases: Vec::new(),
            address: None,
            tls: None,
        }
    }

    fn product(&self) -> &'static str {
        match self.kind {
            Kind::Postgresql => "PostgreSQL",
            Kind::Mysql => "MySQL or MariaDB",
            Kind::Sqlite => "SQLite",
        }
    }

    /// Runs one phase under the deadline and records it.
    pub async fn run<T>(
        &mut self,
        phase: Phase,
        work: impl std::future::Future<Output = Result<T, ProbeFailure>>,
    ) -> Result<T, ProbeFailure> {
        self.current_hop = None;
        self.run_recorded(phase, work).await
    }

    /// Runs one `ssh_*` phase of the SSH hop `hop` (`user@host:port`) under the deadline.
    pub async fn run_hop<T>(
        &mut self,
        phase: Phase,
        hop: &str,
        work: impl std::future::Future<Output = Result<T, ProbeFailure>>,
    ) -> Result<T, ProbeFailure> {
        self.current_hop = Some(hop.to_owned());
        self.run_recorded(phase, work).await
    }

    async fn run_recorded<T>(
        &mut self,
        phase: Phase,
        work: impl std::future::Future<Output = Result<T, ProbeFailure>>,
    ) -> Result<T, ProbeFailure> {
        let started = Instant::now();
        self.current = Some(phase);
        let result = match tokio::time::timeout_at(self.deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(self.timeout_failure(phase)),
        };
        self.phases.push(PhaseRecord {
            phase,
            hop: self.current_hop.clone(),
            ok: result.is_ok(),
            elapsed: started.elapsed(),
        });
        if let Err(ProbeFailure { tls: Some(tls), .. }) = &result {
            self.tls.get_or_insert_with(|| (**tls).clone());
        }
        result
    }

    /// Splits the last phase recorded in two, when part of it was timed apart (MySQL's greeting
    /// and TLS, by the relay inside `Conn::new`): `first` took `took` of it and came first. When
    /// `first` failed, the rest never started and is not recorded.
    pub fn split_last(&mut self, first: Phase, took: Duration, first_ok: bool) {
        let Some(last) = self.phases.pop() else {
            return;
        };
        let took = took.min(last.elapsed);
        self.phases.push(PhaseRecord {
            phase: first,
            hop: None,
            ok: first_ok,
            elapsed: took,
        });
        if first_ok {
            self.phases.push(PhaseRecord {
                elapsed: last.elapsed - took,
                ..last
            });
        }
    }

    pub fn timeout_failure(&self, phase: Phase) -> ProbeFailure {
        let within = seconds(self.budget);
        let at = self
            .address
            .map(|a| a.to_string())
            .unwrap_or_else(|| self.destination.clone());
        let product = self.product();
        let hop = self.current_hop.as_deref().unwrap_or("the SSH server");
        let ssh = |what: &str| {
            ProbeFailure::new(
                ErrorCode::SshTimeout,
                format!("{hop} {what} within {within}: check the SSH host and port (sshHost, sshPort, sshJump), the firewall in front of it, and that an SSH server listens there"),
            )
        };
        let message = match phase {
            Phase::SshConnect => return ssh("did not complete the SSH handshake (banner, key exchange)"),
            Phase::SshAuth => return ssh("did not answer the login"),
            Phase::SshForward => {
                return ProbeFailure::new(
                    ErrorCode::SshTimeout,
                    format!("{hop} did not open the forwarded channel within {within}: the host it was asked to reach may not answer it; check the database host and port as the bastion sees them"),
                )
            }
            Phase::Resolve => format!(
                "resolving {} took longer than the {within} deadline: check the host name and the DNS of the Jackal server",
                self.destination
            ),
            Phase::Connect => format!(
                "nothing answered at {at} within {within}: check host, port and firewall"
            ),
            Phase::Tls | Phase::Auth => format!(
                "nothing answered at {at} within {within}: the TCP connection opened but no {product} handshake came back; check host, port and firewall, and that a {product} server listens there"
            ),
            Phase::Query => format!(
                "the server at {at} logged in but did not answer a version query within {within}: it may be overloaded"
            ),
            Phase::Introspect if self.kind == Kind::Sqlite => format!(
                "{} was opened but listing its tables did not finish within {within}: it may be very large or locked; raise connectTimeout (up to 300 s) to allow more time",
                self.destination
            ),
            Phase::Introspect => format!(
                "the server at {at} logged in but did not finish listing its tables within {within}: it may be overloaded or the database very large; raise connectTimeout (up to 300 s) to allow more time"
            ),
        };
        ProbeFailure::new(ErrorCode::Timeout, message)
    }

    /// TCP connect to the first checked address that answers. `address` is the one that
    /// answered or, on failure, the last one tried.
    pub async fn connect_tcp(&mut self, target: &Target) -> Result<TcpStream, ProbeFailure> {
        let addrs = target.addrs.clone();
        let kind = self.kind;
        let tried = std::sync::Mutex::new(None);
        let result = self
            .run(Phase::Connect, async {
                let mut last_error = None;
                for addr in &addrs {
                    *tried.lock().unwrap() = Some(*addr);
                    match TcpStream::connect(addr).await {
                        Ok(stream) => {
                            // Handshakes are many small writes, each waiting on an answer:
                            // with Nagle on, the startup message after TLS sits ~40 ms
                            // behind the server's delayed ACK.
                            stream
                                .set_nodelay(true)
                                .map_err(|e| dial_failure(*addr, &e, kind))?;
                            return Ok(stream);
                        }
                        Err(e) => last_error = Some((*addr, e)),
                    }
                }
                let (addr, err) = last_error.expect("a target has at least one address");
                Err(dial_failure(addr, &err, kind))
            })
            .await;
        self.address = tried.into_inner().unwrap();
        result
    }
}

fn dial_failure(addr: SocketAddr, err: &std::io::Error, kind: Kind) -> ProbeFailure {
    classify_dial_error(addr, err, kind).unwrap_or_else(|| {
        ProbeFailure::new(
            ErrorCode::Unreachable,
            format!("could not connect to {addr}: {err}; check host, port and firewall"),
        )
    })
}

/// A failure to reach `addr` (refused, no route, timed out), from the error's kind; `None`
/// for kinds that are not about reaching the server.
pub(crate) fn classify_dial_error(
    addr: SocketAddr,
    err: &std::io::Error,
    kind: Kind,
) -> Option<ProbeFailure> {
    let port_hint = kind
        .default_port()
        .map(|p| format!(" ({}'s default port is {p})", product_name(kind)))
        .unwrap_or_default();
    let code = dial_error_code(err)?;
    let message = match code {
        ErrorCode::Refused => format!("nothing is listening at {addr}: the connection was refused; check the host and port{port_hint}, and that the server is running"),
        ErrorCode::Unreachable => format!("{addr} is unreachable from the Jackal server (no route to it): check the host, and the network between them"),
        _ => format!("nothing answered at {addr}: the connection timed out; check host, port and firewall"),
    };
    Some(ProbeFailure::new(code, message))
}

/// What a failed dial says about reaching the server, from the error's kind: `Refused`,
/// `Unreachable` or `Timeout`; `None` for kinds that are not about reaching it.
pub(crate) fn dial_error_code(err: &std::io::Error) -> Option<ErrorCode> {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::ConnectionRefused => Some(ErrorCode::Refused),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Some(ErrorCode::Unreachable),
        ErrorKind::TimedOut => Some(ErrorCode::Timeout),
        _ => None,
    }
}

fn product_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgresql => "PostgreSQL",
        Kind::Mysql => "MySQL",
        Kind::Sqlite => "SQLite",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_introspection_cut_short_says_the_listing_did_not_finish() {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(10);
        for (kind, destination, address, opening) in [
            (
                Kind::Postgresql,
                "db.example.test:5432",
                Some("192.0.2.7:5432"),
                "the server at 192.0.2.7:5432 logged in but did not finish listing its tables within 10 s: ",
            ),
            (
                Kind::Sqlite,
                "/data/shop.db",
                None,
                "/data/shop.db was opened but listing its tables did not finish within 10 s: ",
            ),
        ] {
            let mut attempt = Attempt::new(kind, destination.to_owned(), started, deadline);
            attempt.address = address.map(|a| a.parse().unwrap());
            let failure = attempt.timeout_failure(Phase::Introspect);
            assert_eq!(failure.code, ErrorCode::Timeout);
            assert!(failure.message.starts_with(opening), "{}", failure.message);
            assert!(
                failure.message.contains("connectTimeout"),
                "{}",
                failure.message
            );
        }
    }
}
