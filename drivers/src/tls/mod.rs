//! TLS for connection tests, through rustls.
//!
//! `validateSsl=false` encrypts without checking who answers (the contract's default);
//! `validateSsl=true` verifies the chain and host name against `sslRootCert` or the system roots.
//! `sslRootCert` is read only under `[drivers.tls] root_cert_dirs` (see [`trusted_roots`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

pub(crate) mod certificates;
mod failure;

use certificates::warnings;
pub use certificates::MAX_ROOT_BUNDLE_BYTES;
pub(crate) use certificates::{certificate_facts, usable_certificates};
pub(crate) use failure::{classify_handshake_error, client_cert_failure};

use crate::local_file::{Opened, Refusal};
use crate::report::{CertificateFacts, ErrorCode, ProbeFailure, TlsFacts, TlsReport};
use crate::tls_credentials::ClientIdentity;
use crate::uri::ConnectionSpec;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate chain a server presented, noted while it is verified, so that a refused
/// certificate can be shown (what a test answers with `tls_failed`).
#[derive(Debug, Default)]
struct Presented(Mutex<Option<Vec<CertificateDer<'static>>>>);

impl Presented {
    fn chain(&self) -> Option<Vec<CertificateDer<'static>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How a test checks the server's certificate. With `verifier` (`validateSsl=true`): rustls's
/// own verification against the trusted roots (the one `with_root_certificates` builds), noting
/// the chain presented. Without (`validateSsl=false`): any certificate is accepted, but the
/// handshake signatures are still checked, so the session is encrypted to whoever holds the
/// presented key.
#[derive(Debug)]
struct ServerCheck {
    provider: Arc<CryptoProvider>,
    verifier: Option<Arc<WebPkiServerVerifier>>,
    presented: Arc<Presented>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(verifier) = &self.verifier else {
            return Ok(ServerCertVerified::assertion());
        };
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|cert| cert.clone().into_owned())
            .collect();
        *self.presented.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(chain);
        verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    // The signatures are checked with the provider's algorithms either way, as
    // WebPkiServerVerifier, built from the same provider, checks them.
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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
    client_config_noting(spec, roots, None, Arc::default())
}

/// [`client_config`], presenting `spec`'s client certificate through `client` and noting there
/// whether the server asked for one.
fn client_config_noting(
    spec: &ConnectionSpec,
    roots: &Roots,
    client: Option<Arc<ClientCert>>,
    presented: Arc<Presented>,
) -> Result<Arc<ClientConfig>, ProbeFailure> {
    let provider = provider();
    let set_up = |e: &dyn std::fmt::Display| {
        ProbeFailure::new(ErrorCode::TlsFailed, format!("TLS set-up failed: {e}"))
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| set_up(&e))?;
    let verifier = spec
        .validate_ssl()
        .then(|| {
            WebPkiServerVerifier::builder_with_provider(roots.store(), provider.clone()).build()
        })
        .transpose()
        .map_err(|e| set_up(&e))?;
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ServerCheck {
            provider,
            verifier,
            presented,
        }));
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
    presented: Arc<Presented>,
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
        let presented = Arc::new(Presented::default());
        let config = client_config_noting(spec, roots, Some(client.clone()), presented.clone())?;
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            ProbeFailure::new(
                ErrorCode::TlsFailed,
                format!("{host:?} cannot be used as a TLS server name"),
            )
        })?;
        Ok(Handshake {
            config,
            client,
            presented,
            name,
            host: host.to_owned(),
            verified: spec.validate_ssl(),
        })
    }

    pub(crate) async fn run<S>(self, stream: S) -> Result<(TlsStream<S>, TlsReport), ProbeFailure>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = TlsConnector::from(self.config.clone())
            .connect(self.name.clone(), stream)
            .await
            .map_err(|e| self.refused(&e))?;
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

    /// The failure of a handshake, with the certificate the server presented when there was
    /// one (a refused certificate is shown, so an admin sees what the server sent).
    fn refused(&self, err: &std::io::Error) -> ProbeFailure {
        let presented = self
            .presented
            .chain()
            .and_then(|chain| certificate_facts(&chain, SystemTime::now()));
        let failure =
            classify_handshake_error(err, &self.host, self.client.presented(), presented.as_ref());
        match presented {
            None => failure,
            Some(server_certificate) => failure.with_tls(TlsReport {
                enabled: true,
                verified: self.verified,
                protocol: None,
                facts: Some(Box::new(TlsFacts {
                    cipher_suite: None,
                    server_certificate: Some(server_certificate),
                    client_certificate_requested: self.client.asked.load(Ordering::Relaxed),
                    client_certificate: self.client.presented().cloned(),
                    warnings: Vec::new(),
                })),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use rustls::CertificateError;

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
        let failure = classify_handshake_error(&expired, "db.example.test", None, None);
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
        let failure = classify_handshake_error(&early, "db.example.test", None, None);
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
