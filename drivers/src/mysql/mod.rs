//! MySQL and MariaDB, through `mysql_async`.
//!
//! # Phases
//!
//! `mysql_async` opens the TCP connection, reads the server's greeting, switches to TLS when
//! asked and logs in, all inside one `Conn::new` call that exposes no hook between those steps
//! and accepts no stream we opened ourselves. Timing them apart would mean dialling twice, which
//! a connection test must not do. So a MySQL test records, with real elapsed times:
//!
//! - `ssl=false`: `connect` is the whole of `Conn::new`, that is TCP connect, greeting and
//!   login. When it fails, the error code says which step failed (`refused`, `timeout`,
//!   `auth_failed`, `unknown_database`, ...), classified from the typed error, but the time
//!   spent is reported under `connect`: no `auth` phase is recorded, because we could not time
//!   it honestly.
//! - `ssl=true`: TLS is Jackal's own, as for PostgreSQL (the same rustls configuration, roots,
//!   client certificate and certificate facts; see [`relay`]): Jackal dials (`connect`), and
//!   `mysql_async` logs in over a private socket through a relay that starts TLS on the way.
//!   The relay times the greeting and the handshake (`tls`); the rest of `Conn::new` is `auth`.
//! - `query`: `SELECT VERSION()`.
//! - `introspect` (introspection only): the schemas, tables and columns, from
//!   `information_schema`.
//!
//! # Addresses and TLS names
//!
//! Only the addresses of `Target::addrs` may be dialled: they were resolved once and checked
//! against the egress policy. `mysql_async` is therefore given the IP literal of one checked
//! address (and the same address as its `resolved_ips`, which makes it skip DNS altogether),
//! never the host name: given a name, it would resolve it again, and a second answer (DNS
//! rebinding) could lead it to an address the policy never checked.
//!
//! With TLS, Jackal dials the checked addresses itself, and the certificate is verified
//! against the host as the user wrote it.

mod relay;

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, IoError, Opts, OptsBuilder, Params, Row, Value};

use crate::attempt::{classify_dial_error, Attempt, Found, Io, Peer, ProbeContext, Target, Work};
use crate::product;
use crate::report::{CertificateFacts, ErrorCode, Phase, ProbeFailure, TlsReport};
use crate::schema::{Builder, Column, SchemaSnapshot, TableKind};
use crate::tls;
use crate::uri::{ConnectionSpec, Kind};
use relay::Relay;

/// How long closing the connection may take, in the background, after the test has answered.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The client-side packet limit, given so that `Conn::new` does not ask the server for
/// `@@max_allowed_packet` (an extra query inside the `connect` phase). Ample for a version query.
const MAX_ALLOWED_PACKET: usize = 16 * 1024 * 1024;

/// The server's default `wait_timeout`, given for the same reason.
const WAIT_TIMEOUT: usize = 28_800;

/// MySQL and MariaDB error numbers the test tells apart.
mod codes {
    /// ER_DBACCESS_DENIED_ERROR: the user has no rights on the database.
    pub const DB_ACCESS_DENIED: u16 = 1044;
    /// ER_ACCESS_DENIED_ERROR: wrong user or password.
    pub const ACCESS_DENIED: u16 = 1045;
    /// ER_BAD_DB_ERROR: unknown database.
    pub const BAD_DB: u16 = 1049;
    /// ER_HOST_NOT_PRIVILEGED: the client's address may not connect (sent instead of a greeting).
    pub const HOST_NOT_PRIVILEGED: u16 = 1130;
    /// ER_ACCESS_DENIED_NO_PASSWORD_ERROR: for example an `auth_socket`/`unix_socket` account.
    pub const ACCESS_DENIED_NO_PASSWORD: u16 = 1698;
    /// ER_MUST_CHANGE_PASSWORD_LOGIN: the password has expired.
    pub const PASSWORD_EXPIRED: u16 = 1862;
    /// ER_ACCOUNT_HAS_BEEN_LOCKED, in MySQL.
    pub const ACCOUNT_LOCKED_MYSQL: u16 = 3118;
    /// ER_ACCOUNT_HAS_BEEN_LOCKED, in MariaDB.
    pub const ACCOUNT_LOCKED_MARIADB: u16 = 4151;
}

