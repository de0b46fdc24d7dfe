//! The floor of a connection test: connect, `SELECT version()` and close, done directly with
//! tokio-postgres as user `postgres` (trust authentication on the local server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::Result;

#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

/// Accepts any certificate but checks handshake signatures, as Jackal's `validateSsl=false`.
impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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

pub fn floor_tls() -> Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    // Jackal builds a fresh ClientConfig per test, so it never resumes a session: neither
    // does the floor, which does a full handshake every time.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(MakeRustlsConnect::new(config))
}

/// One floor sample: total, and its connect (TCP + TLS + startup/auth), query and close parts.
pub struct FloorSample {
    pub total: Duration,
    pub connect: Duration,
    pub query: Duration,
    pub close: Duration,
}

/// `SELECT version()` in one round trip, as Jackal's probe asks it (simple-query protocol, no
/// prepare).
pub async fn select_version(client: &tokio_postgres::Client) -> Result<String> {
    Ok(client
        .simple_query("SELECT version()")
        .await?
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .ok_or("SELECT version() returned no row")?)
}

pub async fn floor_once(
    host: &str,
    port: u16,
    tls: Option<&MakeRustlsConnect>,
) -> Result<(FloorSample, String)> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(port)
        .user("postgres")
        .dbname("postgres")
        .application_name("jackal-bench floor")
        .connect_timeout(Duration::from_secs(10))
        .ssl_mode(if tls.is_some() {
            SslMode::Require
        } else {
            SslMode::Disable
        });
    let start = Instant::now();
    let (client, task) = match tls {
        None => {
            let (client, connection) = config.connect(NoTls).await?;
            (client, tokio::spawn(connection))
        }
        Some(tls) => {
            let (client, connection) = config.connect(tls.clone()).await?;
            (client, tokio::spawn(connection))
        }
    };
    let connected = Instant::now();
    let version = select_version(&client).await?;
    let queried = Instant::now();
    drop(client);
    task.await??;
    let end = Instant::now();
    Ok((
        FloorSample {
            total: end - start,
            connect: connected - start,
            query: queried - connected,
            close: end - queried,
        },
        version,
    ))
}
