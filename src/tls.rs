//! HTTPS for `jackal serve`: the rustls server configuration from `[server] tls_cert` and
//! `tls_key` (PEM files), with the ring provider. Every error names the file it is about.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    // `reason`, not `source`: it is in the message already, and a source would repeat it.
    #[error("cannot read the TLS {what} file {path}: {reason}")]
    Read {
        what: &'static str,
        path: String,
        reason: std::io::Error,
    },
    #[error("the TLS {what} file {path} holds no usable PEM {expected}: {detail}")]
    Parse {
        what: &'static str,
        path: String,
        expected: &'static str,
        detail: String,
    },
    #[error(
        "the TLS certificate {cert} and key {key} cannot be used together: {detail}; \
         check that the key belongs to the certificate"
    )]
    Mismatch {
        cert: String,
        key: String,
        detail: String,
    },
}

/// A rustls server configuration serving the certificate chain in `cert` with the key in `key`.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let chain = read_certificates(cert)?;
    let private_key = read_private_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mismatch = |detail: String| TlsError::Mismatch {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        detail,
    };
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| mismatch(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| mismatch(e.to_string()))
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|reason| TlsError::Read {
        what,
        path: path.display().to_string(),
        reason,
    })
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read("certificate", path)?;
    let parse_error = |detail: String| TlsError::Parse {
        what: "certificate",
        path: path.display().to_string(),
        expected: "CERTIFICATE block",
        detail,
    };
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parse_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(parse_error(
            "expected -----BEGIN CERTIFICATE----- (the server's certificate first, then any intermediates)"
                .to_owned(),
        ));
    }
    Ok(chain)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Parse {
        what: "key",
        path: path.display().to_string(),
        expected: "PRIVATE KEY block (PKCS#8, RSA or EC)",
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("absent-cert.pem");
        let key = dir.path().join("absent-key.pem");
        let err = server_config(&cert, &key).unwrap_err().to_string();
        assert!(err.contains("absent-cert.pem"), "{err}");
    }

    #[test]
    fn a_file_without_pem_is_named_and_explained() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a certificate\n").unwrap();
        let err = server_config(&cert, &dir.path().join("key.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cert.pem") && err.contains("CERTIFICATE"),
            "{err}"
        );
    }
}
