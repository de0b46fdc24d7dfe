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

use crate::key_cost::{self, TooCostly};
use crate::report::CertificateFacts;
use crate::tls::certificates;

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
#[non_exhaustive]
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
        "sslKey is encrypted with {0}: re-encrypt it with `openssl pkcs8 -topk8 -v2 \
         aes-256-cbc` (2,048 PBKDF2 iterations, OpenSSL's default)"
    )]
    TooCostly(TooCostly),
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
            | TlsCredentialError::TooCostly(_)
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
    /// The key is still encrypted (as an older version stored it), so `identity` is not read
    /// yet: the test decrypts it first ([`TlsCredentials::decrypted`]), off the async workers.
    pub locked: bool,
}

impl DecodedTls {
    /// The facts of each CA certificate of `root_cert`, as of `now`.
    pub fn root_facts(&self, now: SystemTime) -> Vec<CertificateFacts> {
        self.roots
            .iter()
            .flatten()
            .filter_map(|root| certificates::certificate_facts(std::slice::from_ref(root), now))
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

    /// Reads and checks everything, as of `now` for the certificate's facts, but never decrypts:
    /// of an encrypted key only its form, its password's presence and its key derivation's
    /// cost are checked, and the result is [`DecodedTls::locked`] (see [`Self::decrypted`]).
    /// Validity dates are not judged here: a stored certificate that has since expired is
    /// still presented (the server decides, and the test warns); the API refuses an expired
    /// one when it arrives.
    pub fn decode(&self, now: SystemTime) -> Result<DecodedTls, TlsCredentialError> {
        for (argument, text) in [
            ("sslCert", self.client_cert.as_deref()),
            ("sslKey", self.client_key.as_deref().map(String::as_str)),
            ("sslRootCert", self.root_cert.as_deref()),
        ] {
            // The CA bundle may be as large as one named by path.
            let limit = match argument {
                "sslRootCert" => certificates::MAX_ROOT_BUNDLE_BYTES as usize,
                _ => MAX_PEM_BYTES,
            };
            if text.is_some_and(|t| t.len() > limit) {
                return Err(TlsCredentialError::TooLarge(argument));
            }
        }
        let password = self.key_password.as_ref().map(|p| p.as_str());
        let mut locked = false;
        let identity = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) if encrypted(key)?.is_some() => {
                password.ok_or(TlsCredentialError::PasswordMissing)?;
                certificate(cert, now)?;
                locked = true;
                None
            }
            (Some(cert), Some(key)) => Some(identity(cert, key, password, now)?),
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
                certificates::usable_certificates(pem.as_bytes())
                    .ok_or(TlsCredentialError::RootUnreadable)
            })
            .transpose()?;
        Ok(DecodedTls {
            identity,
            roots,
            locked,
        })
    }

    /// Whether the key is encrypted, as sent or as an older version stored it.
    pub fn is_locked(&self) -> bool {
        self.key_password.is_some()
    }

    /// The same material with the key decrypted, as unencrypted PKCS#8 PEM, and no password:
    /// the key derivation's cost is checked first ([`key_cost`]). This runs the key
    /// derivation, so it blocks: run it off the async workers, once, when the key arrives.
    pub fn decrypted(&self) -> Result<TlsCredentials, TlsCredentialError> {
        let Some(key) = &self.client_key else {
            return match self.key_password {
                Some(_) => Err(TlsCredentialError::PasswordWithoutKey),
                None => Ok(self.clone()),
            };
        };
        if key.len() > MAX_PEM_BYTES {
            return Err(TlsCredentialError::TooLarge("sslKey"));
        }
        let Some(document) = encrypted(key)? else {
            if self.key_password.is_some() {
                return Err(TlsCredentialError::PasswordForPlainKey);
            }
            return Ok(self.clone());
        };
        let password = self
            .key_password
            .as_ref()
            .ok_or(TlsCredentialError::PasswordMissing)?;
        let info = EncryptedPrivateKeyInfoRef::try_from(document.as_bytes())
            .map_err(|_| TlsCredentialError::UnsupportedEncryption)?;
        // A wrong password fails the padding check or yields bytes that are not a key.
        let plain = info
            .decrypt(password.as_bytes())
            .map_err(|_| TlsCredentialError::WrongPassword)?;
        let pem = plain
            .to_pem("PRIVATE KEY", pkcs8::der::pem::LineEnding::LF)
            .map_err(|_| TlsCredentialError::WrongPassword)?;
        Ok(TlsCredentials {
            client_key: Some(Zeroizing::new(pem.to_string())),
            key_password: None,
            ..self.clone()
        })
    }
}

