//! One connection test: resolve → policy check → TCP connect → TLS → authenticate → version
//! query → close, each phase timed, the whole bounded by one deadline.
//!
//! Introspection is the same test with one more phase before the close: listing schemas,
//! tables, views and their columns ([`introspect`]). It goes through exactly the same code up
//! to the version query, so the egress policy, TLS rules, deadline and failure classification
//! are those of the test.

use std::net::{IpAddr, SocketAddr};

use tokio::time::Instant;

pub use crate::attempt::ProbeContext;
use crate::attempt::{seconds, Attempt, Found, Peer, Target, Work};
use crate::report::{ErrorCode, IntrospectionReport, Phase, ProbeFailure, ProbeReport};
use crate::resolve::ResolveError;
use crate::ssh::tunnel::Leg;
use crate::ssh::SshRoute;
use crate::uri::{ConnectionSpec, Kind, UnlockError};
use crate::{mysql, postgres, sqlite, ssh};

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
