//! TLS for connection tests, through rustls.
//!
//! `validateSsl=false` encrypts without checking who answers (the contract's default);
//! `validateSsl=true` verifies the chain and host name against `sslRootCert` or the system roots.
//! `sslRootCert` is read only under `[drivers.tls] root_cert_dirs` (see [`trusted_roots`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::AlertDescription;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use x509_cert::der::{DateTime, Decode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use crate::local_file::{Opened, Refusal};
use crate::report::{CertificateFacts, ErrorCode, ProbeFailure, TlsFacts, TlsReport};
use crate::tls_credentials::ClientIdentity;
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
fn system_roots() -> &'static Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (usable, _) = store.add_parsable_certificates(loaded.certs);
        tracing::debug!(usable, errors = loaded.errors.len(), "loaded system roots");
        Arc::new(store)
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
    fn store(&self) -> Arc<RootCertStore> {
        match self {
            Roots::System => system_roots().clone(),
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
pub(crate) fn usable_certificates(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
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

/// The roots `spec` asks for, read off the async workers: the CA certificates sent as
/// `sslRootCert` content, else the file `sslRootCert` names (only under `dirs`).
pub(crate) async fn trusted_roots(
    spec: &ConnectionSpec,
    dirs: &[PathBuf],
) -> Result<Roots, ProbeFailure> {
    if !spec.ssl() || !spec.validate_ssl() {
        // Nothing is verified, so nothing is read.
        return Ok(Roots::System);
    }
    if let Some(roots) = &spec.tls_decoded().roots {
        return Ok(Roots::Bundle(roots.clone()));
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
    client_config_noting(spec, roots, None)
}

/// [`client_config`], presenting `spec`'s client certificate through `client` and noting there
/// whether the server asked for one.
fn client_config_noting(
    spec: &ConnectionSpec,
    roots: &Roots,
    client: Option<Arc<ClientCert>>,
) -> Result<Arc<ClientConfig>, ProbeFailure> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeFailure::new(ErrorCode::TlsFailed, format!("TLS set-up failed: {e}")))?;
    let builder = if spec.validate_ssl() {
        builder.with_root_certificates(roots.store())
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
    };
    let config = match client {
        Some(client) => builder.with_client_cert_resolver(client),
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Presents the data source's client certificate, if it has one, and notes whether the server
/// asked for one: rustls asks the resolver only when a CertificateRequest arrives.
#[derive(Debug, Default)]
struct ClientCert {
    asked: AtomicBool,
    identity: Option<ClientIdentity>,
}

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Ordering::Relaxed);
        self.identity.as_ref().map(|identity| identity.key.clone())
    }

    fn has_certs(&self) -> bool {
        self.identity.is_some()
    }
}

impl ClientCert {
    /// The certificate presented: asked for, and one to give.
    fn presented(&self) -> Option<&CertificateFacts> {
        let asked = self.asked.load(Ordering::Relaxed);
        self.identity
            .as_ref()
            .filter(|_| asked)
            .map(|identity| &identity.facts)
    }
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
    client: Arc<ClientCert>,
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
        let client = Arc::new(ClientCert {
            asked: AtomicBool::new(false),
            identity: spec.tls_decoded().identity.clone(),
        });
        let config = client_config_noting(spec, roots, Some(client.clone()))?;
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            ProbeFailure::new(
                ErrorCode::TlsFailed,
                format!("{host:?} cannot be used as a TLS server name"),
            )
        })?;
        Ok(Handshake {
            config,
            client,
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
            .map_err(|e| classify_handshake_error(&e, &self.host, self.client.presented()))?;
        let connection = tls.get_ref().1;
        let server_certificate = connection
            .peer_certificates()
            .and_then(|chain| certificate_facts(chain, SystemTime::now()));
        let client_certificate = self.client.presented().cloned();
        let facts = TlsFacts {
            cipher_suite: connection
                .negotiated_cipher_suite()
                .map(|suite| format!("{:?}", suite.suite())),
            warnings: warnings(
                self.verified,
                server_certificate.as_ref(),
                client_certificate.as_ref(),
            ),
            server_certificate,
            client_certificate_requested: self.client.asked.load(Ordering::Relaxed),
            client_certificate,
        };
        let report = TlsReport {
            enabled: true,
            verified: self.verified,
            protocol: connection.protocol_version().map(protocol_name),
            facts: Some(Box::new(facts)),
        };
        Ok((tls, report))
    }
}

