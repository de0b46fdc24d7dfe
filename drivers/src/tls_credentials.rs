//! The TLS material an API caller sends beside `configUri`: a client certificate chain with its
//! private key (and the key's password), and CA certificates to trust, all as PEM text. Like
//! the SSH secrets they travel beside the URI, never inside it, and never print: `Debug` shows
//! only which ones are present.
//!
//! Everything is checked when it arrives ([`TlsCredentials::decode`]): a key that cannot be
//! read, a wrong password, or a key that does not belong to the certificate is an error naming
//! the argument, never quoting it.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use pkcs8::der::Document;
use pkcs8::EncryptedPrivateKeyInfoRef;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

use crate::report::CertificateFacts;
use crate::tls;

/// Certificate-chain or key text larger than this is refused before it is parsed (a chain of
/// four RSA-4096 certificates is about 10 KiB).
pub const MAX_PEM_BYTES: usize = 64 * 1024;

/// A client certificate for mutual TLS, and CA certificates to trust, as PEM text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsCredentials {
    /// `sslCert`: the client certificate, then any intermediates.
    pub client_cert: Option<String>,
    /// `sslKey`: its private key (PKCS#8, PKCS#1, SEC1, or encrypted PKCS#8).
    pub client_key: Option<Zeroizing<String>>,
    /// `sslKeyPassword`: the password of an encrypted `client_key`.
    pub key_password: Option<Zeroizing<String>>,
    /// `sslRootCert` as content: the CA certificates `validateSsl=true` trusts.
    pub root_cert: Option<String>,
}

impl fmt::Debug for TlsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCredentials")
            .field("client_cert", &self.client_cert.as_ref().map(|_| "(PEM)"))
            .field("client_key", &self.client_key.as_ref().map(|_| "***"))
            .field("key_password", &self.key_password.as_ref().map(|_| "***"))
            .field("root_cert", &self.root_cert.as_ref().map(|_| "(PEM)"))
            .finish()
    }
}

/// Why the TLS material cannot be used. Each names its argument ([`Self::argument`]) and
/// never echoes any content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsCredentialError {
    #[error("{0} is larger than {MAX_PEM_BYTES} bytes: give the PEM text itself")]
    TooLarge(&'static str),
    #[error("sslCert was sent without sslKey: send the certificate's private key too")]
    CertWithoutKey,
    #[error("sslKey was sent without sslCert: send the client certificate too")]
    KeyWithoutCert,
    #[error("sslKeyPassword was sent without sslKey")]
    PasswordWithoutKey,
    #[error(
        "sslCert holds no certificate Jackal can read: give the PEM text of the client \
         certificate (-----BEGIN CERTIFICATE-----), then any intermediates"
    )]
    CertUnreadable,
    #[error(
        "sslKey is not a private key Jackal can read: give PEM text of PKCS#8 (BEGIN PRIVATE \
         KEY), PKCS#1 (BEGIN RSA PRIVATE KEY), SEC1 (BEGIN EC PRIVATE KEY) or encrypted PKCS#8 \
         (BEGIN ENCRYPTED PRIVATE KEY, with sslKeyPassword), of an RSA, ECDSA P-256/P-384 or \
         Ed25519 key"
    )]
    KeyUnreadable,
    #[error(
        "sslKey is encrypted in OpenSSL's legacy format (Proc-Type: 4,ENCRYPTED), which Jackal \
         does not read: convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 \
         aes-256-cbc -in key.pem -out key.p8.pem`"
    )]
    LegacyEncryption,
    #[error(
        "sslKey is encrypted with a scheme Jackal cannot read (it reads PBES2: PBKDF2 or scrypt \
         with AES): re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
    )]
    UnsupportedEncryption,
    #[error("sslKey is encrypted: send its password as sslKeyPassword")]
    PasswordMissing,
    #[error("sslKeyPassword does not decrypt sslKey: check the password")]
    WrongPassword,
    #[error(
        "sslKey is encrypted with a key-derivation cost above what Jackal accepts (PBKDF2 up to \
         1,000,000 iterations, scrypt up to 64 MiB and 4 lanes): re-encrypt it with \
         `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
    )]
    TooCostly,
    #[error("sslKeyPassword was sent, but sslKey is not encrypted: leave sslKeyPassword out")]
    PasswordForPlainKey,
    #[error(
        "sslKey does not belong to sslCert: their public keys differ; send the key the \
         certificate was issued for"
    )]
    Mismatch,
    #[error(
        "sslRootCert holds no CA certificate Jackal can use: give the PEM text of one or more \
         certificates (-----BEGIN CERTIFICATE-----)"
    )]
    RootUnreadable,
}

