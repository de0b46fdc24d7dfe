//! A connection test's result as the API shows it (the contract's §5 shape, with its extension
//! fields): the answer of `/test`, a line of a fleet run, and the last result a data source
//! keeps for the status page.

use jackal_drivers::report::CertificateFacts;
use jackal_drivers::{ErrorCode, IntrospectionReport, Phase, ProbeReport, ServerVersion};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The contract's §5 result, with its extension fields. A failed test is a result too (200).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Whether connecting, logging in and asking for the version all worked.
    pub success: bool,
    /// On success: the server's product and version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub version: Option<VersionView>,
    /// On failure: what failed and how to fix it; never contains a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
    /// On failure: the classified cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error_code: Option<TestErrorCode>,
    /// The whole test, in milliseconds.
    #[schema(minimum = 0)]
    pub duration_ms: f64,
    /// The steps taken, in order, up to the failing one.
    pub phases: Vec<PhaseView>,
    /// The `ip:port` actually dialled; `null` when none was.
    #[schema(required = true, example = "127.0.0.1:5432")]
    pub address: Option<String>,
    /// TLS as used; `null` when no connection got that far, or for SQLite.
    #[schema(required = true)]
    pub tls: Option<Box<TlsView>>,
    /// An extension of `POST /connection-test`, present when the configUri sent was rewritten
    /// into the contract's form (a `postgres://`, JDBC or libpq URI, MySQL's `ssl-mode`) or may
    /// have lost a `+` to form decoding: one short sentence per change, as on create and update.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(
        required = false,
        example = json!(["sslmode=verify-full became validateSsl=true&ssl=true"])
    )]
    pub notes: Vec<String>,
}

/// The database server's product and version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    /// The real product: `PostgreSQL`, `MySQL`, `MariaDB`, `SQLite`, or one that speaks their
    /// protocol (`CockroachDB`, `Amazon Redshift`, `YugabyteDB`, `Greenplum`, `TiDB`, `Vitess`,
    /// `PlanetScale`, `Apache Doris`, `StarRocks`, `SingleStore`, `Amazon Aurora PostgreSQL`,
    /// `Amazon Aurora MySQL`).
    #[schema(example = "PostgreSQL")]
    pub product_name: String,
    /// The real product's dotted version, without vendor suffixes (empty when the server does
    /// not tell it).
    #[schema(example = "15.19")]
    pub product_version: String,
    pub major: u64,
    pub minor: u64,
    /// Missing components are 0.
    pub patch: u64,
    /// The server's full version string, as it reports it.
    pub description: String,
    /// An extension, present when the real product is not the one its wire protocol announces
    /// (CockroachDB, Amazon Redshift, YugabyteDB, Greenplum, TiDB, Vitess, PlanetScale, Apache
    /// Doris, StarRocks, SingleStore, Amazon Aurora): that wire product and the version it
    /// announces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatible_with: Option<CompatibleView>,
    /// An extension: the raw text the product was identified from (`version()` / `VERSION()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "PostgreSQL 15.19 (Debian 15.19-0+deb12u1) on x86_64-pc-linux-gnu")]
    pub version_string: Option<String>,
}

/// The wire protocol's product and the version the server announces on it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompatibleView {
    #[schema(example = "PostgreSQL")]
    pub product_name: String,
    #[schema(example = "13.0.0")]
    pub product_version: String,
}

/// Why a test failed.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestErrorCode {
    InvalidUri,
    DnsFailed,
    Refused,
    Unreachable,
    Timeout,
    TlsUnavailable,
    TlsFailed,
    AuthFailed,
    ClientCertRequired,
    ClientCertRejected,
    UnknownDatabase,
    DeniedByPolicy,
    ServerError,
    SshRefused,
    SshTimeout,
    SshAuthFailed,
    SshHostKeyUnknown,
    SshHostKeyMismatch,
    SshForwardDenied,
    SshFailed,
}

impl From<ErrorCode> for TestErrorCode {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidUri => Self::InvalidUri,
            ErrorCode::DnsFailed => Self::DnsFailed,
            ErrorCode::Refused => Self::Refused,
            ErrorCode::Unreachable => Self::Unreachable,
            ErrorCode::Timeout => Self::Timeout,
            ErrorCode::TlsUnavailable => Self::TlsUnavailable,
            ErrorCode::TlsFailed => Self::TlsFailed,
            ErrorCode::AuthFailed => Self::AuthFailed,
            ErrorCode::ClientCertRequired => Self::ClientCertRequired,
            ErrorCode::ClientCertRejected => Self::ClientCertRejected,
            ErrorCode::UnknownDatabase => Self::UnknownDatabase,
            ErrorCode::DeniedByPolicy => Self::DeniedByPolicy,
            ErrorCode::ServerError => Self::ServerError,
            ErrorCode::SshRefused => Self::SshRefused,
            ErrorCode::SshTimeout => Self::SshTimeout,
            ErrorCode::SshAuthFailed => Self::SshAuthFailed,
            ErrorCode::SshHostKeyUnknown => Self::SshHostKeyUnknown,
            ErrorCode::SshHostKeyMismatch => Self::SshHostKeyMismatch,
            ErrorCode::SshForwardDenied => Self::SshForwardDenied,
            ErrorCode::SshFailed => Self::SshFailed,
        }
    }
}

/// One step of a test.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhaseView {
    pub name: PhaseName,
    /// The SSH hop (`user@host:port`) of an `ssh_*` phase; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop: Option<String>,
    pub ok: bool,
    /// Milliseconds the step took.
    #[schema(minimum = 0)]
    pub ms: f64,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    Resolve,
    /// TCP connect, banner, key exchange and host-key check of an SSH hop (see `hop`).
    SshConnect,
    /// Logging in to an SSH hop.
    SshAuth,
    /// An SSH hop opening the channel to the next hop or the database.
    SshForward,
    Connect,
    Tls,
    Auth,
    Query,
    /// Listing schemas, tables and columns (`POST /data-source/:ds/schema`).
    Introspect,
}

