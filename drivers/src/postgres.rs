//! PostgreSQL probe: TCP connect, then (with `ssl=true`) the SSLRequest and a rustls handshake
//! done here, then startup and authentication through tokio-postgres over that stream, then
//! `SELECT version()`, then (introspection only) one catalog query, then a clean close.
//!
//! Failures are classified from typed data only: the server's answer byte to the SSLRequest,
//! rustls errors (in [`crate::tls`]), SQLSTATE codes and `io::Error`s. No message ever holds
//! the password: the templates here never name it, and text that comes from the server is
//! scrubbed of it before it is quoted.

use std::error::Error as _;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use tokio_rustls::client::TlsStream;

use crate::attempt::{Attempt, Found, Io, Peer, ProbeContext, Target, Work};
use crate::product;
use crate::report::{CertificateFacts, ErrorCode, Phase, ProbeFailure, TlsReport};
use crate::schema::{Builder, Column, SchemaSnapshot, TableKind};
use crate::tls;
use crate::uri::ConnectionSpec;

/// What the server sees as `application_name` (in `pg_stat_activity` and its logs).
const APPLICATION_NAME: &str = "jackal-connection-test";

/// The SSLRequest code: 1234 in the high 16 bits, 5679 in the low 16 bits.
const SSL_REQUEST_CODE: i32 = 80_877_103;

pub(crate) async fn probe(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    target: &Target,
    attempt: &mut Attempt,
    work: Work,
) -> Result<Found, ProbeFailure> {
    let tcp = attempt.connect_tcp(target).await?;
    let addr = attempt
        .address
        .expect("connect_tcp records the address it dialled");
    probe_over(spec, ctx, Box::new(tcp), &Peer::direct(addr), attempt, work).await
}

/// The test from the TLS request on, over `stream`: a TCP connection, or a channel through an
/// SSH tunnel. TLS names the host as `configUri` writes it either way.
pub(crate) async fn probe_over(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    stream: Box<dyn Io>,
    addr: &Peer,
    attempt: &mut Attempt,
    work: Work,
) -> Result<Found, ProbeFailure> {
    // probe::run refuses a network configUri without a user before calling a backend.
    let user = spec.user().unwrap_or_default();
    let host = spec.host().unwrap_or_default();

    let stream: Box<dyn Io> = if spec.ssl() {
        let (tls, report) = attempt
            .run(Phase::Tls, async {
                let roots = tls::trusted_roots(spec, &ctx.ssl_root_cert_dirs).await?;
                start_tls(stream, addr, host, spec, &roots).await
            })
            .await?;
        attempt.tls = Some(report);
        Box::new(tls)
    } else {
        attempt.tls = Some(TlsReport::off());
        stream
    };

    let mut config = tokio_postgres::Config::new();
    config
        .user(user)
        .application_name(APPLICATION_NAME)
        // TLS, when asked for, is already running underneath `stream`.
        .ssl_mode(SslMode::Disable);
    if let Some(password) = spec.password() {
        config.password(password.expose());
    }
    if let Some(database) = spec.database() {
        config.dbname(database);
    }

    let facts = attempt.tls.as_ref().and_then(|tls| tls.facts.as_deref());
    let client_cert = ClientCertUse {
        asked: facts.is_some_and(|f| f.client_certificate_requested),
        presented: facts.and_then(|f| f.client_certificate.clone()),
    };
    let (client, connection) = attempt
        .run(Phase::Auth, async {
            config
                .connect_raw(stream, NoTls)
                .await
                .map_err(|e| login_failure(&e, spec, user, addr, &client_cert))
        })
        .await?;

    // Read before the connection is moved into its task.
    let server_version = connection.parameter("server_version").map(str::to_owned);
    // CockroachDB announces itself at start-up: no query needed to know it (crate::product).
    let crdb_version = connection.parameter("crdb_version").map(str::to_owned);
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended with an error");
        }
    });

    // The simple-query protocol: one round trip, where a prepared `query_one` takes two (parse,
    // then bind and execute). On a remote server that is one network round trip less per test.
    let description = attempt
        .run(Phase::Query, async {
            let description = first_text(
                client
                    .simple_query("SELECT version()")
                    .await
                    .map_err(|e| query_failure(&e, spec, addr))?,
            )
            .ok_or_else(|| {
                ProbeFailure::new(
                    ErrorCode::ServerError,
                    format!("the server at {addr} logged in but its answer to SELECT version() had no version in it: is this a PostgreSQL server?"),
                )
            })?;
            // Aurora's own version, asked of RDS endpoints only (crate::product); elsewhere the
            // function does not exist, and its error is not the test's.
            let aurora = match product::may_be_aurora(host) {
                true => client
                    .simple_query("SELECT aurora_version()")
                    .await
                    .ok()
                    .and_then(first_text),
                false => None,
            };
            Ok((description, aurora))
        })
        .await;
    let snapshot = match (&description, work) {
        (Ok(_), Work::Schema) => Some(
            attempt
                .run(Phase::Introspect, list_schemas(&client, spec, addr))
                .await,
        ),
        _ => None,
    };

    // Dropping the client makes the connection task send Terminate and end on its own; the
    // answer does not wait for the server to close its side (a round trip, and a risk of
    // turning a success into a timeout at the very end of the deadline).
    drop(client);
    let ((description, aurora_version), snapshot) = match (description, snapshot.transpose()) {
        (Ok(description), Ok(snapshot)) => (description, snapshot),
        (Err(failure), _) | (_, Err(failure)) => {
            task.abort();
            return Err(failure);
        }
    };
    let version = product::identify(&product::Seen {
        wire: product::Wire::Postgres,
        version_text: &description,
        server_version: server_version.as_deref(),
        crdb_version: crdb_version.as_deref(),
        version_comment: None,
        memsql_version: None,
        aurora_version: aurora_version.as_deref(),
    });
    Ok((version, snapshot))
}

