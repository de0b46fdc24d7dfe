//! What a connection test reports: the contract's §5 result, as typed data.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::schema::SchemaSnapshot;

/// Why a test failed, from the contract's list. Classified from typed data (SQLSTATE, MySQL
/// error numbers, `io::ErrorKind`, rustls errors, resolver errors), never from message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
// Exhaustive on purpose: the server maps each variant to the contract's documented list
// (OpenAPI), and a new one must fail its build rather than fall back silently.
pub enum ErrorCode {
    /// The configUri cannot be tested as written.
    InvalidUri,
    /// The host name did not resolve.
    DnsFailed,
    /// Nothing listens on that port (connection refused).
    Refused,
    /// No route to the host or network.
    Unreachable,
    /// The deadline passed before the server answered.
    Timeout,
    /// TLS was asked for (`ssl=true`) and the server does not offer it.
    TlsUnavailable,
    /// The TLS handshake failed: untrusted or mismatched certificate, or a protocol error.
    TlsFailed,
    /// The server refused the user or password.
    AuthFailed,
    /// The server asked for a client certificate in the TLS handshake and refused the login
    /// without one.
    ClientCertRequired,
    /// The server refused the client certificate presented (an unknown issuer, expired, or
    /// otherwise not accepted), with a TLS alert or, for PostgreSQL, SQLSTATE 28000 after it.
    ClientCertRejected,
    /// The database (or SQLite file) does not exist.
    UnknownDatabase,
    /// The egress policy or SQLite `allowed_dirs` forbids the destination; nothing was sent.
    DeniedByPolicy,
    /// The server answered with an error of another kind.
    ServerError,
    /// Nothing listens at an SSH hop's address (connection refused).
    SshRefused,
    /// An SSH hop did not finish its part (banner, handshake, login or channel) within the
    /// deadline.
    SshTimeout,
    /// An SSH hop refused the key or password; the message lists the methods it offered.
    SshAuthFailed,
    /// No host key is pinned for an SSH hop; the message carries the one it presented.
    SshHostKeyUnknown,
    /// An SSH hop presented another host key than the one pinned.
    SshHostKeyMismatch,
    /// The bastion (or a jump host) refused to open the channel to the next hop or database.
    SshForwardDenied,
    /// An SSH hop broke the protocol or closed the connection (not an SSH server?).
    SshFailed,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidUri => "invalid_uri",
            ErrorCode::DnsFailed => "dns_failed",
            ErrorCode::Refused => "refused",
            ErrorCode::Unreachable => "unreachable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::TlsUnavailable => "tls_unavailable",
            ErrorCode::TlsFailed => "tls_failed",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::ClientCertRequired => "client_cert_required",
            ErrorCode::ClientCertRejected => "client_cert_rejected",
            ErrorCode::UnknownDatabase => "unknown_database",
            ErrorCode::DeniedByPolicy => "denied_by_policy",
            ErrorCode::ServerError => "server_error",
            ErrorCode::SshRefused => "ssh_refused",
            ErrorCode::SshTimeout => "ssh_timeout",
            ErrorCode::SshAuthFailed => "ssh_auth_failed",
            ErrorCode::SshHostKeyUnknown => "ssh_host_key_unknown",
            ErrorCode::SshHostKeyMismatch => "ssh_host_key_mismatch",
            ErrorCode::SshForwardDenied => "ssh_forward_denied",
            ErrorCode::SshFailed => "ssh_failed",
        }
    }
}

/// The steps of a test, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
// Exhaustive on purpose: the server maps each variant to the contract's documented list
// (OpenAPI), and a new one must fail its build rather than fall back silently.
pub enum Phase {
    /// Host name to addresses, and the egress policy check of every address.
    Resolve,
    /// TCP connect to an SSH hop (the first one is dialled, the next ones through the previous
    /// hop), its banner, key exchange and host-key check.
    SshConnect,
    /// Logging in to an SSH hop.
    SshAuth,
    /// Opening the channel from an SSH hop to the next hop, or to the database.
    SshForward,
    /// TCP connect to a checked address (for SQLite: opening the file).
    Connect,
    /// TLS negotiation and handshake.
    Tls,
    /// Logging in.
    Auth,
    /// Asking the server for its version.
    Query,
    /// Listing schemas, tables, views and their columns (introspection only).
    Introspect,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::SshConnect => "ssh_connect",
            Phase::SshAuth => "ssh_auth",
            Phase::SshForward => "ssh_forward",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Auth => "auth",
            Phase::Query => "query",
            Phase::Introspect => "introspect",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseRecord {
    pub phase: Phase,
    /// The SSH hop of an `ssh_*` phase, `user@host:port`.
    pub hop: Option<String>,
    pub ok: bool,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsReport {
    pub enabled: bool,
    /// Chain and host name were verified (`validateSsl=true`).
    pub verified: bool,
    /// For example `TLSv1.3`.
    pub protocol: Option<String>,
    /// The rest is known when Jackal ran the handshake itself (PostgreSQL, and MySQL through an
    /// SSH tunnel; mysql_async runs it for a direct MySQL test and tells none of it).
    pub facts: Option<Box<TlsFacts>>,
}

impl TlsReport {
    /// TLS not used (`ssl=false`, or the server offers none).
    pub fn off() -> Self {
        Self::on(false, false)
    }

    /// TLS as far as it can be told without the handshake's details.
    pub fn on(enabled: bool, verified: bool) -> Self {
        Self {
            enabled,
            verified,
            protocol: None,
            facts: None,
        }
    }
}

/// What a TLS handshake Jackal ran showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// For example `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<String>,
    /// The server's own (leaf) certificate, when it sent one that could be read.
    pub server_certificate: Option<CertificateFacts>,
    /// The server asked for a client certificate (a CertificateRequest in the handshake).
    pub client_certificate_requested: bool,
    /// The client certificate presented (asked for, and one was configured).
    pub client_certificate: Option<CertificateFacts>,
    /// What an admin should know though the test passed, each saying what to do.
    pub warnings: Vec<String>,
}

/// A certificate as an admin checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// RFC 4514, e.g. `CN=localhost`.
    pub subject: String,
    /// The DNS names and IP addresses it is valid for (subjectAltName).
    pub names: Vec<String>,
    pub issuer: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
    /// Whole days until `not_after`; negative once expired.
    pub days_left: i64,
    /// Issued by itself: subject and issuer are the same, and the server sent no chain.
    pub self_signed: bool,
    /// SHA-256 of the certificate's DER, as `openssl x509 -fingerprint -sha256` prints it.
    pub fingerprint_sha256: String,
}