impl From<Phase> for PhaseName {
    fn from(phase: Phase) -> Self {
        match phase {
            Phase::Resolve => Self::Resolve,
            Phase::SshConnect => Self::SshConnect,
            Phase::SshAuth => Self::SshAuth,
            Phase::SshForward => Self::SshForward,
            Phase::Connect => Self::Connect,
            Phase::Tls => Self::Tls,
            Phase::Auth => Self::Auth,
            Phase::Query => Self::Query,
            Phase::Introspect => Self::Introspect,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsView {
    pub enabled: bool,
    /// The chain and host name were verified (`validateSsl=true`).
    pub verified: bool,
    /// For example `TLSv1.3`; `null` when TLS was not used.
    #[schema(required = true)]
    pub protocol: Option<String>,
    /// An extension, like the fields below: present when TLS was used (Jackal runs every
    /// handshake itself). For example `TLS13_AES_256_GCM_SHA384`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// The server's own certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_certificate: Option<CertificateView>,
    /// The server asked for a client certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate_requested: Option<bool>,
    /// The client certificate presented (`sslCert`), when the server asked for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<CertificateView>,
    /// What to know though the test passed: `validateSsl=false`, a server or client certificate
    /// that expires within 14 days, a self-signed certificate. Each says what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// A certificate as an admin checks it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    /// RFC 4514.
    #[schema(example = "CN=db.example.com")]
    pub subject: String,
    /// The DNS names and IP addresses it is valid for (subjectAltName).
    pub names: Vec<String>,
    #[schema(example = "CN=Example CA")]
    pub issuer: String,
    /// RFC 3339, UTC.
    #[schema(example = "2026-01-01T00:00:00Z")]
    pub not_before: String,
    #[schema(example = "2027-01-01T00:00:00Z")]
    pub not_after: String,
    /// Whole days until `notAfter`; negative once expired.
    pub days_left: i64,
    /// Subject and issuer are the same and no chain came with it.
    pub self_signed: bool,
    /// SHA-256 of the certificate, as `openssl x509 -fingerprint -sha256` prints it.
    #[schema(example = "9B:1C:B6:32:…:78:4B")]
    pub fingerprint_sha256: String,
}

impl From<&CertificateFacts> for CertificateView {
    fn from(c: &CertificateFacts) -> Self {
        Self {
            subject: c.subject.clone(),
            names: c.names.clone(),
            issuer: c.issuer.clone(),
            not_before: c.not_before.clone(),
            not_after: c.not_after.clone(),
            days_left: c.days_left,
            self_signed: c.self_signed,
            fingerprint_sha256: c.fingerprint_sha256.clone(),
        }
    }
}

impl From<&ServerVersion> for VersionView {
    fn from(v: &ServerVersion) -> Self {
        Self {
            product_name: v.product_name.clone(),
            product_version: v.product_version.clone(),
            major: v.major,
            minor: v.minor,
            patch: v.patch,
            description: v.description.clone(),
            compatible_with: v.compatible_with.as_ref().map(|c| CompatibleView {
                product_name: c.product_name.clone(),
                product_version: c.product_version.clone(),
            }),
            version_string: v.version_string.clone(),
        }
    }
}

/// The contract's §5 shape, with its extension fields.
pub fn render(report: &ProbeReport) -> TestResult {
    let (version, failure) = match &report.outcome {
        Ok(v) => (Some(VersionView::from(v)), None),
        Err(failure) => (None, Some(failure)),
    };
    TestResult {
        success: version.is_some(),
        version,
        message: failure.map(|f| f.message.clone()),
        error_code: failure.map(|f| f.code.into()),
        duration_ms: millis(report.duration),
        phases: report
            .phases
            .iter()
            .map(|p| PhaseView {
                name: p.phase.into(),
                hop: p.hop.clone(),
                ok: p.ok,
                ms: millis(p.elapsed),
            })
            .collect(),
        address: report.address.map(|a| a.to_string()),
        tls: report.tls.as_ref().map(|t| {
            Box::new(TlsView {
                enabled: t.enabled,
                verified: t.verified,
                protocol: t.protocol.clone(),
                cipher_suite: t.facts.as_ref().and_then(|f| f.cipher_suite.clone()),
                server_certificate: t
                    .facts
                    .as_ref()
                    .and_then(|f| f.server_certificate.as_ref())
                    .map(CertificateView::from),
                client_certificate_requested: t
                    .facts
                    .as_ref()
                    .map(|f| f.client_certificate_requested),
                client_certificate: t
                    .facts
                    .as_ref()
                    .and_then(|f| f.client_certificate.as_ref())
                    .map(CertificateView::from),
                warnings: t.facts.as_ref().map(|f| f.warnings.clone()),
            })
        }),
        notes: Vec::new(),
    }
}

/// An introspection as the test it also is: its version on success, its failure otherwise.
pub fn of_introspection(report: &IntrospectionReport) -> ProbeReport {
    ProbeReport {
        outcome: report
            .outcome
            .as_ref()
            .map(|(version, _)| version.clone())
            .map_err(Clone::clone),
        duration: report.duration,
        phases: report.phases.clone(),
        address: report.address,
        tls: report.tls.clone(),
    }
}

/// [`render`] as the JSON a data source keeps of its last test.
pub fn stored(report: &ProbeReport) -> String {
    // A struct of strings, numbers and vectors: serializing it cannot fail.
    serde_json::to_string(&render(report)).unwrap_or_default()
}