/// The first column of the first row of a simple query's answer.
fn first_text(messages: Vec<SimpleQueryMessage>) -> Option<String> {
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
        _ => None,
    })
}

/// Every user schema of the connected database (system ones aside), each with its tables,
/// views, materialized views and foreign tables and their columns: one row per column, one
/// row for a relation without columns, one row for a schema without relations, ordered so
/// that the rows of a relation are contiguous. From `pg_catalog`, which answers for 10,000
/// tables in a fraction of the time `information_schema` takes.
const SCHEMA_QUERY: &str = r"SELECT n.nspname, c.relname, c.relkind,
       a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_catalog.pg_namespace n
LEFT JOIN pg_catalog.pg_class c
       ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
LEFT JOIN pg_catalog.pg_attribute a
       ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY n.nspname, c.relname, a.attnum";

/// Runs [`SCHEMA_QUERY`] and builds the snapshot from its rows as they arrive.
///
/// The simple-query protocol sends it in one round trip (no prepare), and the rows are read
/// from the stream one by one into the snapshot, never held as a whole result first.
async fn list_schemas(
    client: &Client,
    spec: &ConnectionSpec,
    addr: &Peer,
) -> Result<SchemaSnapshot, ProbeFailure> {
    let failed = |e: tokio_postgres::Error| listing_failure(&e, spec, addr);
    let malformed = |what: &str| {
        ProbeFailure::new(
            ErrorCode::ServerError,
            format!("the server at {addr} answered the table listing with {what}"),
        )
    };
    let stream = client
        .simple_query_raw(SCHEMA_QUERY)
        .await
        .map_err(failed)?;
    let mut stream = std::pin::pin!(stream);
    let mut builder = Builder::new();
    while let Some(message) = stream.next().await {
        let SimpleQueryMessage::Row(row) = message.map_err(failed)? else {
            continue;
        };
        let text = |i: usize| row.try_get(i).map_err(failed);
        let schema = text(0)?.ok_or_else(|| malformed("a row without a schema name"))?;
        let table = match (text(1)?, text(2)?) {
            (Some(name), Some(relkind)) => {
                let kind = match relkind {
                    "r" | "p" => TableKind::Table,
                    "v" => TableKind::View,
                    "m" => TableKind::MaterializedView,
                    "f" => TableKind::ForeignTable,
                    other => return Err(malformed(&format!("the unknown relkind {other:?}"))),
                };
                Some((name, kind))
            }
            _ => None,
        };
        let column = match (text(3)?, text(4)?, text(5)?) {
            (Some(name), Some(data_type), Some(not_null)) => Some(Column {
                name: name.to_owned(),
                data_type: data_type.to_owned(),
                // Booleans come as text in the simple-query protocol.
                nullable: not_null != "t",
            }),
            _ => None,
        };
        builder.row(schema, table, column);
    }
    Ok(builder.finish())
}

