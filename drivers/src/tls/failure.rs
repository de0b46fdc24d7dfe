//! Why a TLS handshake failed, from the typed rustls error or alert it carries: an untrusted,
//! expired or misnamed server certificate, or a client certificate the server demanded or
//! refused. Each failure says what to fix.

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError};
use x509_cert::der::DateTime;

use crate::report::{CertificateFacts, ErrorCode, ProbeFailure};

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
/// `server`: the certificate the server presented, when it could be read.
pub(crate) fn classify_handshake_error(
    err: &std::io::Error,
    host: &str,
    presented: Option<&CertificateFacts>,
    server: Option<&CertificateFacts>,
) -> ProbeFailure {
    // What the server presented, for the messages about its certificate.
    let shown = server
        .map(|cert| {
            let own = if cert.self_signed {
                ", self-signed"
            } else {
                ""
            };
            format!(" ({}, issued by {}{own})", cert.subject, cert.issuer)
        })
        .unwrap_or_default();
    let names = server.map(|cert| match cert.names.as_slice() {
        [] => " It lists no host name.".to_owned(),
        names => format!(" It lists: {}.", names.join(", ")),
    });
    if let Some(failure) = client_cert_failure(err, host, presented) {
        return failure;
    }
    let rustls_error = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let message = match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::UnknownIssuer => format!(
                "the TLS certificate of {host}{shown} is not signed by a CA Jackal trusts: set sslRootCert to the CA's PEM file, or validateSsl=false to encrypt without verifying"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
                "the TLS certificate presented{shown} is not valid for the host name {host}, the name configUri gives:{} Connect using a name the certificate lists, or validateSsl=false to encrypt without verifying",
                names.unwrap_or_default()
            ),
            CertificateError::ExpiredContext { not_after, .. } => format!(
                "the TLS certificate of {host}{shown} expired on {}: renew it on the server, or validateSsl=false to encrypt without verifying",
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