/// What the `connect` phase learned, shared with the caller even when the phase is cut short
/// by the deadline (its future is then dropped, so it cannot return anything).
#[derive(Debug, Default)]
struct Progress {
    /// The address being dialled, or last dialled.
    address: Option<SocketAddr>,
    /// The phase ended on its own (success or classified failure), not at the deadline.
    finished: bool,
    /// A failure told that the login was answered (so the connection was plain and up).
    answered: bool,
}

/// Everything a failure message may name. Never the password.
struct Dial<'a> {
    /// The database as messages name it.
    peer: &'a Peer,
    /// The address dialled, when Jackal dialled the database itself (not through a tunnel).
    addr: Option<SocketAddr>,
    user: &'a str,
    database: Option<&'a str>,
    /// The client certificate presented in the TLS handshake, if any.
    presented: Option<&'a CertificateFacts>,
    /// The server asked for a client certificate in the TLS handshake.
    cert_asked: bool,
}

pub(crate) async fn probe(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    target: &Target,
    attempt: &mut Attempt,
    work: Work,
) -> Result<Found, ProbeFailure> {
    if spec.ssl() {
        // TLS is Jackal's own: it dials, and the relay starts TLS on its connection.
        let tcp = attempt.connect_tcp(target).await?;
        let addr = attempt
            .address
            .expect("connect_tcp records the address it dialled");
        return probe_over(spec, ctx, Box::new(tcp), &Peer::direct(addr), attempt, work).await;
    }
    // probe::run refuses a network configUri without a user before calling a backend.
    let user = spec.user().unwrap_or_default();
    let progress = Mutex::new(Progress::default());
    // The first address is the one dialled first: a deadline hit while dialling it names it.
    attempt.address = target.addrs.first().copied();
    let connected = attempt
        .run(Phase::Connect, connect(spec, target, user, &progress))
        .await;
    let progress = progress.into_inner().unwrap_or_else(|p| p.into_inner());
    if progress.address.is_some() {
        attempt.address = progress.address;
    }
    let conn = match connected {
        Ok(conn) => conn,
        Err(failure) => {
            attempt.tls = progress.answered.then(TlsReport::off);
            if !progress.finished {
                // Cut short by the deadline while dialling a later address: name that one.
                return Err(attempt.timeout_failure(Phase::Connect));
            }
            return Err(failure);
        }
    };
    let addr = attempt.address.expect("set when connected");
    let peer = Peer::direct(addr);
    let dial = Dial {
        peer: &peer,
        addr: Some(addr),
        user,
        database: spec.database(),
        presented: None,
        cert_asked: false,
    };
    attempt.tls = Some(TlsReport::off());
    logged_in(conn, spec, &dial, attempt, work, None).await
}

/// The test over `stream`, a channel through an SSH tunnel, handed to mysql_async through a
/// private [`Relay`] that also starts TLS when configUri asks for it.
pub(crate) async fn probe_over(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    stream: Box<dyn Io>,
    peer: &Peer,
    attempt: &mut Attempt,
    work: Work,
) -> Result<Found, ProbeFailure> {
    // probe::run refuses a network configUri without a user before calling a backend.
    let user = spec.user().unwrap_or_default();
    let host = spec.host().unwrap_or_default();
    let mut relay: Option<Relay> = None;
    let connected = attempt
        .run(Phase::Auth, async {
            let tls = match spec.ssl() {
                true => {
                    let roots = tls::trusted_roots(spec, &ctx.ssl_root_cert_dirs).await?;
                    Some(tls::Handshake::plan(spec, &roots, host)?)
                }
                false => None,
            };
            let relay = relay.insert(Relay::start(stream, tls, peer.clone())?);
            let conn = Conn::new(socket_options(spec, user, relay.socket())).await;
            conn.map_err(|e| {
                relay.failure().unwrap_or_else(|| {
                    let tls = relay.tls();
                    classify(&e, &relayed(peer, spec, user, tls.as_ref()), spec)
                })
            })
        })
        .await;
    // The relay timed the greeting and the handshake: that part of the login is `tls`.
    if let Some(took) = relay.as_ref().and_then(Relay::tls_time) {
        let done = relay
            .as_ref()
            .and_then(Relay::tls)
            .is_some_and(|tls| tls.enabled);
        attempt.split_last(Phase::Tls, took, done);
    }
    // TLS is the relay's: what it started; off for ssl=false; when TLS was asked for and not
    // established, what the failure reported (a refused certificate), else unknown (null), so a
    // failed handshake never reads as "TLS off".
    attempt.tls = match relay.as_ref().and_then(Relay::tls) {
        Some(report) => Some(report),
        None if spec.ssl() => attempt.tls.take(),
        None => Some(TlsReport::off()),
    };
    let conn = connected?;
    let tls = attempt.tls.clone();
    let dial = relayed(peer, spec, user, tls.as_ref());
    logged_in(conn, spec, &dial, attempt, work, relay).await
}

