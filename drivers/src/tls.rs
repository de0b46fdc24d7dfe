//! TLS for connection tests, through rustls.
//!
//! `validateSsl=false` encrypts without checking who answers (the contract's default);
//! `validateSsl=true` verifies the chain and host name against `sslRootCert` or the system roots.
//! `sslRootCert` is read only under `[drivers.tls] root_cert_dirs` (see [`trusted_roots`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::local_file::{Opened, Refusal};
use crate::report::{ErrorCode, ProbeFailure, TlsReport};
use crate::uri::ConnectionSpec;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any certificate but still checks the handshake signatures, so the session is
/// encrypted to whoever holds the presented key. Used only for `validateSsl=false`.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The operating system's trusted roots, loaded once.
fn system_roots() -> &'static (Vec<CertificateDer<'static>>, Arc<RootCertStore>) {
    static ROOTS: OnceLock<(Vec<CertificateDer<'static>>, Arc<RootCertStore>)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let usable: Vec<_> = loaded
            .certs
            .into_iter()
            .filter(|cert| store.add(cert.clone()).is_ok())
            .collect();
        tracing::debug!(
            usable = usable.len(),
            errors = loaded.errors.len(),
            "loaded system roots"
        );
        (usable, Arc::new(store))
    })
}

/// The most a CA bundle named by `sslRootCert` may hold. A system bundle of every public CA is
/// about 200 KiB.
pub const MAX_ROOT_BUNDLE_BYTES: u64 = 1024 * 1024;

/// The CA certificates `validateSsl=true` trusts: those of `sslRootCert`, else the operating
/// system's. Every driver trusts exactly these, so a CA accepted for one is accepted for all.
#[derive(Debug, Clone)]
pub(crate) enum Roots {
    System,
    Bundle(Vec<CertificateDer<'static>>),
}

impl Roots {
    pub(crate) fn certificates(&self) -> Vec<CertificateDer<'static>> {
        match self {
            Roots::System => system_roots().0.clone(),
            Roots::Bundle(certs) => certs.clone(),
        }
    }

    fn store(&self) -> Arc<RootCertStore> {
        match self {
            Roots::System => system_roots().1.clone(),
            Roots::Bundle(certs) => {
                let mut store = RootCertStore::empty();
                store.add_parsable_certificates(certs.iter().cloned());
                Arc::new(store)
            }
        }
    }
}

/// What a test sees when `sslRootCert` cannot be used. One answer for a file that is missing, a
/// directory, a device, unreadable, too large or not PEM, so that the test is no oracle for
/// which files exist on the server; nothing of the file's content is ever quoted.
fn unusable_bundle(path: &Path, dirs: &str) -> ProbeFailure {
    ProbeFailure::new(
        ErrorCode::TlsFailed,
        format!(
            "sslRootCert {} is not a usable CA bundle: it must be a regular PEM file of at most {} KiB{dirs}, readable by the Jackal server, holding at least one CA certificate",
            path.display(),
            MAX_ROOT_BUNDLE_BYTES / 1024
        ),
    )
}

/// The certificates rustls can use in a PEM bundle; `None` when there are none.
fn usable_certificates(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    let usable: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()?
        .into_iter()
        .filter(|cert| RootCertStore::empty().add(cert.clone()).is_ok())
        .collect();
    (!usable.is_empty()).then_some(usable)
}

/// The bundle at `path`, opened and read as [`local_file`] does (a regular file, under `dirs`
/// when given, at most [`MAX_ROOT_BUNDLE_BYTES`]). Blocking.
fn read_bundle(
    path: &Path,
    dirs: Option<&[PathBuf]>,
) -> Result<Vec<CertificateDer<'static>>, ProbeFailure> {
    const UNDER_DIRS: &str = " under a directory of [drivers.tls] root_cert_dirs";
    let where_ = if dirs.is_some() { UNDER_DIRS } else { "" };
    let pem = Opened::open(path, dirs)
        .and_then(|opened| opened.read_at_most(MAX_ROOT_BUNDLE_BYTES))
        .map_err(|refusal| match refusal {
            Refusal::Outside => ProbeFailure::new(
                ErrorCode::DeniedByPolicy,
                format!(
                    "sslRootCert {} is not under a directory listed in [drivers.tls] root_cert_dirs of Jackal's config.toml; nothing was opened. An admin can add its directory there",
                    path.display()
                ),
            ),
            other => {
                tracing::debug!(path = %path.display(), why = ?other, "sslRootCert refused");
                unusable_bundle(path, where_)
            }
        })?;
    usable_certificates(&pem).ok_or_else(|| unusable_bundle(path, where_))
}