/// Certificates that expire within this many days are warned about.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// The facts of `chain`'s leaf certificate, as of `now`; `None` when it cannot be read.
pub(crate) fn certificate_facts(
    chain: &[CertificateDer<'_>],
    now: SystemTime,
) -> Option<CertificateFacts> {
    let leaf = Certificate::from_der(chain.first()?.as_ref()).ok()?;
    let tbs = &leaf.tbs_certificate;
    let names = match tbs.get::<SubjectAltName>() {
        Ok(Some((_, san))) => san
            .0
            .iter()
            .filter_map(|name| match name {
                GeneralName::DnsName(dns) => Some(dns.to_string()),
                GeneralName::IpAddress(ip) => ip_text(ip.as_bytes()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let not_after = tbs.validity.not_after.to_system_time();
    let days_left = match not_after.duration_since(now) {
        Ok(left) => (left.as_secs() / 86_400) as i64,
        Err(past) => -(past.duration().as_secs().div_ceil(86_400) as i64),
    };
    Some(CertificateFacts {
        subject: tbs.subject.to_string(),
        names,
        issuer: tbs.issuer.to_string(),
        not_before: tbs.validity.not_before.to_date_time().to_string(),
        not_after: tbs.validity.not_after.to_date_time().to_string(),
        days_left,
        self_signed: chain.len() == 1 && tbs.subject == tbs.issuer,
        fingerprint_sha256: fingerprint(chain.first()?.as_ref()),
    })
}

/// Whether `cert`'s `notBefore` is after `now` (false when it cannot be read).
pub(crate) fn not_yet_valid(cert: &CertificateDer<'_>, now: SystemTime) -> bool {
    Certificate::from_der(cert.as_ref())
        .is_ok_and(|c| c.tbs_certificate.validity.not_before.to_system_time() > now)
}

/// SHA-256 of a certificate's DER, as `openssl x509 -fingerprint -sha256` prints it.
fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

/// What an admin should know about a handshake that succeeded, each saying what to do.
fn warnings(
    verified: bool,
    server: Option<&CertificateFacts>,
    client: Option<&CertificateFacts>,
) -> Vec<String> {
    let mut out = Vec::new();
    if !verified {
        out.push(
            "validateSsl=false: the connection is encrypted, but the server's certificate was not checked, so another machine could have answered; set validateSsl=true (with sslRootCert for a private CA)"
                .to_owned(),
        );
    }
    if let Some(cert) = server {
        expiry_warning(
            &mut out,
            "the server's certificate",
            cert,
            "renew it (validateSsl=true refuses it)",
        );
        if cert.self_signed {
            out.push(format!(
                "the server's certificate ({}) is self-signed: nothing vouches for it but itself; give the server a certificate from a CA, and trust that CA with sslRootCert",
                cert.subject
            ));
        }
    }
    if let Some(cert) = client {
        expiry_warning(
            &mut out,
            "the client certificate (sslCert)",
            cert,
            "have a new one issued and send it with its key as sslCert and sslKey",
        );
    }
    out
}

/// A warning when `cert` has expired or expires within [`EXPIRY_WARNING_DAYS`].
fn expiry_warning(out: &mut Vec<String>, which: &str, cert: &CertificateFacts, what_to_do: &str) {
    if cert.days_left < 0 {
        out.push(format!(
            "{which} ({}) expired {} days ago, on {}: {what_to_do}",
            cert.subject, -cert.days_left, cert.not_after
        ));
    } else if cert.days_left < EXPIRY_WARNING_DAYS {
        let renew = what_to_do.split(" (").next().unwrap_or(what_to_do);
        out.push(format!(
            "{which} ({}) expires in {} days, on {}: {renew}",
            cert.subject, cert.days_left, cert.not_after
        ));
    }
}

/// `time` as RFC 3339 (UTC), for messages.
fn date(time: UnixTime) -> String {
    DateTime::from_unix_duration(std::time::Duration::from_secs(time.as_secs()))
        .map(|d| d.to_string())
        .unwrap_or_else(|_| format!("{} s after 1970", time.as_secs()))
}

/// The TLS alert the server sent, when `err` carries one.
fn alert(err: &std::io::Error) -> Option<AlertDescription> {
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => Some(*alert),
        _ => None,
    }
}

/// The server refused the connection with a TLS alert about the client certificate: it
/// demands one (`certificate_required`, when none was presented) or refused the one presented.
/// In TLS 1.3 the alert comes after the client's side of the handshake is done, so it surfaces
/// on the first read, not in the handshake itself; callers check both. `presented`: the
/// certificate Jackal presented, if any.
pub(crate) fn client_cert_failure(
    err: &std::io::Error,
    server: &str,
    presented: Option<&CertificateFacts>,
) -> Option<ProbeFailure> {
    let alert = alert(err)?;
    let Some(cert) = presented else {
        return (alert == AlertDescription::CertificateRequired).then(|| {
            ProbeFailure::new(
                ErrorCode::ClientCertRequired,
                format!(
                    "the server at {server} demands a client certificate (TLS alert certificate_required) and none is configured: send the certificate and its private key as sslCert and sslKey"
                ),
            )
        });
    };
    let why = match alert {
        AlertDescription::UnknownCA => format!(
            "its issuer ({}) is unknown to the server: use a certificate from a CA the server trusts (its ssl_ca_file), or add that CA there",
            cert.issuer
        ),
        AlertDescription::CertificateExpired => format!(
            "it has expired (not after {}), as the server sees it: have a new one issued",
            cert.not_after
        ),
        AlertDescription::CertificateRevoked => {
            "the server says it was revoked: have a new one issued".to_owned()
        }
        AlertDescription::CertificateRequired => {
            "the server found no certificate it could use in what Jackal sent (its key type or signature scheme may not be accepted)".to_owned()
        }
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateUnknown
        | AlertDescription::AccessDenied
        | AlertDescription::DecryptError => format!(
            "the server did not accept it (TLS alert {alert:?}): check that it was issued by a CA the server trusts, for client authentication, and is within its dates"
        ),
        _ => return None,
    };
    Some(ProbeFailure::new(
        ErrorCode::ClientCertRejected,
        format!(
            "the server at {server} refused the client certificate {} ({}): {why}",
            cert.subject, cert.fingerprint_sha256
        ),
    ))
}

/// A handshake failure, classified from the rustls error it carries. `presented`: the client
/// certificate Jackal presented, if any.
pub(crate) fn classify_handshake_error(
    err: &std::io::Error,
    host: &str,
    presented: Option<&CertificateFacts>,
) -> ProbeFailure {
    if let Some(failure) = client_cert_failure(err, host, presented) {
        return failure;
    }
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
            CertificateError::ExpiredContext { not_after, .. } => format!(
                "the TLS certificate of {host} expired on {}: renew it on the server, or validateSsl=false to encrypt without verifying",
                date(*not_after)
            ),
            CertificateError::Expired => format!(
                "the TLS certificate of {host} has expired: renew it on the server, or validateSsl=false to encrypt without verifying"
            ),
            CertificateError::NotValidYetContext { not_before, .. } => format!(
                "the TLS certificate of {host} is not valid before {}: check the clocks of both machines",
                date(*not_before)
            ),
            CertificateError::NotValidYet => format!(
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// 2030-01-07T00:00:00Z.
    const JAN_7_2030: u64 = 1_893_974_400;

    fn certificate() -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![
            "db.example.test".to_owned(),
            "10.0.0.7".to_owned(),
        ])
        .unwrap();
        params.not_before = rcgen::date_time_ymd(2029, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 10);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "db.example.test");
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn a_certificate_is_read_as_an_admin_checks_it() {
        let now = UNIX_EPOCH + Duration::from_secs(JAN_7_2030);
        let facts = certificate_facts(&[certificate()], now).expect("readable");
        assert_eq!(facts.subject, "CN=db.example.test");
        assert_eq!(facts.issuer, "CN=db.example.test");
        assert_eq!(facts.names, ["db.example.test", "10.0.0.7"]);
        assert_eq!(facts.not_before, "2029-01-01T00:00:00Z");
        assert_eq!(facts.not_after, "2030-01-10T00:00:00Z");
        assert_eq!(facts.days_left, 3);
        assert!(facts.self_signed);
        // Two days after it expired.
        let later = UNIX_EPOCH + Duration::from_secs(JAN_7_2030 + 5 * 86_400);
        assert_eq!(
            certificate_facts(&[certificate()], later)
                .unwrap()
                .days_left,
            -2
        );
        // With a chain behind it, the same leaf is not called self-signed.
        let chain = [certificate(), certificate()];
        assert!(!certificate_facts(&chain, now).unwrap().self_signed);
        assert!(certificate_facts(&[CertificateDer::from(vec![1, 2, 3])], now).is_none());
    }

    #[test]
    fn warnings_say_what_to_do() {
        let now = UNIX_EPOCH + Duration::from_secs(JAN_7_2030);
        let facts = certificate_facts(&[certificate()], now).unwrap();
        let all = warnings(false, Some(&facts), Some(&facts));
        assert_eq!(all.len(), 4, "{all:?}");
        assert!(all[0].starts_with("validateSsl=false"));
        assert!(all[1].contains(
            "the server's certificate (CN=db.example.test) expires in 3 days, on 2030-01-10T00:00:00Z: renew it"
        ));
        assert!(all[2].contains("is self-signed"));
        assert!(
            all[3].starts_with(
                "the client certificate (sslCert) (CN=db.example.test) expires in 3 days"
            ) && all[3].ends_with("send it with its key as sslCert and sslKey"),
            "{}",
            all[3]
        );
        let mut expired = facts.clone();
        expired.days_left = -2;
        assert!(warnings(true, Some(&expired), None)[0]
            .contains("expired 2 days ago, on 2030-01-10T00:00:00Z"));
        // Verified, a month left, issued by a CA: nothing to say.
        let mut fine = facts;
        fine.days_left = 30;
        fine.self_signed = false;
        assert!(warnings(true, Some(&fine), Some(&fine)).is_empty());
    }

    #[test]
    fn an_expired_or_early_certificate_names_the_date() {
        let expired = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(Duration::from_secs(JAN_7_2030)),
                not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_894_233_600)),
            }),
        );
        let failure = classify_handshake_error(&expired, "db.example.test", None);
        assert_eq!(failure.code, ErrorCode::TlsFailed);
        assert!(
            failure.message.contains("expired on 2030-01-10T00:00:00Z"),
            "{}",
            failure.message
        );
        let early = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
                time: UnixTime::since_unix_epoch(Duration::from_secs(JAN_7_2030)),
                not_before: UnixTime::since_unix_epoch(Duration::from_secs(1_894_406_400)),
            }),
        );
        let failure = classify_handshake_error(&early, "db.example.test", None);
        assert!(
            failure
                .message
                .contains("not valid before 2030-01-12T00:00:00Z"),
            "{}",
            failure.message
        );
    }

    /// What the test server wants of a client certificate.
    #[derive(Clone, PartialEq)]
    enum ClientAuth {
        None,
        Asked,
        /// Demanded, from a client certificate this CA issued.
        Required(CertificateDer<'static>),
    }

    /// A TLS server on loopback with a self-signed certificate, asking for a client
    /// certificate (and taking a connection without one) or demanding one, as `auth` says.
    async fn server(auth: ClientAuth) -> (u16, tokio::task::JoinHandle<()>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match auth {
            ClientAuth::None => builder.with_no_client_auth(),
            ClientAuth::Asked | ClientAuth::Required(_) => {
                let mut roots = RootCertStore::empty();
                let ca = match &auth {
                    ClientAuth::Required(ca) => ca.clone(),
                    _ => der.clone(),
                };
                roots.add(ca).unwrap();
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider(),
                );
                let verifier = match auth {
                    ClientAuth::Asked => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                builder.with_client_cert_verifier(verifier.build().unwrap())
            }
        };
        let config = builder.with_single_cert(vec![der], key).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // Refused when a certificate is demanded and none (or a bad one) comes: the alert
            // is sent.
            let Ok(tls) = tokio_rustls::TlsAcceptor::from(Arc::new(config))
                .accept(tcp)
                .await
            else {
                return;
            };
            // Answers one byte, then holds the connection until the client is done.
            let (mut read, mut write) = tokio::io::split(tls);
            let _ = tokio::io::AsyncWriteExt::write_all(&mut write, b"!").await;
            let mut buf = [0u8; 1];
            let _ = tokio::io::AsyncReadExt::read(&mut read, &mut buf).await;
        });
        (port, task)
    }

    /// A CA, and a client certificate (CN=jackal_client) it issued, as sslCert and sslKey.
    fn client_ca(name: &str) -> (CertificateDer<'static>, crate::TlsCredentials) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "jackal_client");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let credentials = crate::TlsCredentials {
            client_cert: Some(cert.pem()),
            client_key: Some(zeroize::Zeroizing::new(key.serialize_pem())),
            ..Default::default()
        };
        (ca.der().clone(), credentials)
    }

    fn spec_with(credentials: crate::TlsCredentials) -> ConnectionSpec {
        ConnectionSpec::parse("postgresql://u@localhost/db?ssl=true&validateSsl=false")
            .unwrap()
            .with_tls_credentials(credentials)
            .unwrap()
    }

    /// The handshake with the server at `port`, then the first read (where a TLS 1.3 server's
    /// verdict on the client certificate arrives): the facts, or the failure either gave.
    async fn connect_and_read(port: u16, spec: &ConnectionSpec) -> Result<TlsFacts, ProbeFailure> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (mut stream, report) = handshake(tcp, "localhost", spec, &Roots::System).await?;
        let facts = *report.facts.expect("facts");
        let mut buf = [0u8; 1];
        match tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {
            Ok(_) => Ok(facts),
            Err(e) => Err(
                client_cert_failure(&e, "localhost", facts.client_certificate.as_ref())
                    .unwrap_or_else(|| panic!("unclassified: {e:?}")),
            ),
        }
    }

    #[tokio::test]
    async fn a_server_asking_for_a_client_certificate_is_noticed() {
        let spec = ConnectionSpec::parse("postgresql://u@localhost/db?ssl=true&validateSsl=false")
            .unwrap();
        for ask in [true, false] {
            let auth = if ask {
                ClientAuth::Asked
            } else {
                ClientAuth::None
            };
            let (port, task) = server(auth).await;
            let facts = connect_and_read(port, &spec).await.unwrap();
            assert_eq!(facts.client_certificate_requested, ask);
            assert!(facts.client_certificate.is_none());
            assert!(facts.server_certificate.unwrap().self_signed);
            task.await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_server_demanding_a_client_certificate_is_client_cert_required() {
        let spec = ConnectionSpec::parse("postgresql://u@localhost/db?ssl=true&validateSsl=false")
            .unwrap();
        let (ca, _) = client_ca("Client CA");
        let (port, task) = server(ClientAuth::Required(ca)).await;
        let failure = connect_and_read(port, &spec).await.unwrap_err();
        assert_eq!(failure.code, ErrorCode::ClientCertRequired, "{failure:?}");
        assert!(failure
            .message
            .contains("send the certificate and its private key as sslCert and sslKey"));
        task.await.unwrap();
    }

    #[tokio::test]
    async fn the_client_certificate_is_presented_and_reported() {
        let (ca, credentials) = client_ca("Client CA");
        let (port, task) = server(ClientAuth::Required(ca)).await;
        let facts = connect_and_read(port, &spec_with(credentials))
            .await
            .unwrap();
        assert!(facts.client_certificate_requested);
        let presented = facts.client_certificate.expect("presented");
        assert_eq!(presented.subject, "CN=jackal_client");
        assert_eq!(presented.issuer, "CN=Client CA");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_certificate_from_a_ca_the_server_does_not_trust_is_client_cert_rejected() {
        let (_, credentials) = client_ca("Client CA");
        // Another name: a CA of the same name would be tried, and fail on the signature.
        let (other_ca, _) = client_ca("Other CA");
        let (port, task) = server(ClientAuth::Required(other_ca)).await;
        let failure = connect_and_read(port, &spec_with(credentials))
            .await
            .unwrap_err();
        assert_eq!(failure.code, ErrorCode::ClientCertRejected, "{failure:?}");
        assert!(
            failure.message.contains("CN=jackal_client")
                && failure
                    .message
                    .contains("its issuer (CN=Client CA) is unknown to the server"),
            "{}",
            failure.message
        );
        task.await.unwrap();
    }
}
