//! TLS for connection tests, through rustls.
//!
//! `validateSsl=false` encrypts without checking who answers (the contract's default);
//! `validateSsl=true` verifies the chain and host name against `sslRootCert` or the system roots.

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

/// The usable certificates of the PEM bundle at `path`. A bad bundle gets a message about the
/// bundle; a certificate rustls cannot use is skipped rather than failing the whole set.
fn roots_from_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, ProbeFailure> {
    let unusable = |why: String| {
        ProbeFailure::new(
            ErrorCode::TlsFailed,
            format!("the CA bundle in sslRootCert ({}) could not be used: {why}; point sslRootCert at a PEM file of CA certificates readable by the Jackal server", path.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unusable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(e.to_string()))?;
    let usable: Vec<_> = certs
        .into_iter()
        .filter(|cert| RootCertStore::empty().add(cert.clone()).is_ok())
        .collect();
    if usable.is_empty() {
        return Err(unusable("it holds no usable certificate".to_owned()));
    }
    Ok(usable)
}

/// The CA certificates `validateSsl=true` trusts: those in `sslRootCert`, else the operating
/// system's. Every driver trusts exactly these, so a CA accepted for one is accepted for all.
pub(crate) fn root_certificates(
    spec: &ConnectionSpec,
) -> Result<Vec<CertificateDer<'static>>, ProbeFailure> {
    match spec.ssl_root_cert() {
        Some(path) => roots_from_file(path),
        None => Ok(system_roots().0.clone()),
    }
}

fn root_store(spec: &ConnectionSpec) -> Result<Arc<RootCertStore>, ProbeFailure> {
    match spec.ssl_root_cert() {
        Some(path) => {
            let mut store = RootCertStore::empty();
            store.add_parsable_certificates(roots_from_file(path)?);
            Ok(Arc::new(store))
        }
        None => Ok(system_roots().1.clone()),
    }
}

/// The rustls configuration `spec` asks for. `alpn` is set by protocols that need it.
pub(crate) fn client_config(spec: &ConnectionSpec) -> Result<Arc<ClientConfig>, ProbeFailure> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeFailure::new(ErrorCode::TlsFailed, format!("TLS set-up failed: {e}")))?;
    let config = if spec.validate_ssl() {
        builder
            .with_root_certificates(root_store(spec)?)
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
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
) -> Result<(TlsStream<S>, TlsReport), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = client_config(spec)?;
    let server_name = ServerName::try_from(host.to_owned()).map_err(|_| {
        ProbeFailure::new(
            ErrorCode::TlsFailed,
            format!("{host:?} cannot be used as a TLS server name"),
        )
    })?;
    let tls = TlsConnector::from(config)
        .connect(server_name, stream)
        .await
        .map_err(|e| classify_handshake_error(&e, host))?;
    let report = TlsReport {
        enabled: true,
        verified: spec.validate_ssl(),
        protocol: tls.get_ref().1.protocol_version().map(protocol_name),
    };
    Ok((tls, report))
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