impl TlsCredentialError {
    /// The API argument the error is about.
    pub fn argument(&self) -> &'static str {
        match self {
            TlsCredentialError::TooLarge(argument) => argument,
            TlsCredentialError::CertWithoutKey
            | TlsCredentialError::LegacyEncryption
            | TlsCredentialError::UnsupportedEncryption
            | TlsCredentialError::TooCostly
            | TlsCredentialError::KeyUnreadable
            | TlsCredentialError::Mismatch => "sslKey",
            TlsCredentialError::KeyWithoutCert | TlsCredentialError::CertUnreadable => "sslCert",
            TlsCredentialError::PasswordWithoutKey
            | TlsCredentialError::PasswordMissing
            | TlsCredentialError::WrongPassword
            | TlsCredentialError::PasswordForPlainKey => "sslKeyPassword",
            TlsCredentialError::RootUnreadable => "sslRootCert",
        }
    }
}

/// A client certificate and its key, ready for the handshake, with what may be shown of it.
#[derive(Clone)]
pub struct ClientIdentity {
    pub(crate) key: Arc<CertifiedKey>,
    /// The leaf certificate, as an admin checks it.
    pub facts: CertificateFacts,
    /// Its `notBefore` is still to come.
    pub not_yet_valid: bool,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("subject", &self.facts.subject)
            .finish_non_exhaustive()
    }
}

/// The material, decoded and checked.
#[derive(Debug, Clone, Default)]
pub struct DecodedTls {
    pub identity: Option<ClientIdentity>,
    /// The CA certificates of `root_cert`.
    pub roots: Option<Vec<CertificateDer<'static>>>,
}

impl DecodedTls {
    /// The facts of each CA certificate of `root_cert`, as of `now`.
    pub fn root_facts(&self, now: SystemTime) -> Vec<CertificateFacts> {
        self.roots
            .iter()
            .flatten()
            .filter_map(|root| tls::certificate_facts(std::slice::from_ref(root), now))
            .collect()
    }
}

impl TlsCredentials {
    /// Nothing was given.
    pub fn is_empty(&self) -> bool {
        self.client_cert.is_none()
            && self.client_key.is_none()
            && self.key_password.is_none()
            && self.root_cert.is_none()
    }

    /// Reads and checks everything, as of `now` for the certificate's facts. Validity dates are
    /// not judged here: a stored certificate that has since expired is still presented (the
    /// server decides, and the test warns); the API refuses an expired one when it arrives.
    pub fn decode(&self, now: SystemTime) -> Result<DecodedTls, TlsCredentialError> {
        for (argument, text) in [
            ("sslCert", self.client_cert.as_deref()),
            ("sslKey", self.client_key.as_deref().map(String::as_str)),
            ("sslRootCert", self.root_cert.as_deref()),
        ] {
            // The CA bundle may be as large as one named by path.
            let limit = match argument {
                "sslRootCert" => tls::MAX_ROOT_BUNDLE_BYTES as usize,
                _ => MAX_PEM_BYTES,
            };
            if text.is_some_and(|t| t.len() > limit) {
                return Err(TlsCredentialError::TooLarge(argument));
            }
        }
        let identity = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(identity(
                cert,
                key,
                self.key_password.as_ref().map(|p| p.as_str()),
                now,
            )?),
            (Some(_), None) => return Err(TlsCredentialError::CertWithoutKey),
            (None, Some(_)) => return Err(TlsCredentialError::KeyWithoutCert),
            (None, None) if self.key_password.is_some() => {
                return Err(TlsCredentialError::PasswordWithoutKey)
            }
            (None, None) => None,
        };
        let roots = self
            .root_cert
            .as_deref()
            .map(|pem| {
                tls::usable_certificates(pem.as_bytes()).ok_or(TlsCredentialError::RootUnreadable)
            })
            .transpose()?;
        Ok(DecodedTls { identity, roots })
    }
}

