//! One connection test: resolve → policy check → TCP connect → TLS → authenticate → version
//! query → close, each phase timed, the whole bounded by one deadline.
//!
//! Introspection is the same test with one more phase before the close: listing schemas,
//! tables, views and their columns ([`introspect`]). It goes through exactly the same code up
//! to the version query, so the egress policy, TLS rules, deadline and failure classification
//! are those of the test.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::egress::EgressPolicy;
use crate::report::{
    ErrorCode, IntrospectionReport, Phase, PhaseRecord, ProbeFailure, ProbeReport, ServerVersion,
    TlsReport,
};
use crate::resolve::{ResolveError, Resolver, SystemResolver};
use crate::schema::SchemaSnapshot;
use crate::ssh::tunnel::Leg;
use crate::ssh::SshRoute;
use crate::uri::{ConnectionSpec, Kind, UnlockError};
use crate::{mysql, postgres, sqlite, ssh};

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
    deadline: Instant,
    budget: Duration,
    kind: Kind,
    /// `host:port` as written, for messages before an address is known.
    destination: String,
    current: Option<Phase>,
    /// The SSH hop of the current phase, for `ssh_*` phases.
    current_hop: Option<String>,
    phases: Vec<PhaseRecord>,
    pub address: Option<SocketAddr>,
    pub tls: Option<TlsReport>,
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