/// What a failure message may name, for a login through the relay with TLS as `tls` reports.
fn relayed<'a>(
    peer: &'a Peer,
    spec: &'a ConnectionSpec,
    user: &'a str,
    tls: Option<&'a TlsReport>,
) -> Dial<'a> {
    let facts = tls.and_then(|tls| tls.facts.as_deref());
    Dial {
        peer,
        addr: None,
        user,
        database: spec.database(),
        presented: facts.and_then(|f| f.client_certificate.as_ref()),
        cert_asked: facts.is_some_and(|f| f.client_certificate_requested),
    }
}

/// The test once logged in: the version, the schemas when asked, then a courteous close in the
/// background. `relay` is kept open until the close is done.
async fn logged_in(
    mut conn: Conn,
    spec: &ConnectionSpec,
    dial: &Dial<'_>,
    attempt: &mut Attempt,
    work: Work,
    relay: Option<Relay>,
) -> Result<Found, ProbeFailure> {
    let peer = dial.peer;
    let queried = attempt
        .run(Phase::Query, async {
            // @@version_comment in the same statement: no extra round trip, and it names Vitess,
            // Doris, StarRocks and SingleStore (crate::product).
            let row: Option<(String, Option<String>)> = conn
                .query_first("SELECT VERSION(), @@version_comment")
                .await
                .map_err(|e| classify(&e, dial, spec))?;
            let (text, comment) = row.ok_or_else(|| {
                ProbeFailure::new(
                    ErrorCode::ServerError,
                    format!("the server at {peer} answered SELECT VERSION() with no row"),
                )
            })?;
            // SingleStore gives its own version only in @@memsql_version: asked when, and only
            // when, the comment names it.
            let memsql = match comment.as_deref() {
                Some(comment) if product::needs_memsql_version(comment) => conn
                    .query_first::<String, _>("SELECT @@memsql_version")
                    .await
                    .ok()
                    .flatten(),
                _ => None,
            };
            // Aurora's own version, asked of RDS endpoints only (crate::product).
            let aurora = if product::may_be_aurora(dial_host(spec)) {
                conn.query_first::<String, _>("SELECT @@aurora_version")
                    .await
                    .ok()
                    .flatten()
            } else {
                None
            };
            Ok((text, comment, memsql, aurora))
        })
        .await;
    let snapshot = match (&queried, work) {
        (Ok(_), Work::Schema) => Some(
            attempt
                .run(Phase::Introspect, list_schemas(&mut conn, dial, spec))
                .await,
        ),
        _ => None,
    };
    // Closing is courtesy, not part of the test: it runs in the background, bounded, so the
    // answer never waits for it and never passes the deadline because of it.
    tokio::spawn(async move {
        let _ = tokio::time::timeout(CLOSE_GRACE, conn.disconnect()).await;
        drop(relay);
    });
    let (text, comment, memsql, aurora) = queried?;
    let snapshot = snapshot.transpose()?;
    let version = product::identify(&product::Seen {
        wire: product::Wire::Mysql,
        version_text: &text,
        server_version: None,
        crdb_version: None,
        version_comment: comment.as_deref(),
        memsql_version: memsql.as_deref(),
        aurora_version: aurora.as_deref(),
    });
    Ok((version, snapshot))
}

/// The database's host as configUri names it.
fn dial_host(spec: &ConnectionSpec) -> &str {
    spec.host().unwrap_or_default()
}

/// The databases MySQL and MariaDB keep for themselves, left out when configUri names none.
const SYSTEM_SCHEMAS: &str = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/// Tables and views; `SYSTEM VERSIONED` is a MariaDB table with history, `SYSTEM VIEW` what
/// `information_schema` itself holds (listed only when configUri names it). Sequences
/// (MariaDB) and temporary tables are left out.
const TABLE_TYPES: &str = "('BASE TABLE', 'SYSTEM VERSIONED', 'VIEW', 'SYSTEM VIEW')";