/// The roots `spec` asks for, read off the async workers: `sslRootCert` only under `dirs`.
pub(crate) async fn trusted_roots(
    spec: &ConnectionSpec,
    dirs: &[PathBuf],
) -> Result<Roots, ProbeFailure> {
    if !spec.ssl() || !spec.validate_ssl() {
        // Nothing is verified, so nothing is read.
        return Ok(Roots::System);
    }
    let path = spec.ssl_root_cert().map(Path::to_owned);
    let dirs = dirs.to_vec();
    tokio::task::spawn_blocking(move || match path {
        Some(path) => read_bundle(&path, Some(&dirs)).map(Roots::Bundle),
        None => {
            system_roots();
            Ok(Roots::System)
        }
    })
    .await
    .map_err(|e| {
        ProbeFailure::new(
            ErrorCode::ServerError,
            format!("loading the trusted CA certificates failed inside Jackal: {e}"),
        )
    })?
}

/// The rustls configuration `spec` asks for, trusting `roots` when it verifies.
pub(crate) fn client_config(
    spec: &ConnectionSpec,
    roots: &Roots,
) -> Result<Arc<ClientConfig>, ProbeFailure> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeFailure::new(ErrorCode::TlsFailed, format!("TLS set-up failed: {e}")))?;
    let config = if spec.validate_ssl() {
        builder
            .with_root_certificates(roots.store())
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// [`client_config`] for a connection Jackal makes for itself (its PostgreSQL store), whose
/// `sslRootCert` comes from Jackal's own settings, not from an API caller: any directory.
pub(crate) fn own_client_config(spec: &ConnectionSpec) -> Result<Arc<ClientConfig>, ProbeFailure> {
    let roots = match spec.ssl_root_cert() {
        Some(path) => Roots::Bundle(read_bundle(path, None)?),
        None => Roots::System,
    };
    client_config(spec, &roots)
}

fn protocol_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Runs the TLS handshake over `stream` for `host` (a name or IP literal, as written).
pub(crate) async fn handshake<S>(
    stream: S,
    host: &str,
    spec: &ConnectionSpec,
    roots: &Roots,
) -> Result<(TlsStream<S>, TlsReport), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    Handshake::plan(spec, roots, host)?.run(stream).await
}

/// A TLS handshake decided before the stream exists: the configuration `spec` asks for and the
/// server name `host` as written. Owned, so a task started later can run it.
pub(crate) struct Handshake {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    host: String,
    verified: bool,
}

impl Handshake {
    pub(crate) fn plan(
        spec: &ConnectionSpec,
        roots: &Roots,
        host: &str,
    ) -> Result<Handshake, ProbeFailure> {
        let config = client_config(spec, roots)?;
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            ProbeFailure::new(
                ErrorCode::TlsFailed,
                format!("{host:?} cannot be used as a TLS server name"),
            )
        })?;
        Ok(Handshake {
            config,
            name,
            host: host.to_owned(),
            verified: spec.validate_ssl(),
        })
    }

    pub(crate) async fn run<S>(self, stream: S) -> Result<(TlsStream<S>, TlsReport), ProbeFailure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = TlsConnector::from(self.config)
            .connect(self.name, stream)
            .await
            .map_err(|e| classify_handshake_error(&e, &self.host))?;
        let report = TlsReport {
            enabled: true,
            verified: self.verified,
            protocol: tls.get_ref().1.protocol_version().map(protocol_name),
        };
        Ok((tls, report))
    }
}

/// A handshake failure, classified from the rustls error it carries.
pub(crate) fn classify_handshake_error(err: &std::io::Error, host: &str) -> ProbeFailure {
    let rustls_error = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let message = match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::UnknownIssuer => format!(
                "the TLS certificate of {host} is not signed by a CA Jackal trusts: set sslRootCert to the CA's PEM file, or validateSsl=false to encrypt without verifying"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
                "the TLS certificate presented is not valid for the host name {host}: connect using a name the certificate lists, or validateSsl=false to encrypt without verifying"
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the TLS certificate of {host} has expired: renew it on the server, or validateSsl=false to encrypt without verifying"
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
                "the TLS certificate of {host} is not valid yet: check the clocks of both machines"
            ),
            other => format!(
                "the TLS certificate of {host} was rejected ({other:?}): fix the certificate, or validateSsl=false to encrypt without verifying"
            ),
        },
        Some(rustls::Error::AlertReceived(alert)) => format!(
            "the server at {host} refused the TLS handshake (alert: {alert:?}): check its TLS settings"
        ),
        Some(other) => format!("the TLS handshake with {host} failed: {other}"),
        None if err.kind() == std::io::ErrorKind::UnexpectedEof => format!(
            "the server at {host} closed the connection during the TLS handshake: check its TLS settings"
        ),
        None => format!("the TLS handshake with {host} failed: {err}"),
    };
    ProbeFailure::new(ErrorCode::TlsFailed, message)
}