/// The chain of `cert` and its leaf's facts.
fn certificate(
    cert: &str,
    now: SystemTime,
) -> Result<(Vec<CertificateDer<'static>>, CertificateFacts), TlsCredentialError> {
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsCredentialError::CertUnreadable)?;
    let facts =
        certificates::certificate_facts(&chain, now).ok_or(TlsCredentialError::CertUnreadable)?;
    Ok((chain, facts))
}

fn identity(
    cert: &str,
    key: &str,
    password: Option<&str>,
    now: SystemTime,
) -> Result<ClientIdentity, TlsCredentialError> {
    let (chain, facts) = certificate(cert, now)?;
    let not_yet_valid = certificates::not_yet_valid(&chain[0], now);
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

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The encrypted PKCS#8 document of `pem`, if it holds one, with its key derivation's cost
/// checked ([`key_cost::pbes2`]); nothing is decrypted. OpenSSL's legacy encryption is
/// refused.
fn encrypted(pem: &str) -> Result<Option<Document>, TlsCredentialError> {
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(TlsCredentialError::LegacyEncryption);
    }
    let Some(start) = pem.find(ENCRYPTED_BEGIN) else {
        return Ok(None);
    };
    let end = pem[start..]
        .find(ENCRYPTED_END)
        .ok_or(TlsCredentialError::KeyUnreadable)?
        + start
        + ENCRYPTED_END.len();
    let (_, document) =
        Document::from_pem(&pem[start..end]).map_err(|_| TlsCredentialError::KeyUnreadable)?;
    let info = EncryptedPrivateKeyInfoRef::try_from(document.as_bytes())
        .map_err(|_| TlsCredentialError::UnsupportedEncryption)?;
    key_cost::pbes2(&info.encryption_algorithm).map_err(TlsCredentialError::TooCostly)?;
    Ok(Some(document))
}