/// Sends the SSLRequest and, when the server answers 'S', runs the TLS handshake.
///
/// This is done here rather than through tokio-postgres's `sslmode` on purpose: it lets the
/// TLS negotiation be timed as its own phase, and it lets "the server offers no TLS" be
/// classified from the server's typed one-byte answer ('N') instead of from an error's text.
/// There is never a fall-back to plain text: `ssl=true` means encrypted or nothing.
async fn start_tls<S: Io>(
    mut tcp: S,
    addr: &Peer,
    host: &str,
    spec: &ConnectionSpec,
    roots: &tls::Roots,
) -> Result<(TlsStream<S>, TlsReport), ProbeFailure> {
    let lost = |e: std::io::Error| {
        ProbeFailure::new(
            ErrorCode::ServerError,
            format!(
                "the connection to {addr} failed while asking for TLS ({e}): is this a PostgreSQL server?"
            ),
        )
    };
    let mut request = [0u8; 8];
    request[..4].copy_from_slice(&8i32.to_be_bytes());
    request[4..].copy_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
    tcp.write_all(&request).await.map_err(lost)?;

    // Exactly one byte is read, straight from the socket with no buffer, so anything a server
    // sends after 'S' goes to rustls (which rejects it) and can never be taken as plain text.
    let mut answer = [0u8; 1];
    if tcp.read(&mut answer).await.map_err(lost)? == 0 {
        return Err(ProbeFailure::new(
            ErrorCode::ServerError,
            format!(
                "the server at {addr} closed the connection when asked for TLS: is this a PostgreSQL server?"
            ),
        ));
    }
    match answer[0] {
        b'S' => tls::handshake(tcp, host, spec, roots).await,
        b'N' => Err(ProbeFailure::new(
            ErrorCode::TlsUnavailable,
            format!(
                "the server at {addr} does not offer TLS, and configUri asks for it (ssl=true): enable TLS on the server, or set ssl=false to connect without encryption"
            ),
        )),
        other => Err(ProbeFailure::new(
            ErrorCode::ServerError,
            format!(
                "the server at {addr} answered the TLS request with '{}' instead of 'S' or 'N': is this a PostgreSQL server?",
                std::ascii::escape_default(other)
            ),
        )),
    }
}

/// `text` with every occurrence of the password replaced, for quoting what a server or a
/// library said.
fn scrub(text: &str, spec: &ConnectionSpec) -> String {
    match spec.password().map(|p| p.expose()) {
        Some(password) if !password.is_empty() => text.replace(password, "***"),
        _ => text.to_owned(),
    }
}

/// `err` and its cause, as one line.
fn describe(err: &tokio_postgres::Error) -> String {
    match err.source() {
        Some(cause) => format!("{err}: {cause}"),
        None => err.to_string(),
    }
}

/// What the TLS handshake did about a client certificate.
struct ClientCertUse {
    /// The server sent a CertificateRequest.
    asked: bool,
    /// The certificate Jackal presented, if it had one to present.
    presented: Option<CertificateFacts>,
}

