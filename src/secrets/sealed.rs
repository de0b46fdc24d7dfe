//! One key, and the format of what it seals.
//!
//! A sealed value names the key that sealed it:
//!
//! ```text
//! "jks" | 0x01 | fingerprint (8 bytes) | nonce (12 bytes) | ciphertext + tag (16 bytes)
//! ```
//!
//! The fingerprint is the first 8 bytes of SHA-256("jackal secret key fingerprint v1" || key): it
//! tells a reader which key to use and says nothing usable about the key. The associated data is
//! the 12-byte header followed by the caller's (a data source id), so neither the header nor the
//! row can be swapped. Values written before keys could rotate ("legacy") are
//! `nonce || ciphertext + tag` with the caller's associated data alone; they are still read.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};

use super::SecretError;

const MAGIC: &[u8; 3] = b"jks";
const VERSION: u8 = 1;
const FINGERPRINT_LEN: usize = 8;
/// Magic, version and fingerprint.
pub(crate) const HEADER_LEN: usize = MAGIC.len() + 1 + FINGERPRINT_LEN;
const NONCE_LEN: usize = 12;
const FINGERPRINT_DOMAIN: &[u8] = b"jackal secret key fingerprint v1";

/// Sealed into the store so a wrong key file is caught at start-up, not on the first `/detail`.
const KEY_CHECK_PLAINTEXT: &[u8] = b"jackal key check v1";
const KEY_CHECK_AAD: &[u8] = b"key-check";

/// Which key sealed a value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Fingerprint([u8; FINGERPRINT_LEN]);

impl Fingerprint {
    /// The header every value sealed with this key starts with.
    pub(crate) fn header(self) -> [u8; HEADER_LEN] {
        let mut header = [0; HEADER_LEN];
        header[..MAGIC.len()].copy_from_slice(MAGIC);
        header[MAGIC.len()] = VERSION;
        header[MAGIC.len() + 1..].copy_from_slice(&self.0);
        header
    }
}

/// What a sealed value says about itself.
pub(crate) enum Parsed<'a> {
    /// The current format: the key it names, and the parts.
    Named {
        fingerprint: Fingerprint,
        header: &'a [u8],
        nonce: &'a [u8],
        body: &'a [u8],
    },
    /// `nonce || ciphertext + tag`, written before keys could rotate.
    Legacy,
}

pub(crate) fn parse(sealed: &[u8]) -> Parsed<'_> {
    if sealed.len() < HEADER_LEN + NONCE_LEN
        || &sealed[..MAGIC.len()] != MAGIC
        || sealed[MAGIC.len()] != VERSION
    {
        return Parsed::Legacy;
    }
    let (header, rest) = sealed.split_at(HEADER_LEN);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let fingerprint = Fingerprint(
        header[MAGIC.len() + 1..]
            .try_into()
            .expect("the header ends with a fingerprint"),
    );
    Parsed::Named {
        fingerprint,
        header,
        nonce,
        body,
    }
}

/// `true` when `sealed` is in the legacy format (it names no key).
pub(crate) fn is_legacy(sealed: &[u8]) -> bool {
    matches!(parse(sealed), Parsed::Legacy)
}

/// A 256-bit key. `Debug` shows nothing of it; the bytes and the cipher's round keys are
/// overwritten with zeros when it is dropped (see the `aes` and `ghash` features in Cargo.toml).
#[derive(Clone)]
pub(crate) struct Key {
    bytes: zeroize::Zeroizing<[u8; 32]>,
    fingerprint: Fingerprint,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(***)")
    }
}

impl Key {
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Key {
        let digest = Sha256::new()
            .chain_update(FINGERPRINT_DOMAIN)
            .chain_update(bytes)
            .finalize();
        Key {
            bytes: zeroize::Zeroizing::new(*bytes),
            fingerprint: Fingerprint(digest[..FINGERPRINT_LEN].try_into().expect("8 bytes")),
            cipher: Aes256Gcm::new_from_slice(bytes).expect("a 256-bit key"),
        }
    }

    pub(crate) fn generate() -> Key {
        let generated = Aes256Gcm::generate_key(OsRng);
        Key::from_bytes(generated.as_slice().try_into().expect("32 bytes"))
    }

