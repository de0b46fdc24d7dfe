//! The SSH secrets of a data source: a private key (with its passphrase) or a password. They
//! travel beside the `configUri`, never inside it, and never print: `Debug` shows only which
//! ones are present.

use std::fmt;
use std::sync::Arc;

use russh::keys::{self, HashAlg, PrivateKey};
use zeroize::Zeroizing;

/// Private-key text larger than this is refused before it is parsed (an RSA 16384-bit key in
/// OpenSSH format is about 12 KiB).
pub const MAX_KEY_BYTES: usize = 32 * 1024;

/// How a tunnel logs in to its bastion and jump hosts.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SshCredentials {
    /// OpenSSH or PEM (PKCS#1, PKCS#8, SEC1) private-key text.
    pub private_key: Option<Zeroizing<String>>,
    pub passphrase: Option<Zeroizing<String>>,
    pub password: Option<Zeroizing<String>>,
}

impl fmt::Debug for SshCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshCredentials")
            .field("private_key", &self.private_key.as_ref().map(|_| "***"))
            .field("passphrase", &self.passphrase.as_ref().map(|_| "***"))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Why a private key cannot be used. Messages name the argument and never echo its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "sshPrivateKey is larger than {MAX_KEY_BYTES} bytes: give the private key text itself"
    )]
    TooLarge,
    #[error(
        "sshPrivateKey is not a private key Jackal can read: give the OpenSSH text \
         (-----BEGIN OPENSSH PRIVATE KEY-----) or PEM (PKCS#1, PKCS#8 or SEC1) of an ed25519, \
         ECDSA or RSA key"
    )]
    Unreadable,
    #[error("sshPrivateKey is encrypted: send its passphrase as sshKeyPassphrase")]
    PassphraseMissing,
    #[error("sshKeyPassphrase does not decrypt sshPrivateKey: check the passphrase")]
    WrongPassphrase,
    #[error("sshKeyPassphrase was sent without sshPrivateKey")]
    PassphraseWithoutKey,
}

/// What a data source shows about its tunnel's login: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialFacts {
    /// `publicKey`, `password`, or `none` when nothing is stored.
    pub method: &'static str,
    /// `SHA256:…` of the client public key, to install in `authorized_keys`.
    pub public_key_fingerprint: Option<String>,
    /// `ssh-ed25519 AAAA…`: the line to put in `authorized_keys`.
    pub public_key: Option<String>,
}

impl SshCredentials {
    pub fn is_empty(&self) -> bool {
        self.private_key.is_none() && self.password.is_none() && self.passphrase.is_none()
    }

    /// The decoded private key, if one is set; the error says what to fix.
    pub fn decode_key(&self) -> Result<Option<PrivateKey>, KeyError> {
        let Some(text) = &self.private_key else {
            return match self.passphrase {
                Some(_) => Err(KeyError::PassphraseWithoutKey),
                None => Ok(None),
            };
        };
        if text.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLarge);
        }
        // A passphrase given for an unencrypted PKCS#8 or SEC1 key makes the decoder fail, so
        // the key is read without one first and with it only when it says it is encrypted.
        match keys::decode_secret_key(text, None) {
            Ok(key) => Ok(Some(key)),
            Err(keys::Error::KeyIsEncrypted) => self.decrypt(text),
            Err(_) if looks_encrypted(text) => self.decrypt(text),
            Err(_) => Err(KeyError::Unreadable),
        }
    }

    fn decrypt(&self, text: &str) -> Result<Option<PrivateKey>, KeyError> {
        let passphrase = self
            .passphrase
            .as_ref()
            .ok_or(KeyError::PassphraseMissing)?;
        keys::decode_secret_key(text, Some(passphrase.as_str()))
            .map(Some)
            .map_err(|_| KeyError::WrongPassphrase)
    }

    /// The facts a data source shows, after checking that the key can be used.
    pub fn facts(&self) -> Result<CredentialFacts, KeyError> {
        Ok(match self.decode_key()? {
            Some(key) => CredentialFacts {
                method: "publicKey",
                public_key_fingerprint: Some(
                    key.public_key().fingerprint(HashAlg::Sha256).to_string(),
                ),
                public_key: key.public_key().to_openssh().ok(),
            },
            None if self.password.is_some() => CredentialFacts {
                method: "password",
                public_key_fingerprint: None,
                public_key: None,
            },
            None => CredentialFacts {
                method: "none",
                public_key_fingerprint: None,
                public_key: None,
            },
        })
    }

    pub(crate) fn key_for_auth(&self) -> Result<Option<Arc<PrivateKey>>, KeyError> {
        Ok(self.decode_key()?.map(Arc::new))
    }
}

/// PEM headers of encrypted keys the decoder reports as something else when no passphrase is
/// given (encrypted PKCS#8 reads as a DER error).
fn looks_encrypted(text: &str) -> bool {
    text.contains("BEGIN ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED")
}