/// A failed startup or login, classified from the SQLSTATE or the error's typed cause.
fn login_failure(
    err: &tokio_postgres::Error,
    spec: &ConnectionSpec,
    user: &str,
    addr: &Peer,
    client_cert: &ClientCertUse,
) -> ProbeFailure {
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        let said = scrub(db.message(), spec);
        return if *code == SqlState::INVALID_PASSWORD {
            ProbeFailure::new(
                ErrorCode::AuthFailed,
                format!(
                    "password authentication failed for user {user:?}: check the password in configUri"
                ),
            )
        } else if let (true, Some(cert)) = (
            *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            &client_cert.presented,
        ) {
            // The certificate passed the TLS handshake (the server's CA accepted it), then the
            // login was refused: a `cert` rule or `clientcert=verify-full` found that its
            // common name is not the user (or no pg_hba.conf line lets it in at all).
            ProbeFailure::new(
                ErrorCode::ClientCertRejected,
                format!(
                    "the server refused user {user:?} with the client certificate {} (the server said: {said}): a `cert` or `clientcert=verify-full` rule in pg_hba.conf wants the certificate's CN to be the user name (or mapped to it by pg_ident.conf); use a certificate issued for {user:?}, or check that a pg_hba.conf line lets this user in",
                    cert.subject
                ),
            )
        } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION && client_cert.asked {
            // A server with ssl_ca_file asks every TLS client for a certificate, and 28000 also
            // means "no pg_hba.conf entry": together they suggest, but do not prove, that a
            // `cert` rule refused the login. So auth_failed, with the hint.
            ProbeFailure::new(
                ErrorCode::AuthFailed,
                format!(
                    "the server refused user {user:?} (the server said: {said}); it also asked for a client certificate during the TLS handshake, and none is configured: if its pg_hba.conf has a `cert` or `clientcert=verify-…` rule for this connection, that is why (send the certificate and its key as sslCert and sslKey); otherwise check the user in configUri and the server's pg_hba.conf"
                ),
            )
        } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            ProbeFailure::new(
                ErrorCode::AuthFailed,
                format!(
                    "the server refused user {user:?} (pg_hba.conf has no entry allowing it?): check the user in configUri and the server's pg_hba.conf (the server said: {said})"
                ),
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            // With no database in configUri, the server looks for one named like the user.
            let database = spec.database().unwrap_or(user);
            ProbeFailure::new(
                ErrorCode::UnknownDatabase,
                format!(
                    "database {database:?} does not exist on {addr}: check the database in configUri"
                ),
            )
        } else {
            ProbeFailure::new(
                ErrorCode::ServerError,
                format!(
                    "the server at {addr} refused the login: {said} (SQLSTATE {})",
                    code.code()
                ),
            )
        };
    }
    if err.is_closed() {
        return ProbeFailure::new(
            ErrorCode::ServerError,
            format!(
                "the server at {addr} closed the connection during login: check the server's log, and that a PostgreSQL server listens there"
            ),
        );
    }
    let io = err
        .source()
        .and_then(|cause| cause.downcast_ref::<std::io::Error>());
    if let Some(failure) = io.and_then(|io| {
        tls::client_cert_failure(io, &addr.to_string(), client_cert.presented.as_ref())
    }) {
        return failure;
    }
    match io {
        Some(io) if io.kind() == std::io::ErrorKind::InvalidData
            || io.kind() == std::io::ErrorKind::InvalidInput =>
        {
            ProbeFailure::new(
                ErrorCode::ServerError,
                format!(
                    "the server at {addr} answered with something that is not the PostgreSQL protocol ({}): is this a PostgreSQL server?",
                    scrub(&io.to_string(), spec)
                ),
            )
        }
        Some(io) => ProbeFailure::new(
            ErrorCode::ServerError,
            format!(
                "the connection to {addr} failed during login ({}): check that a PostgreSQL server listens there",
                scrub(&io.to_string(), spec)
            ),
        ),
        // Neither the server's error nor I/O: tokio-postgres stopped by itself. With no
        // password in configUri that is its "password missing" (a configuration error raised
        // when the server asks for one).
        None if spec.password().is_none() && err.source().is_some() => ProbeFailure::new(
            ErrorCode::AuthFailed,
            "the server asks for a password and configUri has none: add it as user:password@host",
        ),
        None => ProbeFailure::new(
            ErrorCode::ServerError,
            format!(
                "the login to {addr} failed: {}",
                scrub(&describe(err), spec)
            ),
        ),
    }
}

/// A failed table listing (the login and the version query worked).
fn listing_failure(
    err: &tokio_postgres::Error,
    spec: &ConnectionSpec,
    addr: &Peer,
) -> ProbeFailure {
    let message = match err.as_db_error() {
        Some(db) => format!(
            "the server at {addr} logged in but refused to list its tables: {} (SQLSTATE {})",
            scrub(db.message(), spec),
            db.code().code()
        ),
        None => format!(
            "the server at {addr} logged in but listing its tables failed: {}",
            scrub(&describe(err), spec)
        ),
    };
    ProbeFailure::new(ErrorCode::ServerError, message)
}

/// A failed `SELECT version()`.
fn query_failure(err: &tokio_postgres::Error, spec: &ConnectionSpec, addr: &Peer) -> ProbeFailure {
    let message = match err.as_db_error() {
        Some(db) => format!(
            "the server at {addr} logged in but refused the version query: {} (SQLSTATE {})",
            scrub(db.message(), spec),
            db.code().code()
        ),
        None => format!(
            "the server at {addr} logged in but the version query failed: {}",
            scrub(&describe(err), spec)
        ),
    };
    ProbeFailure::new(ErrorCode::ServerError, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zq9-unguessable-Secret";

    #[test]
    fn scrub_removes_the_password_from_quoted_text() {
        let spec =
            ConnectionSpec::parse(&format!("postgresql://alice:{SECRET}@db.example.test/app"))
                .unwrap();
        let quoted = format!("the server echoed {SECRET} twice: {SECRET}");
        let scrubbed = scrub(&quoted, &spec);
        assert!(!scrubbed.contains(SECRET), "{scrubbed}");
        assert_eq!(scrubbed, "the server echoed *** twice: ***");

        let no_password = ConnectionSpec::parse("postgresql://alice@db.example.test/app").unwrap();
        assert_eq!(scrub("unchanged", &no_password), "unchanged");
    }
}