/// The configUri's database, or every database but the system ones: schemas, then their
/// tables and views, then the columns of those, three statements on the one connection.
///
/// Three listings rather than a join: `information_schema` tables are materialized by the
/// server, and joining them (in MariaDB at least) is far slower than reading each once. Rows
/// are read one at a time into the snapshot; columns find their table through a hash index.
async fn list_schemas(
    conn: &mut Conn,
    dial: &Dial<'_>,
    spec: &ConnectionSpec,
) -> Result<SchemaSnapshot, ProbeFailure> {
    // The database name is a parameter (a prepared statement), never spliced into the text.
    let (only, params) = match spec.database() {
        Some(database) => (
            "= ?".to_owned(),
            Params::Positional(vec![Value::from(database)]),
        ),
        None => (format!("NOT IN {SYSTEM_SCHEMAS}"), Params::Empty),
    };
    let schemas = format!(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME {only} ORDER BY SCHEMA_NAME"
    );
    let tables = format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA {only} AND TABLE_TYPE IN {TABLE_TYPES} \
         ORDER BY TABLE_SCHEMA, TABLE_NAME"
    );
    let columns = format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA {only} \
         ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
    );
    let failed = |e: mysql_async::Error| listing_failure(&e, dial, spec);
    let mut builder = Builder::new();
    // A row the server should never send (a NULL name) is skipped rather than failing all.
    conn.exec_iter(schemas, params.clone())
        .await
        .map_err(failed)?
        .for_each_and_drop(|row| {
            if let Some(name) = text(&row, 0) {
                builder.schema(&name);
            }
        })
        .await
        .map_err(failed)?;
    conn.exec_iter(tables, params.clone())
        .await
        .map_err(failed)?
        .for_each_and_drop(|row| {
            if let (Some(schema), Some(name), Some(kind)) =
                (text(&row, 0), text(&row, 1), text(&row, 2))
            {
                let kind = match kind.as_str() {
                    "VIEW" | "SYSTEM VIEW" => TableKind::View,
                    _ => TableKind::Table,
                };
                builder.table(&schema, &name, kind);
            }
        })
        .await
        .map_err(failed)?;
    conn.exec_iter(columns, params)
        .await
        .map_err(failed)?
        .for_each_and_drop(|row| {
            if let (Some(schema), Some(table), Some(name), Some(data_type)) =
                (text(&row, 0), text(&row, 1), text(&row, 2), text(&row, 3))
            {
                let column = Column {
                    name,
                    data_type,
                    nullable: text(&row, 4).is_some_and(|n| n.eq_ignore_ascii_case("YES")),
                };
                // Columns of a table created after the table listing, or of a sequence, have
                // no table to go to.
                builder.column(&schema, &table, column);
            }
        })
        .await
        .map_err(failed)?;
    Ok(builder.finish())
}

/// Column `i` of `row` as text: `information_schema` answers in strings (bytes on the wire,
/// decoded leniently so that a name in another encoding still shows); `None` for NULL.
fn text(row: &Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        other => Some(other.as_sql(true)),
    }
}

/// A failed listing. The server's own refusal (say, a privilege missing) is a server error
/// after a successful login; anything else (a lost connection) is classified like any other
/// error of the connection.
fn listing_failure(
    err: &mysql_async::Error,
    dial: &Dial<'_>,
    spec: &ConnectionSpec,
) -> ProbeFailure {
    match err {
        mysql_async::Error::Server(e) => scrub(
            ProbeFailure::new(
                ErrorCode::ServerError,
                format!(
                    "the server at {} logged in but refused to list its tables: error {} ({}): {}",
                    dial.peer, e.code, e.state, e.message
                ),
            ),
            spec,
        ),
        _ => classify(err, dial, spec),
    }
}

/// The `connect` phase without TLS: `Conn::new` to each checked address in turn, moving on
/// only when an address could not be reached at all (nothing was sent to it).
async fn connect(
    spec: &ConnectionSpec,
    target: &Target,
    user: &str,
    progress: &Mutex<Progress>,
) -> Result<Conn, ProbeFailure> {
    let update = |f: &dyn Fn(&mut Progress)| {
        let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut p);
    };
    let mut last = None;
    for &addr in &target.addrs {
        update(&|p| p.address = Some(addr));
        let peer = Peer::direct(addr);
        let dial = Dial {
            peer: &peer,
            addr: Some(addr),
            user,
            database: spec.database(),
            presented: None,
            cert_asked: false,
        };
        match Conn::new(options(spec, user, addr)).await {
            Ok(conn) => {
                update(&|p| p.finished = true);
                return Ok(conn);
            }
            Err(e) => {
                let failure = classify(&e, &dial, spec);
                if unreached(&e) {
                    last = Some(failure);
                    continue;
                }
                update(&|p| {
                    p.finished = true;
                    p.answered = login_answered(&e);
                });
                return Err(failure);
            }
        }
    }
    update(&|p| p.finished = true);
    Err(last.expect("a target has at least one address"))
}

