//! What a certificate says, as an admin checks it: its facts (subject, names, issuer, dates,
//! fingerprint), the warnings they call for, and which certificates of a PEM bundle rustls can
//! use. No handshake and no configuration here: `tls_credentials` needs only this.

use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use crate::report::CertificateFacts;

/// The most a CA bundle named by `sslRootCert` may hold. A system bundle of every public CA is
/// about 200 KiB.
pub const MAX_ROOT_BUNDLE_BYTES: u64 = 1024 * 1024;

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
pub(crate) fn warnings(
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