/// Serialized in camelCase: the contract's `version` object, and the form a schema snapshot
/// keeps it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerVersion {
    /// The real product: `PostgreSQL`, `MySQL`, `MariaDB`, `SQLite`, or one that speaks their
    /// protocol (see [`crate::product`]).
    pub product_name: String,
    /// Dotted version without vendor suffixes, e.g. `15.20` or `10.11.19`.
    pub product_version: String,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The server's full version string, as it reports it.
    pub description: String,
    /// The product the wire announces and its version, when the real product is another
    /// (CockroachDB announces PostgreSQL 13.0.0): see [`crate::product`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatible_with: Option<CompatibleWith>,
    /// The raw text the product was identified from (`version()`); absent in snapshots taken
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_string: Option<String>,
}

/// The wire's product and the version it announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompatibleWith {
    pub product_name: String,
    pub product_version: String,
}

impl CompatibleWith {
    pub fn new(product_name: &str, product_version: &str) -> Self {
        Self {
            product_name: product_name.to_owned(),
            product_version: product_version.to_owned(),
        }
    }
}

impl ServerVersion {
    /// Splits the leading dotted number of `text` ("15.20 (Debian …)", "10.11.19-MariaDB-…").
    /// Missing components are 0.
    pub fn from_text(product_name: &str, text: &str, description: String) -> Self {
        let dotted: String = text
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let dotted = dotted.trim_end_matches('.').to_owned();
        let mut parts = dotted.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
        Self {
            product_name: product_name.to_owned(),
            major: parts.next().unwrap_or(0),
            minor: parts.next().unwrap_or(0),
            patch: parts.next().unwrap_or(0),
            product_version: dotted,
            description,
            compatible_with: None,
            version_string: None,
        }
    }
}

/// A failed test: what happened and what to do about it. The message never holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    pub code: ErrorCode,
    pub message: String,
    /// What TLS showed before it failed (the certificate the server presented, when its
    /// verification refused it); the test's report carries it.
    pub tls: Option<Box<TlsReport>>,
}

impl ProbeFailure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            tls: None,
        }
    }

    /// This failure, with what TLS showed before it.
    pub fn with_tls(self, tls: TlsReport) -> Self {
        Self {
            tls: Some(Box::new(tls)),
            ..self
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub outcome: Result<ServerVersion, ProbeFailure>,
    pub duration: Duration,
    /// The phases reached, in order; the last one failed when the test did.
    pub phases: Vec<PhaseRecord>,
    /// The address actually dialled.
    pub address: Option<SocketAddr>,
    pub tls: Option<TlsReport>,
}

/// The result of introspection: as a [`ProbeReport`], with the schemas listed on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionReport {
    pub outcome: Result<(ServerVersion, SchemaSnapshot), ProbeFailure>,
    pub duration: Duration,
    /// The phases reached, in order (a success ends with [`Phase::Introspect`]); the last one
    /// failed when introspection did.
    pub phases: Vec<PhaseRecord>,
    /// The address actually dialled.
    pub address: Option<SocketAddr>,
    pub tls: Option<TlsReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_parsed_from_what_servers_report() {
        let cases = [
            (
                "PostgreSQL",
                "15.20 (Debian 15.20-0+deb12u1)",
                "15.20",
                (15, 20, 0),
            ),
            (
                "MariaDB",
                "10.11.19-MariaDB-0+deb12u1",
                "10.11.19",
                (10, 11, 19),
            ),
            ("MySQL", "8.0.36", "8.0.36", (8, 0, 36)),
            ("PostgreSQL", "17beta1", "17", (17, 0, 0)),
            ("SQLite", "3.46.0", "3.46.0", (3, 46, 0)),
        ];
        for (product, text, dotted, (major, minor, patch)) in cases {
            let v = ServerVersion::from_text(product, text, text.to_owned());
            assert_eq!(v.product_version, dotted, "{text}");
            assert_eq!((v.major, v.minor, v.patch), (major, minor, patch), "{text}");
            assert_eq!(v.description, text);
        }
    }
}
