//! The TLS material an API caller sends beside `configUri` (`sslCert`, `sslKey`,
//! `sslKeyPassword`, `sslRootCert`): checked when it arrives, so a key that does not belong to
//! its certificate, an expired certificate or an unreadable key is a 400 then, not a failed
//! test later.

use std::time::SystemTime;

use jackal_drivers::tls_credentials::DecodedTls;
use jackal_drivers::{ConnectionSpec, Kind, TlsCredentials};
use zeroize::Zeroizing;

use super::Invalid;

/// The material the four arguments make; empty ones count as absent.
pub fn credentials(
    cert: Option<String>,
    key: Option<String>,
    key_password: Option<String>,
    root_cert: Option<String>,
) -> TlsCredentials {
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    TlsCredentials {
        client_cert: given(cert),
        client_key: given(key).map(Zeroizing::new),
        key_password: given(key_password).map(Zeroizing::new),
        root_cert: given(root_cert),
    }
}

/// The material decoded, refused when it cannot be used or its certificate is out of its dates.
pub fn checked(credentials: &TlsCredentials) -> Result<DecodedTls, Invalid> {
    let decoded = credentials
        .decode(SystemTime::now())
        .map_err(Invalid::from)?;
    if let Some(identity) = &decoded.identity {
        let cert = &identity.facts;
        if cert.days_left < 0 {
            return Err(Invalid::new(
                "sslCert",
                format!(
                    "the client certificate in sslCert ({}) expired on {}: have a new one issued and send it with its key",
                    cert.subject, cert.not_after
                ),
            ));
        }
        if identity.not_yet_valid {
            return Err(Invalid::new(
                "sslCert",
                format!(
                    "the client certificate in sslCert ({}) is not valid before {}: check the clocks of this server and of the CA that issued it",
                    cert.subject, cert.not_before
                ),
            ));
        }
    }
    Ok(decoded)
}

/// `spec` with `credentials`, checked for it (see [`check_sent_for_tls`] and [`checked`]).
pub fn attach(
    spec: ConnectionSpec,
    credentials: TlsCredentials,
) -> Result<ConnectionSpec, Invalid> {
    check_sent_for_tls(&credentials, &spec)?;
    checked(&credentials)?;
    spec.with_tls_credentials(credentials)
        .map_err(Invalid::from)
}

/// TLS material is refused for a spec that could not use it: an SQLite file, a configUri
/// without TLS (`ssl=false`), or CA certificates sent both as content and as a path.
pub fn check_sent_for_tls(
    credentials: &TlsCredentials,
    spec: &ConnectionSpec,
) -> Result<(), Invalid> {
    if credentials.is_empty() {
        return Ok(());
    }
    let argument = if credentials.client_cert.is_some() {
        "sslCert"
    } else {
        "sslRootCert"
    };
    if spec.kind() == Kind::Sqlite {
        return Err(Invalid::new(
            argument,
            "an SQLite data source has no TLS: leave out sslCert, sslKey, sslKeyPassword and sslRootCert",
        ));
    }
    if !spec.ssl() {
        return Err(Invalid::new(
            argument,
            "TLS material was sent, but configUri turns TLS off (ssl=false): set ssl=true, or leave out sslCert, sslKey, sslKeyPassword and sslRootCert",
        ));
    }
    if credentials.root_cert.is_some() && spec.ssl_root_cert().is_some() {
        return Err(Invalid::new(
            "sslRootCert",
            "CA certificates were sent as sslRootCert and configUri names a file as sslRootCert too: give one or the other",
        ));
    }
    Ok(())
}