    pub(crate) fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The key file's content: 64 hexadecimal characters and a newline.
    fn file_text(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(format!("{}\n", hex::encode(*self.bytes)))
    }

    /// Reads a key file. `Ok(None)` when it does not exist.
    pub(crate) fn read_file(path: &Path) -> Result<Option<Key>, SecretError> {
        // Every copy of the key read here is wiped when it goes out of scope.
        let text = match std::fs::read_to_string(path) {
            Ok(text) => zeroize::Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(SecretError::Read {
                    path: path.to_owned(),
                    error,
                })
            }
        };
        let malformed = || SecretError::Malformed {
            path: path.to_owned(),
        };
        let decoded = zeroize::Zeroizing::new(hex::decode(text.trim()).map_err(|_| malformed())?);
        let bytes: zeroize::Zeroizing<[u8; 32]> =
            zeroize::Zeroizing::new(decoded.as_slice().try_into().map_err(|_| malformed())?);
        Ok(Some(Key::from_bytes(&bytes)))
    }

    /// Writes this key into `path`, which must not exist, readable by the owner only, on disk
    /// before this returns.
    pub(crate) fn write_new_file(&self, path: &Path) -> std::io::Result<()> {
        write_new_private_file(path, self.file_text().as_bytes())
    }

    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let header = self.fingerprint.header();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let full_aad = [&header[..], aad].concat();
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &full_aad,
                },
            )
            .expect("AES-GCM encryption of a short message cannot fail");
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value in the current format with this key (whatever key it names).
    pub(crate) fn open_named(
        &self,
        header: &[u8],
        nonce: &[u8],
        body: &[u8],
        aad: &[u8],
    ) -> Option<Vec<u8>> {
        let full_aad = [header, aad].concat();
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &full_aad,
                },
            )
            .ok()
    }

    /// Opens `sealed` as a legacy value, `nonce || ciphertext + tag`.
    pub(crate) fn open_legacy(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
            .ok()
    }

    /// Opens `sealed` if this key sealed it, in either format.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if let Parsed::Named {
            fingerprint,
            header,
            nonce,
            body,
        } = parse(sealed)
        {
            if fingerprint == self.fingerprint {
                if let Some(plain) = self.open_named(header, nonce, body, aad) {
                    return Some(plain);
                }
            }
        }
        // A legacy nonce can start like a header, however unlikely.
        self.open_legacy(sealed, aad)
    }

    pub(crate) fn key_check(&self) -> Vec<u8> {
        self.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
    }

    pub(crate) fn matches_key_check(&self, sealed: &[u8]) -> bool {
        self.open(sealed, KEY_CHECK_AAD)
            .is_some_and(|plain| plain == KEY_CHECK_PLAINTEXT)
    }
}

/// Creates `path` (never over an existing file) with mode 0600 and `content`, synced to disk.
pub(crate) fn write_new_private_file(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_names_its_key_and_binds_its_header() {
        let key = Key::from_bytes(&[3; 32]);
        let sealed = key.seal(b"pw", b"D1");
        assert!(sealed.starts_with(&key.fingerprint().header()));
        assert!(!is_legacy(&sealed));
        assert_eq!(key.open(&sealed, b"D1").unwrap(), b"pw");
        assert!(key.open(&sealed, b"D2").is_none());
        // Stripping the header does not make it a legacy value that opens.
        assert!(key.open(&sealed[HEADER_LEN..], b"D1").is_none());
        let other = Key::from_bytes(&[4; 32]);
        assert_ne!(other.fingerprint(), key.fingerprint());
        assert!(other.open(&sealed, b"D1").is_none());
    }

    #[test]
    fn a_legacy_value_still_opens() {
        let key = Key::from_bytes(&[5; 32]);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let body = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: b"old",
                    aad: b"D9",
                },
            )
            .unwrap();
        let legacy = [nonce.as_slice(), &body].concat();
        assert!(is_legacy(&legacy));
        assert_eq!(key.open(&legacy, b"D9").unwrap(), b"old");
    }

    #[test]
    fn key_debug_shows_nothing() {
        assert_eq!(format!("{:?}", Key::from_bytes(&[0xcd; 32])), "Key(***)");
    }
}