fn identity(
    cert: &str,
    key: &str,
    password: Option<&str>,
    now: SystemTime,
) -> Result<ClientIdentity, TlsCredentialError> {
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsCredentialError::CertUnreadable)?;
    let facts = tls::certificate_facts(&chain, now).ok_or(TlsCredentialError::CertUnreadable)?;
    let not_yet_valid = tls::not_yet_valid(&chain[0], now);
    let key = private_key(key, password)?;
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsCredentialError::Mismatch,
        _ => TlsCredentialError::KeyUnreadable,
    })?;
    // from_der lets a key that cannot tell its public key through; every ring key can, so
    // anything but a match is refused here.
    certified
        .keys_match()
        .map_err(|_| TlsCredentialError::Mismatch)?;
    Ok(ClientIdentity {
        key: Arc::new(certified),
        facts,
        not_yet_valid,
    })
}

/// The most PBKDF2 iterations an encrypted key may ask for (OpenSSL writes 2,048; the
/// strictest guides ask 600,000): the key's own header sets the cost of every decryption, and
/// pkcs5 checks no bound when reading one, so an API caller could otherwise make a test burn
/// minutes of CPU.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// The most memory scrypt may take for an encrypted key (128 · N · r bytes), and its most
/// parallel lanes: OpenSSL's default scrypt (N = 2^14, r = 8, p = 1) takes 16 MiB.
pub const MAX_SCRYPT_BYTES: u64 = 64 * 1024 * 1024;
const MAX_SCRYPT_LANES: u16 = 4;

