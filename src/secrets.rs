//! Encryption at rest for database passwords: AES-256-GCM with a key kept in a file beside the store.
//!
//! Each sealed value is `nonce (12 bytes) || ciphertext+tag`, bound to the row it belongs to by
//! the associated data, so a sealed password copied onto another data source will not open.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

const NONCE_LEN: usize = 12;
/// Sealed into the store on first start so a wrong key file is caught at start-up, not on
/// the first `/detail` call.
const KEY_CHECK_PLAINTEXT: &[u8] = b"jackal key check v1";
const KEY_CHECK_AAD: &[u8] = b"key-check";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the secret key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the secret key file {path} is not valid: it must hold 64 hexadecimal characters (a 256-bit key)")]
    Malformed { path: PathBuf },
    #[error("the secret key file {path} is missing, but the store {store} holds passwords encrypted with it: restore the file (or point JACKAL_SECRET_KEY_FILE at it); a new key cannot read them")]
    Missing { path: PathBuf, store: PathBuf },
    #[error("the secret key in {path} is not the key the store {store} was encrypted with: point JACKAL_SECRET_KEY_FILE at the right key file")]
    WrongKey { path: PathBuf, store: PathBuf },
    #[error("a stored password could not be decrypted with the secret key (the store or key file was altered)")]
    Undecryptable,
}

/// The loaded key. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn from_key_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        }
    }

    /// Reads the key file. `Ok(None)` when it does not exist.
    pub fn read_key_file(path: &Path) -> Result<Option<Self>, SecretError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SecretError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let malformed = || SecretError::Malformed {
            path: path.to_owned(),
        };
        let bytes = hex::decode(text.trim()).map_err(|_| malformed())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| malformed())?;
        Ok(Some(Self::from_key_bytes(&key)))
    }

    /// Generates a new random key into `path` (which must not exist), readable by the owner only.
    pub fn create_key_file(path: &Path) -> Result<Self, SecretError> {
        let key = Aes256Gcm::generate_key(OsRng);
        let create_err = |source| SecretError::Create {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(create_err)?;
        writeln!(file, "{}", hex::encode(key.as_slice())).map_err(create_err)?;
        file.sync_all().map_err(create_err)?;
        Ok(Self {
            cipher: Aes256Gcm::new(&key),
        })
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of a short message cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
            .map_err(|_| SecretError::Undecryptable)
    }

    pub fn key_check(&self) -> Vec<u8> {
        self.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
    }

    pub fn matches_key_check(&self, sealed: &[u8]) -> bool {
        self.open(sealed, KEY_CHECK_AAD)
            .is_ok_and(|plain| plain == KEY_CHECK_PLAINTEXT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sealed_password_opens_only_with_the_same_associated_data() {
        let key = SecretBox::from_key_bytes(&[7; 32]);
        let sealed = key.seal(b"t0ps3cret", b"Dabc");
        assert!(!sealed.windows(9).any(|w| w == b"t0ps3cret"));
        assert_eq!(key.open(&sealed, b"Dabc").unwrap(), b"t0ps3cret");
        assert!(key.open(&sealed, b"Dother").is_err());
    }

    #[test]
    fn another_key_fails_the_key_check() {
        let check = SecretBox::from_key_bytes(&[1; 32]).key_check();
        assert!(SecretBox::from_key_bytes(&[1; 32]).matches_key_check(&check));
        assert!(!SecretBox::from_key_bytes(&[2; 32]).matches_key_check(&check));
    }

    #[test]
    fn created_key_file_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let created = SecretBox::create_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let read = SecretBox::read_key_file(&path).unwrap().unwrap();
        assert!(read.matches_key_check(&created.key_check()));
        assert!(
            SecretBox::create_key_file(&path).is_err(),
            "never overwrites"
        );
    }

    #[test]
    fn malformed_key_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "not hex").unwrap();
        let err = SecretBox::read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains(path.to_str().unwrap()), "{err}");
    }

    #[test]
    fn debug_hides_the_key() {
        let key = SecretBox::from_key_bytes(&[0xab; 32]);
        assert_eq!(format!("{key:?}"), "SecretBox(***)");
    }
}