/// The options for one plain connection to `addr`.
fn options(spec: &ConnectionSpec, user: &str, addr: SocketAddr) -> Opts {
    login_options(spec, user)
        // The checked IP, never the host name: given a name, mysql_async would resolve it again
        // and could dial an address the egress policy never saw. `resolved_ips` makes it skip
        // DNS entirely (it dials exactly these), so the literal is belt and braces.
        .ip_or_hostname(addr.ip().to_string())
        .resolved_ips(Some(vec![addr.ip()]))
        .tcp_port(addr.port())
        .into()
}

/// The options for the connection through a [`Relay`] at `socket`. No `ssl_opts`: TLS, when
/// asked for, is the relay's (mysql_async would skip it on a Unix socket anyway).
fn socket_options(spec: &ConnectionSpec, user: &str, socket: &Path) -> Opts {
    login_options(spec, user)
        .socket(Some(socket.to_string_lossy()))
        .into()
}

/// What every connection logs in with, whichever way it goes.
fn login_options(spec: &ConnectionSpec, user: &str) -> OptsBuilder {
    OptsBuilder::default()
        .user(Some(user))
        .pass(spec.password().map(|p| p.expose().to_owned()))
        .db_name(spec.database())
        // By default, after a TCP login to a loopback address mysql_async asks for @@socket and
        // reconnects through the local Unix socket. The test must reach what the user wrote
        // (this host and port), not whatever server owns a local socket, and must not connect
        // twice.
        .prefer_socket(false)
        // Known up front, so that Conn::new does not query them after login.
        .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
        .wait_timeout(Some(WAIT_TIMEOUT))
        // Never send the password in clear text, even when a server asks for it (it could be an
        // impostor when validateSsl=false, or the connection could be plain).
        .enable_cleartext_plugin(false)
}

/// The address could not be reached at all: the next checked address may be tried, since
/// nothing (no user name, no password) was sent to this one.
fn unreached(err: &mysql_async::Error) -> bool {
    match err {
        mysql_async::Error::Io(IoError::Io(e)) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
                | io::ErrorKind::TimedOut
        ),
        _ => false,
    }
}

/// The server answered the login packet (so a plain connection was up): the test reports TLS
/// as off rather than unknown. (1130 comes instead of the greeting, before any login.)
fn login_answered(err: &mysql_async::Error) -> bool {
    matches!(err, mysql_async::Error::Server(e) if matches!(
        e.code,
        codes::ACCESS_DENIED
            | codes::DB_ACCESS_DENIED
            | codes::BAD_DB
            | codes::ACCESS_DENIED_NO_PASSWORD
            | codes::PASSWORD_EXPIRED
            | codes::ACCOUNT_LOCKED_MYSQL
            | codes::ACCOUNT_LOCKED_MARIADB
    ))
}

/// A failure from `mysql_async`'s typed error, never from its message text. The server's own
/// text, when quoted, is scrubbed of the password (a server has no business echoing it, but the
/// message must never hold it whatever the server sends).
fn classify(err: &mysql_async::Error, dial: &Dial<'_>, spec: &ConnectionSpec) -> ProbeFailure {
    scrub(classify_unscrubbed(err, dial), spec)
}

/// `failure` with every occurrence of the password in its message replaced.
fn scrub(mut failure: ProbeFailure, spec: &ConnectionSpec) -> ProbeFailure {
    if let Some(password) = spec
        .password()
        .map(|p| p.expose())
        .filter(|p| !p.is_empty())
    {
        failure.message = failure.message.replace(password, "***");
    }
    failure
}