/// Whether decrypting with `scheme` stays within the bounds above.
fn affordable(scheme: &pkcs8::pkcs5::EncryptionScheme) -> bool {
    use pkcs8::pkcs5::pbes2::Kdf;
    let Some(pbes2) = scheme.pbes2() else {
        // PBES1 (DES, RC2) is not compiled in: refused as unsupported when decrypted.
        return true;
    };
    match &pbes2.kdf {
        Kdf::Pbkdf2(params) => params.iteration_count <= MAX_PBKDF2_ITERATIONS,
        Kdf::Scrypt(params) => {
            let bytes = 128u64
                .saturating_mul(params.cost_parameter)
                .saturating_mul(u64::from(params.block_size));
            bytes <= MAX_SCRYPT_BYTES && params.parallelization <= MAX_SCRYPT_LANES
        }
        _ => false,
    }
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The private key of `pem`, decrypted with `password` when it is encrypted PKCS#8.
fn private_key(
    pem: &str,
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, TlsCredentialError> {
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(TlsCredentialError::LegacyEncryption);
    }
    if let Some(start) = pem.find(ENCRYPTED_BEGIN) {
        let end = pem[start..]
            .find(ENCRYPTED_END)
            .ok_or(TlsCredentialError::KeyUnreadable)?
            + start
            + ENCRYPTED_END.len();
        let password = password.ok_or(TlsCredentialError::PasswordMissing)?;
        let (_, document) =
            Document::from_pem(&pem[start..end]).map_err(|_| TlsCredentialError::KeyUnreadable)?;
        let info = EncryptedPrivateKeyInfoRef::try_from(document.as_bytes())
            .map_err(|_| TlsCredentialError::UnsupportedEncryption)?;
        if !affordable(&info.encryption_algorithm) {
            return Err(TlsCredentialError::TooCostly);
        }
        // A wrong password fails the padding check or yields bytes that are not a key.
        let plain = info
            .decrypt(password)
            .map_err(|_| TlsCredentialError::WrongPassword)?;
        return Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()));
    }
    if password.is_some() {
        return Err(TlsCredentialError::PasswordForPlainKey);
    }
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes()) {
        let (kind, der) = section.map_err(|_| TlsCredentialError::KeyUnreadable)?;
        let key = match kind {
            SectionKind::PrivateKey => PrivateKeyDer::Pkcs8(der.into()),
            SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(der.into()),
            SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(der.into()),
            // `openssl ecparam -genkey` writes EC PARAMETERS before the key.
            _ => continue,
        };
        return Ok(key);
    }
    Err(TlsCredentialError::KeyUnreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(alg: &'static rcgen::SignatureAlgorithm) -> (String, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "jackal_client");
        (params.self_signed(&key).unwrap().pem(), key)
    }

    fn with(cert: &str, key: &str, password: Option<&str>) -> TlsCredentials {
        TlsCredentials {
            client_cert: Some(cert.to_owned()),
            client_key: Some(Zeroizing::new(key.to_owned())),
            key_password: password.map(|p| Zeroizing::new(p.to_owned())),
            root_cert: None,
        }
    }

    #[test]
    fn pkcs8_and_sec1_keys_are_read_and_matched() {
        let (cert, key) = pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let decoded = with(&cert, &key.serialize_pem(), None)
            .decode(SystemTime::now())
            .unwrap();
        let identity = decoded.identity.unwrap();
        assert_eq!(identity.facts.subject, "CN=jackal_client");
        assert_eq!(identity.facts.fingerprint_sha256.len(), 64 + 31);
        // SEC1: the same key as `EC PRIVATE KEY`, from its PKCS#8 DER.
        let pkcs8 = key.serialize_der();
        let sec1 = sec1_of(&pkcs8);
        let sec1_pem = pem_text("EC PRIVATE KEY", &sec1);
        assert!(with(&cert, &sec1_pem, None)
            .decode(SystemTime::now())
            .unwrap()
            .identity
            .is_some());
    }

    /// The SEC1 `ECPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (its `privateKey` octets).
    fn sec1_of(pkcs8: &[u8]) -> Vec<u8> {
        use pkcs8::der::Decode;
        let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8).unwrap();
        info.private_key.as_bytes().to_vec()
    }

    fn pem_text(label: &str, der: &[u8]) -> String {
        pkcs8::der::pem::encode_string(label, pkcs8::der::pem::LineEnding::LF, der).unwrap()
    }

    /// `key` encrypted as OpenSSL does by default (PBES2, PBKDF2 and AES-256-CBC).
    fn encrypted(key: &rcgen::KeyPair, password: &str) -> String {
        use std::io::Write;
        let pass = format!("pass:{password}");
        let mut child = std::process::Command::new("openssl")
            .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc"])
            .args(["-passout", &pass])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(key.serialize_pem().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn an_encrypted_pkcs8_key_is_read_with_its_password_only() {
        let (cert, key) = pair(&rcgen::PKCS_ECDSA_P384_SHA384);
        let pem = encrypted(&key, "s3cret-pw");
        assert!(pem.starts_with(ENCRYPTED_BEGIN), "{pem}");
        let now = SystemTime::now();
        let identity = with(&cert, &pem, Some("s3cret-pw"))
            .decode(now)
            .unwrap()
            .identity
            .unwrap();
        assert_eq!(identity.facts.subject, "CN=jackal_client");
        assert_eq!(
            with(&cert, &pem, Some("wrong")).decode(now).unwrap_err(),
            TlsCredentialError::WrongPassword
        );
        assert_eq!(
            with(&cert, &pem, None).decode(now).unwrap_err(),
            TlsCredentialError::PasswordMissing
        );
    }

    /// `key` encrypted with `args` for `openssl pkcs8 -topk8`.
    fn encrypted_with(key: &rcgen::KeyPair, args: &[&str]) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("openssl")
            .args(["pkcs8", "-topk8", "-passout", "pass:pw"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl runs");
        let pem = key.serialize_pem();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(pem.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn a_key_whose_decryption_would_cost_too_much_is_refused_before_it_is_tried() {
        let (cert, key) = pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let now = SystemTime::now();
        // Refused at once, not after 2,000,000 iterations.
        let costly = encrypted_with(&key, &["-v2", "aes-256-cbc", "-iter", "2000000"]);
        let started = std::time::Instant::now();
        let err = with(&cert, &costly, Some("pw")).decode(now).unwrap_err();
        assert_eq!(err, TlsCredentialError::TooCostly);
        assert_eq!(err.argument(), "sslKey");
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
        // scrypt with 8 lanes likewise (OpenSSL itself refuses to write one above its own
        // 32 MiB limit); OpenSSL's default scrypt is fine.
        let lanes = encrypted_with(&key, &["-scrypt", "-scrypt_p", "8"]);
        assert_eq!(
            with(&cert, &lanes, Some("pw")).decode(now).unwrap_err(),
            TlsCredentialError::TooCostly
        );
        let fine = encrypted_with(&key, &["-scrypt"]);
        assert!(with(&cert, &fine, Some("pw")).decode(now).is_ok());
    }

    #[test]
    fn a_key_of_another_certificate_is_a_mismatch() {
        let (cert, _) = pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, other) = pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let err = with(&cert, &other.serialize_pem(), None)
            .decode(SystemTime::now())
            .unwrap_err();
        assert_eq!(err, TlsCredentialError::Mismatch);
        assert_eq!(err.argument(), "sslKey");
    }

    #[test]
    fn incomplete_or_unreadable_material_names_its_argument() {
        let (cert, key) = pair(&rcgen::PKCS_ED25519);
        let key = key.serialize_pem();
        let now = SystemTime::now();
        let cases = [
            (
                TlsCredentials {
                    client_cert: Some(cert.clone()),
                    ..Default::default()
                },
                TlsCredentialError::CertWithoutKey,
            ),
            (
                TlsCredentials {
                    client_key: Some(Zeroizing::new(key.clone())),
                    ..Default::default()
                },
                TlsCredentialError::KeyWithoutCert,
            ),
            (
                TlsCredentials {
                    key_password: Some(Zeroizing::new("pw".into())),
                    ..Default::default()
                },
                TlsCredentialError::PasswordWithoutKey,
            ),
            (with("not a cert", &key, None), TlsCredentialError::CertUnreadable),
            (with(&cert, "not a key", None), TlsCredentialError::KeyUnreadable),
            (with(&cert, &key, Some("pw")), TlsCredentialError::PasswordForPlainKey),
            (
                with(
                    &cert,
                    "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                    Some("pw"),
                ),
                TlsCredentialError::LegacyEncryption,
            ),
            (
                with(&"x".repeat(MAX_PEM_BYTES + 1), &key, None),
                TlsCredentialError::TooLarge("sslCert"),
            ),
            (
                TlsCredentials {
                    root_cert: Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into()),
                    ..Default::default()
                },
                TlsCredentialError::RootUnreadable,
            ),
        ];
        for (credentials, want) in cases {
            let got = credentials.decode(now).unwrap_err();
            assert_eq!(got, want);
            // Never the content.
            assert!(!got.to_string().contains("AAAA"), "{got}");
        }
        // Well formed: the root bundle and nothing else.
        let roots = TlsCredentials {
            root_cert: Some(cert),
            ..Default::default()
        }
        .decode(now)
        .unwrap();
        assert_eq!(roots.roots.unwrap().len(), 1);
        assert!(roots.identity.is_none());
    }

    #[test]
    fn debug_never_prints_the_key_or_its_password() {
        let (cert, key) = pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let credentials = with(&cert, &key.serialize_pem(), Some("hunter2-pw"));
        let printed = format!("{credentials:?}");
        assert!(
            !printed.contains("PRIVATE KEY") && !printed.contains("hunter2"),
            "{printed}"
        );
        assert!(!printed.contains("BEGIN CERTIFICATE"), "{printed}");
    }
}