/// The private key of the unencrypted `pem`.
fn private_key(
    pem: &str,
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, TlsCredentialError> {
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
        let pass = format!("pass:{password}");
        let args = ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", &pass];
        crate::test_keys::run("openssl", &args, &key.serialize_pem())
    }

    #[test]
    fn an_encrypted_pkcs8_key_is_read_with_its_password_only() {
        let (cert, key) = pair(&rcgen::PKCS_ECDSA_P384_SHA384);
        let pem = encrypted(&key, "s3cret-pw");
        assert!(pem.starts_with(ENCRYPTED_BEGIN), "{pem}");
        let now = SystemTime::now();
        // Decoding reads the certificate and the key's form, but decrypts nothing.
        let locked = with(&cert, &pem, Some("s3cret-pw")).decode(now).unwrap();
        assert!(locked.locked && locked.identity.is_none());
        let plain = with(&cert, &pem, Some("s3cret-pw")).decrypted().unwrap();
        assert!(plain.key_password.is_none());
        let plain_key = plain.client_key.as_deref().unwrap();
        assert!(plain_key.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(plain_key.as_str(), key.serialize_pem());
        let identity = plain.decode(now).unwrap().identity.unwrap();
        assert_eq!(identity.facts.subject, "CN=jackal_client");
        assert_eq!(
            with(&cert, &pem, Some("wrong")).decrypted().unwrap_err(),
            TlsCredentialError::WrongPassword
        );
        for refused in [
            with(&cert, &pem, None).decode(now).unwrap_err(),
            with(&cert, &pem, None).decrypted().unwrap_err(),
        ] {
            assert_eq!(refused, TlsCredentialError::PasswordMissing);
        }
    }

    /// `key` encrypted with `args` for `openssl pkcs8 -topk8`, under the password `pw`.
    fn encrypted_with(key: &rcgen::KeyPair, args: &[&str]) -> String {
        crate::test_keys::openssl_pkcs8(&key.serialize_pem(), args)
    }

    #[test]
    fn a_key_whose_decryption_would_cost_too_much_is_refused_before_it_is_tried() {
        use key_cost::{MAX_PBKDF2_ITERATIONS, MAX_SCRYPT_LANES};
        let (cert, key) = pair(&rcgen::PKCS_ECDSA_P256_SHA256);
        let now = SystemTime::now();
        let at_bound = MAX_PBKDF2_ITERATIONS.to_string();
        let above = (MAX_PBKDF2_ITERATIONS + 1).to_string();
        // At the bound: read (and decrypted).
        let fine = encrypted_with(&key, &["-v2", "aes-256-cbc", "-iter", &at_bound]);
        assert!(with(&cert, &fine, Some("pw")).decrypted().is_ok());
        // One above: refused by both readers, without deriving anything. 10,000,000 more
        // iterations would take seconds; the refusal takes microseconds.
        let costly = encrypted_with(&key, &["-v2", "aes-256-cbc", "-iter", &above]);
        let slow = encrypted_with(&key, &["-v2", "aes-256-cbc", "-iter", "10000000"]);
        for pem in [&costly, &slow] {
            let started = std::time::Instant::now();
            let err = with(&cert, pem, Some("pw")).decrypted().unwrap_err();
            assert_eq!(
                err,
                TlsCredentialError::TooCostly(TooCostly::Pbkdf2Iterations)
            );
            assert_eq!(err.argument(), "sslKey");
            assert!(
                err.to_string().contains("100000 PBKDF2 iterations"),
                "{err}"
            );
            assert_eq!(with(&cert, pem, Some("pw")).decode(now).unwrap_err(), err);
            assert!(started.elapsed() < std::time::Duration::from_millis(50));
        }
        // scrypt: OpenSSL's default (16 MiB, one lane) is read; more lanes are not.
        let lanes = (MAX_SCRYPT_LANES + 1).to_string();
        let two_lanes = encrypted_with(&key, &["-scrypt", "-scrypt_p", &lanes]);
        assert_eq!(
            with(&cert, &two_lanes, Some("pw")).decrypted().unwrap_err(),
            TlsCredentialError::TooCostly(TooCostly::ScryptLanes)
        );
        let fine = encrypted_with(&key, &["-scrypt"]);
        assert!(with(&cert, &fine, Some("pw")).decrypted().is_ok());
    }

    /// A key `openssl req -newkey ALG` makes with a self-signed certificate for it: the key
    /// as OpenSSL writes it (PKCS#8) and the certificate.
    fn openssl_pair(newkey: &[&str]) -> (String, String) {
        let mut args = vec!["req", "-x509", "-nodes", "-keyout", "-", "-subj", "/CN=k"];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-days", "30"]);
        let out = crate::test_keys::run("openssl", &args, "");
        let at = out.find("-----BEGIN CERTIFICATE-----").unwrap();
        (out[..at].to_owned(), out[at..].to_owned())
    }

    /// `count` keys of `newkey`, each turned into the form under test by `form` (key PEM to
    /// key PEM and password), must each be read and match their certificate.
    fn every_key_is_read(
        count: usize,
        newkey: &[&str],
        form: impl Fn(String) -> (String, Option<&'static str>) + Sync,
    ) {
        let now = SystemTime::now();
        let failures = crate::test_keys::failures(count, |_| {
            let (key, cert) = openssl_pair(newkey);
            let (text, password) = form(key.clone());
            let read = with(&cert, &text, password)
                .decrypted()
                .and_then(|plain| plain.decode(now));
            match read {
                Ok(decoded) if decoded.identity.is_some() => None,
                other => Some(format!("{other:?}: {key}")),
            }
        });
        assert!(
            failures.is_empty(),
            "{} of {count} refused, first: {}",
            failures.len(),
            failures[0]
        );
    }

    const EC_P256: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    const EC_P384: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"];
    const RSA_2048: [&str; 2] = ["-newkey", "rsa:2048"];

    #[test]
    fn every_pkcs8_key_openssl_writes_is_read() {
        let as_is = |key: String| (key, None);
        every_key_is_read(300, &EC_P256, as_is);
        every_key_is_read(100, &EC_P384, as_is);
        every_key_is_read(300, &["-newkey", "ed25519"], as_is);
        every_key_is_read(60, &RSA_2048, as_is);
    }

    #[test]
    fn every_sec1_and_pkcs1_key_openssl_writes_is_read() {
        let traditional = |tool: &'static str| {
            move |key: String| {
                let pem = crate::test_keys::run("openssl", &[tool, "-traditional"], &key);
                (pem, None)
            }
        };
        // `openssl ec` writes SEC1 (BEGIN EC PRIVATE KEY), `openssl rsa -traditional` PKCS#1.
        let sec1 = |key: String| {
            let pem = crate::test_keys::run("openssl", &["ec"], &key);
            assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{pem}");
            (pem, None)
        };
        every_key_is_read(300, &EC_P256, sec1);
        every_key_is_read(60, &RSA_2048, traditional("rsa"));
    }

    #[test]
    fn every_encrypted_pkcs8_key_openssl_writes_is_read() {
        let encrypted = |key: String| {
            let pem = crate::test_keys::run(
                "openssl",
                &[
                    "pkcs8",
                    "-topk8",
                    "-v2",
                    "aes-256-cbc",
                    "-passout",
                    "pass:pw",
                ],
                &key,
            );
            (pem, Some("pw"))
        };
        every_key_is_read(200, &EC_P256, encrypted);
        every_key_is_read(30, &RSA_2048, encrypted);
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