fn classify_unscrubbed(err: &mysql_async::Error, dial: &Dial<'_>) -> ProbeFailure {
    let Dial {
        peer: addr,
        addr: dialled,
        user,
        database,
        presented,
        cert_asked,
    } = *dial;
    let database = database.unwrap_or_default();
    match err {
        // With a client certificate presented, the server may also have refused it: an account
        // created `REQUIRE SUBJECT`, `ISSUER` or `X509` answers a certificate it does not accept
        // with this same error, and nothing in the protocol tells the two apart.
        mysql_async::Error::Server(e) if e.code == codes::ACCESS_DENIED && presented.is_some() => {
            let cert = presented.expect("checked");
            ProbeFailure::new(
                ErrorCode::AuthFailed,
                format!("access denied for user {user:?} by the server at {addr}, which received the client certificate {} (issued by {}): check the password in configUri, and that the account's REQUIRE SUBJECT or ISSUER (SHOW GRANTS FOR {user:?}) names this certificate; the server's error is the same for both", cert.subject, cert.issuer),
            )
        }
        // Asked for a certificate, none configured: an account created `REQUIRE X509`,
        // `SUBJECT` or `ISSUER` is refused with this same error (MariaDB and MySQL send no TLS
        // alert: they ask every client and judge at login).
        mysql_async::Error::Server(e) if e.code == codes::ACCESS_DENIED && cert_asked => ProbeFailure::new(
            ErrorCode::AuthFailed,
            format!("access denied for user {user:?} by the server at {addr}, which asked for a client certificate, and none is configured: if the account requires one (REQUIRE X509, SUBJECT or ISSUER in SHOW GRANTS FOR {user:?}), send it and its key as sslCert and sslKey; otherwise check the user and password in configUri"),
        ),
        mysql_async::Error::Server(e) => match e.code {
            codes::ACCESS_DENIED | codes::ACCESS_DENIED_NO_PASSWORD => ProbeFailure::new(
                ErrorCode::AuthFailed,
                format!("access denied for user {user:?} by the server at {addr}: check the user and password in configUri"),
            ),
            codes::DB_ACCESS_DENIED => ProbeFailure::new(
                ErrorCode::AuthFailed,
                // Also what a user without rights on a database gets when it does not exist: the
                // server does not tell such a user which, so the message names both.
                format!("user {user:?} may not use the database {database:?} on {addr}: check the database name in configUri (to a user without rights on a database, the server does not say whether it exists), or grant the user rights on it"),
            ),
            codes::BAD_DB => ProbeFailure::new(
                ErrorCode::UnknownDatabase,
                format!("database {database:?} does not exist on {addr}: check the database in configUri"),
            ),
            codes::HOST_NOT_PRIVILEGED => ProbeFailure::new(
                ErrorCode::AuthFailed,
                format!("the server at {addr} does not allow connections from the Jackal server's address: allow user {user:?} to connect from it (CREATE USER or GRANT ... TO {user:?}@'<host>')"),
            ),
            codes::PASSWORD_EXPIRED => ProbeFailure::new(
                ErrorCode::AuthFailed,
                format!("the password of user {user:?} has expired on the server at {addr}: set a new one on the server, then in configUri"),
            ),
            codes::ACCOUNT_LOCKED_MYSQL | codes::ACCOUNT_LOCKED_MARIADB => ProbeFailure::new(
                ErrorCode::AuthFailed,
                format!("the account of user {user:?} is locked on the server at {addr}: unlock it on the server (ALTER USER ... ACCOUNT UNLOCK)"),
            ),
            code => ProbeFailure::new(
                ErrorCode::ServerError,
                format!("the server at {addr} answered with error {code} ({}): {}", e.state, e.message),
            ),
        },
        mysql_async::Error::Driver(e) => match e {
            DriverError::NoClientSslFlagFromServer => ProbeFailure::new(
                ErrorCode::TlsUnavailable,
                format!("the server at {addr} does not offer TLS, and configUri asks for it (ssl=true): enable TLS on the server, or set ssl=false"),
            ),
            DriverError::CleartextPluginDisabled => ProbeFailure::new(
                ErrorCode::ServerError,
                format!("the server at {addr} asks for user {user:?}'s password in clear text (mysql_clear_password), and Jackal never sends it that way: use an account with another authentication plugin"),
            ),
            DriverError::UnknownAuthPlugin { name } => ProbeFailure::new(
                ErrorCode::ServerError,
                format!("the server at {addr} asks for the authentication plugin {name:?}, which Jackal does not support: use an account with mysql_native_password or caching_sha2_password"),
            ),
            DriverError::MysqlOldPasswordDisabled => ProbeFailure::new(
                ErrorCode::ServerError,
                format!("user {user:?} on the server at {addr} uses the insecure mysql_old_password plugin, which Jackal does not support: give the account a current password hash"),
            ),
            DriverError::ConnectionClosed => closed(addr),
            DriverError::CantParseServerVersion { .. }
            | DriverError::PacketOutOfOrder
            | DriverError::UnexpectedPacket { .. } => ProbeFailure::new(
                ErrorCode::ServerError,
                format!("the server at {addr} did not answer like a MySQL or MariaDB server ({e}): check host and port"),
            ),
            other => ProbeFailure::new(
                ErrorCode::ServerError,
                format!("the test of {addr} failed: {other}"),
            ),
        },
        mysql_async::Error::Io(IoError::Io(e)) => match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => closed(addr),
            _ => dialled
                .and_then(|dialled| classify_dial_error(dialled, e, Kind::Mysql))
                .unwrap_or_else(|| {
                ProbeFailure::new(
                    ErrorCode::ServerError,
                    format!("the connection to {addr} failed: {e}"),
                )
            }),
        },
        other => ProbeFailure::new(
            ErrorCode::ServerError,
            format!("the test of {addr} failed: {other}"),
        ),
    }
}