impl Attempt {
    fn new(kind: Kind, destination: String, started: Instant, deadline: Instant) -> Self {
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

/// Addresses of `host`, each checked against the egress policy. A literal IP is not looked up.
async fn resolve_checked(
    ctx: &ProbeContext,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ProbeFailure> {
    resolve_checked_from(ctx, host, port, "").await
}

/// [`resolve_checked`], with `hint` added to a resolution failure's message.
async fn resolve_checked_from(
    ctx: &ProbeContext,
    host: &str,
    port: u16,
    hint: &str,
) -> Result<Vec<SocketAddr>, ProbeFailure> {
    let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => ctx.resolver.lookup(host).await.map_err(|e| {
            let why = match e {
                ResolveError::NotFound => "no such host".to_owned(),
                ResolveError::Temporary => "the DNS server did not answer".to_owned(),
                ResolveError::Other(text) => text,
            };
            ProbeFailure::new(
                ErrorCode::DnsFailed,
                format!("the host name {host:?} could not be resolved ({why}): check the host in configUri, and the DNS of the Jackal server{hint}"),
            )
        })?,
    };
    if ips.is_empty() {
        return Err(ProbeFailure::new(
            ErrorCode::DnsFailed,
            format!(
                "the host name {host:?} resolved to no address: check the host in configUri{hint}"
            ),
        ));
    }
    // Every address must pass: a name that mixes an allowed and a denied address is refused.
    for ip in &ips {
        ctx.egress
            .check(*ip)
            .map_err(|why| ProbeFailure::new(ErrorCode::DeniedByPolicy, why))?;
    }
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// Where one SSH hop is asked to open its channel (the next hop, or the database behind the
/// bastion), decided before anything is dialled: the addresses Jackal resolved and checked, or,
/// with [`ProbeContext::ssh_resolves_names`], a name as written for the hop to resolve.
async fn leg(ctx: &ProbeContext, host: &str, port: u16) -> Result<Leg, ProbeFailure> {
    if ctx.ssh_resolves_names && host.parse::<IpAddr>().is_err() {
        return Ok(Leg::Name {
            host: host.to_owned(),
            port,
        });
    }
    const HINT: &str = " (Jackal resolves the hosts behind an SSH bastion itself, so that the \
        egress policy holds at every hop; for a name only the bastion's DNS knows, an admin can \
        set [egress] ssh_resolves_names = true in config.toml)";
    resolve_checked_from(ctx, host, port, HINT)
        .await
        .map(Leg::Addresses)
}

/// Tests `spec` with the deadline its `connectTimeout` (or the default) gives, from now.
pub async fn probe(spec: &ConnectionSpec, ctx: &ProbeContext) -> ProbeReport {
    let now = Instant::now();
    probe_until(spec, ctx, now, now + ctx.budget(spec)).await
}

/// Tests `spec`, counting from `started` (which may be earlier than now, when the test
/// waited in a queue) and stopping at `deadline` whatever happens.
pub async fn probe_until(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    started: Instant,
    deadline: Instant,
) -> ProbeReport {
    let (outcome, attempt) = attempt_until(spec, ctx, started, deadline, Work::Version).await;
    ProbeReport {
        outcome: outcome.map(|(version, _)| version),
        duration: started.elapsed(),
        phases: attempt.phases,
        address: attempt.address,
        tls: attempt.tls,
    }
}

/// Lists the schemas, tables, views and columns of `spec`'s database, with the deadline its
/// `connectTimeout` (or the default) gives, from now.
pub async fn introspect(spec: &ConnectionSpec, ctx: &ProbeContext) -> IntrospectionReport {
    let now = Instant::now();
    introspect_until(spec, ctx, now, now + ctx.budget(spec)).await
}

/// Lists the schemas, tables, views and columns of `spec`'s database in one connection,
/// counting from `started` and stopping at `deadline` whatever happens: the phases of
/// [`probe_until`], then [`Phase::Introspect`].
///
/// What is listed: for PostgreSQL every schema of the connected database but the system ones
/// (`pg_catalog`, `information_schema`, `pg_toast*`, `pg_temp*`), with its tables,
/// partitioned tables, views, materialized views and foreign tables; for MySQL/MariaDB the
/// configUri's database when it names one, else every database but `mysql`,
/// `information_schema`, `performance_schema` and `sys`, with tables and views; for SQLite the
/// file's `main` schema, with tables and views but not SQLite's own `sqlite_*` tables.
pub async fn introspect_until(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    started: Instant,
    deadline: Instant,
) -> IntrospectionReport {
    let (outcome, attempt) = attempt_until(spec, ctx, started, deadline, Work::Schema).await;
    let outcome = outcome.and_then(|(version, snapshot)| match snapshot {
        Some(snapshot) => Ok((version, snapshot)),
        None => Err(ProbeFailure::new(
            ErrorCode::ServerError,
            "introspection ended without listing any table",
        )),
    });
    IntrospectionReport {
        outcome,
        duration: started.elapsed(),
        phases: attempt.phases,
        address: attempt.address,
        tls: attempt.tls,
    }
}

/// One attempt at `work`, bounded by `deadline`.
async fn attempt_until(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    started: Instant,
    deadline: Instant,
    work: Work,
) -> (Result<Found, ProbeFailure>, Attempt) {
    let destination = match (spec.host(), spec.effective_port()) {
        (Some(host), Some(port)) if host.contains(':') => format!("[{host}]:{port}"),
        (Some(host), Some(port)) => format!("{host}:{port}"),
        _ => spec
            .sqlite_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    let mut attempt = Attempt::new(spec.kind(), destination, started, deadline);
    // A safety net over the per-phase deadlines: nothing may outlive the deadline.
    let outcome = match tokio::time::timeout_at(deadline, run(spec, ctx, &mut attempt, work)).await
    {
        Ok(outcome) => outcome,
        Err(_) => Err(attempt.timeout_failure(attempt.current.unwrap_or(Phase::Connect))),
    };
    (outcome, attempt)
}

async fn run(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    attempt: &mut Attempt,
    work: Work,
) -> Result<Found, ProbeFailure> {
    let unlocked = unlocked(spec, attempt).await?;
    let spec = unlocked.as_ref().unwrap_or(spec);
    if spec.kind() == Kind::Sqlite {
        return sqlite::probe(spec, ctx, attempt, work).await;
    }
    let (Some(host), Some(port)) = (spec.host(), spec.effective_port()) else {
        return Err(ProbeFailure::new(
            ErrorCode::InvalidUri,
            "configUri has no host to connect to",
        ));
    };
    // Both network protocols log in as someone; refuse before sending anything.
    if spec.user().is_none() {
        return Err(ProbeFailure::new(
            ErrorCode::InvalidUri,
            format!(
                "configUri names no user: write it as {}://user:password@{host}:{port}/database",
                spec.kind().as_str()
            ),
        ));
    }
    if let Some(route) = spec.ssh_route() {
        return through_tunnel(spec, ctx, attempt, work, &route, host, port).await;
    }
    let addrs = attempt
        .run(Phase::Resolve, resolve_checked(ctx, host, port))
        .await?;
    let target = Target { addrs };
    match spec.kind() {
        Kind::Postgresql => postgres::probe(spec, ctx, &target, attempt, work).await,
        Kind::Mysql => mysql::probe(spec, ctx, &target, attempt, work).await,
        Kind::Sqlite => unreachable!("handled above"),
    }
}

/// `spec` with its encrypted keys decrypted, when it has any: keys are stored decrypted when
/// they arrive, but an older version stored them encrypted. The key derivation (bounded by
/// [`crate::key_cost`]) runs off the async workers and counts against the test's deadline:
/// the answer never waits for it past the deadline.
async fn unlocked(
    spec: &ConnectionSpec,
    attempt: &Attempt,
) -> Result<Option<ConnectionSpec>, ProbeFailure> {
    if !spec.has_locked_keys() {
        return Ok(None);
    }
    let locked = spec.clone();
    let work = tokio::task::spawn_blocking(move || locked.unlocked());
    let refused = |code, why: String| {
        ProbeFailure::new(
            code,
            format!("the stored key could not be decrypted ({why}): send it again"),
        )
    };
    match tokio::time::timeout_at(attempt.deadline, work).await {
        Ok(Ok(Ok(spec))) => Ok(Some(spec)),
        Ok(Ok(Err(e @ UnlockError::Ssh(_)))) => {
            Err(refused(ErrorCode::SshAuthFailed, e.to_string()))
        }
        Ok(Ok(Err(e @ UnlockError::Tls(_)))) => Err(refused(ErrorCode::TlsFailed, e.to_string())),
        Ok(Err(e)) => Err(refused(ErrorCode::ServerError, e.to_string())),
        Err(_) => Err(ProbeFailure::new(
            ErrorCode::Timeout,
            format!(
                "decrypting the stored key took longer than the {} deadline: send the key \
                 again (it is then stored decrypted) or raise connectTimeout",
                seconds(attempt.budget)
            ),
        )),
    }
}

/// The test through an SSH tunnel. Every host on the way (the first hop, which Jackal dials,
/// the hops behind it and the database behind the bastion, which the hop before each is asked
/// to reach) is resolved and checked by the egress policy before anything is dialled, and each
/// hop is asked to open a channel to a checked address, never to a name it would resolve
/// itself (unless [`ProbeContext::ssh_resolves_names`]). TLS still verifies the database's
/// name as written.
async fn through_tunnel(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    attempt: &mut Attempt,
    work: Work,
    route: &SshRoute,
    host: &str,
    port: u16,
) -> Result<Found, ProbeFailure> {
    let first = &route.hops[0];
    let (addrs, legs) = attempt
        .run(Phase::Resolve, async {
            let addrs = resolve_checked(ctx, &first.host, first.port).await?;
            let onward = route.hops[1..]
                .iter()
                .map(|hop| (hop.host.as_str(), hop.port))
                .chain([(host, port)]);
            let mut legs = Vec::with_capacity(route.hops.len());
            for (host, port) in onward {
                legs.push(leg(ctx, host, port).await?);
            }
            Ok((addrs, legs))
        })
        .await?;
    attempt.address = addrs.first().copied();
    let tunnel = ssh::tunnel::open(route, spec.ssh_credentials(), &addrs, &legs, attempt).await?;
    let peer = Peer::tunnelled(host, port, &route.bastion().label());
    let (stream, sessions) = tunnel.into_parts();
    let found = match spec.kind() {
        Kind::Postgresql => postgres::probe_over(spec, ctx, stream, &peer, attempt, work).await,
        Kind::Mysql => mysql::probe_over(spec, ctx, stream, &peer, attempt, work).await,
        // A SQLite configUri has no host, so no tunnel: run() returned before.
        Kind::Sqlite => unreachable!("no tunnel for a SQLite file"),
    };
    // The sessions carry the channel: they end with the test, not before.
    drop(sessions);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_introspection_cut_short_says_the_listing_did_not_finish() {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(10);
        let mut attempt = Attempt::new(
            Kind::Postgresql,
            "db.example.test:5432".to_owned(),
            started,
            deadline,
        );
        attempt.address = Some("192.0.2.7:5432".parse().unwrap());
        let failure = attempt.timeout_failure(Phase::Introspect);
        assert_eq!(failure.code, ErrorCode::Timeout);
        assert!(
            failure.message.starts_with(
                "the server at 192.0.2.7:5432 logged in but did not finish listing its tables within 10 s: "
            ),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("connectTimeout"),
            "{}",
            failure.message
        );

        let attempt = Attempt::new(Kind::Sqlite, "/data/shop.db".to_owned(), started, deadline);
        let failure = attempt.timeout_failure(Phase::Introspect);
        assert_eq!(failure.code, ErrorCode::Timeout);
        assert!(
            failure.message.starts_with(
                "/data/shop.db was opened but listing its tables did not finish within 10 s: "
            ),
            "{}",
            failure.message
        );
    }
}