fn closed(addr: &Peer) -> ProbeFailure {
    ProbeFailure::new(
        ErrorCode::ServerError,
        format!("the server at {addr} closed the connection during the MySQL handshake: check that a MySQL or MariaDB server listens there, and its logs"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::ServerError;

    const SECRET: &str = "Sup3r-S3cret-pw";

    fn spec(uri: &str) -> ConnectionSpec {
        ConnectionSpec::parse(uri).expect("valid test URI")
    }

    fn dial() -> Dial<'static> {
        static PEER: std::sync::LazyLock<Peer> =
            std::sync::LazyLock::new(|| Peer::direct("192.0.2.7:3306".parse().unwrap()));
        Dial {
            peer: &PEER,
            addr: Some("192.0.2.7:3306".parse().unwrap()),
            user: "app",
            database: Some("shop"),
            presented: None,
            cert_asked: false,
        }
    }

    fn server(code: u16, message: &str) -> mysql_async::Error {
        mysql_async::Error::Server(ServerError {
            code,
            message: message.to_owned(),
            state: "28000".to_owned(),
        })
    }

    fn io(kind: io::ErrorKind) -> mysql_async::Error {
        mysql_async::Error::Io(IoError::Io(io::Error::from(kind)))
    }

    fn every_error() -> Vec<mysql_async::Error> {
        vec![
            server(
                1045,
                "Access denied for user 'app'@'10.0.0.1' (using password: YES)",
            ),
            server(1044, "Access denied for user 'app'@'%' to database 'shop'"),
            server(1049, "Unknown database 'shop'"),
            server(
                1130,
                "Host '10.0.0.1' is not allowed to connect to this MariaDB server",
            ),
            server(1698, "Access denied for user 'app'@'localhost'"),
            server(1862, "Your password has expired"),
            server(3118, "Access denied for user 'app'. Account is locked."),
            server(4151, "Access denied, this account is locked"),
            server(1040, "Too many connections"),
            // A hostile server echoing the password must not get it into the message.
            server(1105, &format!("I know your password: {SECRET}")),
            mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer),
            mysql_async::Error::Driver(DriverError::CleartextPluginDisabled),
            mysql_async::Error::Driver(DriverError::UnknownAuthPlugin {
                name: "dialog".to_owned(),
            }),
            mysql_async::Error::Driver(DriverError::ConnectionClosed),
            mysql_async::Error::Driver(DriverError::PacketOutOfOrder),
            io(io::ErrorKind::ConnectionRefused),
            io(io::ErrorKind::HostUnreachable),
            io(io::ErrorKind::NetworkUnreachable),
            io(io::ErrorKind::TimedOut),
            io(io::ErrorKind::UnexpectedEof),
            io(io::ErrorKind::PermissionDenied),
        ]
    }

    #[test]
    fn errors_are_classified_from_typed_data() {
        let spec = spec(&format!("mysql://app:{SECRET}@db.example.com/shop"));
        let d = dial();
        let code = |e: &mysql_async::Error| classify(e, &d, &spec).code;
        let expected = [
            ErrorCode::AuthFailed,
            ErrorCode::AuthFailed,
            ErrorCode::UnknownDatabase,
            ErrorCode::AuthFailed,
            ErrorCode::AuthFailed,
            ErrorCode::AuthFailed,
            ErrorCode::AuthFailed,
            ErrorCode::AuthFailed,
            ErrorCode::ServerError,
            ErrorCode::ServerError,
            ErrorCode::TlsUnavailable,
            ErrorCode::ServerError,
            ErrorCode::ServerError,
            ErrorCode::ServerError,
            ErrorCode::ServerError,
            ErrorCode::Refused,
            ErrorCode::Unreachable,
            ErrorCode::Unreachable,
            ErrorCode::Timeout,
            ErrorCode::ServerError,
            ErrorCode::ServerError,
        ];
        let errors = every_error();
        assert_eq!(errors.len(), expected.len());
        for (e, want) in errors.iter().zip(expected) {
            assert_eq!(code(e), want, "{e:?}");
        }
    }

    #[test]
    fn messages_name_what_to_fix() {
        let spec = spec("mysql://app:pw@db.example.com/shop");
        let d = dial();
        let message = |e: mysql_async::Error| classify(&e, &d, &spec).message;
        assert_eq!(
            message(server(1045, "x")),
            "access denied for user \"app\" by the server at 192.0.2.7:3306: check the user and password in configUri"
        );
        assert_eq!(
            message(server(1049, "x")),
            "database \"shop\" does not exist on 192.0.2.7:3306: check the database in configUri"
        );
        assert_eq!(
            message(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)),
            "the server at 192.0.2.7:3306 does not offer TLS, and configUri asks for it (ssl=true): enable TLS on the server, or set ssl=false"
        );
        let refused = message(io(io::ErrorKind::ConnectionRefused));
        assert!(refused.contains("192.0.2.7:3306"), "{refused}");
        assert!(
            refused.contains("check the host and port (MySQL's default port is 3306)"),
            "{refused}"
        );
        let other = message(server(1040, "Too many connections"));
        assert!(
            other.contains("1040") && other.contains("Too many connections"),
            "{other}"
        );
    }

    #[test]
    fn access_denied_with_a_client_certificate_names_it_and_the_require_clause() {
        let spec = spec("mysql://app:pw@db.example.com/shop");
        let cert = CertificateFacts {
            subject: "CN=jackal_cert_other".to_owned(),
            names: Vec::new(),
            issuer: "CN=Jackal test CA".to_owned(),
            not_before: String::new(),
            not_after: String::new(),
            days_left: 30,
            self_signed: false,
            fingerprint_sha256: String::new(),
        };
        let d = Dial {
            presented: Some(&cert),
            ..dial()
        };
        let failure = classify(&server(1045, "x"), &d, &spec);
        assert_eq!(failure.code, ErrorCode::AuthFailed);
        assert!(
            failure.message.contains("CN=jackal_cert_other")
                && failure.message.contains("REQUIRE SUBJECT"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn the_password_never_appears_in_a_failure_message() {
        let spec = spec(&format!("mysql://app:{SECRET}@db.example.com/shop"));
        let d = dial();
        for e in every_error() {
            let failure = classify(&e, &d, &spec);
            assert!(!failure.message.contains(SECRET), "{}", failure.message);
        }
    }

    #[test]
    fn only_unreached_addresses_are_retried() {
        assert!(unreached(&io(io::ErrorKind::ConnectionRefused)));
        assert!(unreached(&io(io::ErrorKind::NetworkUnreachable)));
        assert!(!unreached(&server(1045, "denied")));
        assert!(!unreached(&io(io::ErrorKind::UnexpectedEof)));
    }

    #[test]
    fn the_checked_ip_is_dialled() {
        let spec = spec("mysql://app:pw@db.example.com/shop?ssl=false");
        let addr: SocketAddr = "192.0.2.7:3307".parse().unwrap();
        let opts = options(&spec, "app", addr);
        assert_eq!(opts.ip_or_hostname(), "192.0.2.7");
        assert_eq!(opts.resolved_ips(), &Some(vec![addr.ip()]));
        assert_eq!(opts.tcp_port(), 3307);
        assert!(!opts.prefer_socket());
        assert_eq!(opts.user(), Some("app"));
        assert_eq!(opts.pass(), Some("pw"));
        assert_eq!(opts.db_name(), Some("shop"));
        assert!(opts.ssl_opts().is_none(), "TLS is never mysql_async's");
    }
}
