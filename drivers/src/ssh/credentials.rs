//! The SSH secrets of a data source: a private key (with its passphrase) or a password. They
//! travel beside the `configUri`, never inside it, and never print: `Debug` shows only which
//! ones are present.

use std::fmt;
use std::sync::Arc;

use pkcs8::EncryptedPrivateKeyInfoRef;
use russh::keys::ssh_encoding::base64::{Base64, Encoding};
use russh::keys::ssh_key::{Kdf, LineEnding};
use russh::keys::{self, HashAlg, PrivateKey};
use zeroize::Zeroizing;

use super::openssh;
use crate::key_cost::{self, TooCostly};

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
#[non_exhaustive]
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
    #[error(
        "sshPrivateKey is encrypted in OpenSSL's legacy PEM format (Proc-Type: 4,ENCRYPTED), \
         which Jackal reads only for RSA keys with AES-128-CBC: rewrite it in OpenSSH's format \
         with `ssh-keygen -p -f <key file>`"
    )]
    LegacyEncryption,
    #[error(
        "sshPrivateKey is encrypted with {0}: re-encrypt it with `ssh-keygen -p -a 100 -f \
         <key file>` (OpenSSH's format, 100 bcrypt rounds)"
    )]
    TooCostly(TooCostly),
}

impl KeyError {
    /// The API argument the error is about.
    pub fn argument(&self) -> &'static str {
        match self {
            KeyError::WrongPassphrase | KeyError::PassphraseWithoutKey => "sshKeyPassphrase",
            _ => "sshPrivateKey",
        }
    }
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

    /// Whether the key is encrypted (a passphrase came with it), as sent or as an older version
    /// stored it.
    pub fn is_locked(&self) -> bool {
        self.passphrase.is_some()
    }

    /// Checks what can be checked without decrypting: the key's size and form, a passphrase
    /// for an encrypted key, and the cost of its key derivation. Cheap: for the request's
    /// worker; [`Self::decrypted`] does the rest.
    pub fn check(&self) -> Result<(), KeyError> {
        match self.key_text()? {
            Some(text) => self.read(text, false).map(drop),
            None => Ok(()),
        }
    }

    /// The decoded private key, if one is set; the error says what to fix. An encrypted key's
    /// key derivation runs here, after its cost is checked: this blocks, so run it off the
    /// async workers.
    pub fn decode_key(&self) -> Result<Option<PrivateKey>, KeyError> {
        match self.key_text()? {
            Some(text) => self.read(text, true),
            None => Ok(None),
        }
    }

    /// The key of `text`. An encrypted one is decrypted only when `decrypt`; without, it is
    /// `None` once its cost and passphrase are checked.
    fn read(&self, text: &str, decrypt: bool) -> Result<Option<PrivateKey>, KeyError> {
        if let Some((OPENSSH_BEGIN, bytes)) = armoured(text) {
            if let Some(read) = openssh::read_ecdsa(&bytes, None) {
                return match read {
                    Ok(key) => Ok(Some(key)),
                    Err(openssh::ReadError::Encrypted) => self.decrypt_ecdsa(text, &bytes, decrypt),
                    Err(_) => Err(KeyError::Unreadable),
                };
            }
        }
        if unread_legacy_encryption(text) {
            return Err(KeyError::LegacyEncryption);
        }
        // A passphrase given for an unencrypted PKCS#8 or SEC1 key makes the decoder fail, so
        // the key is read without one first and with it only when it says it is encrypted.
        match keys::decode_secret_key(text, None) {
            Ok(key) => Ok(Some(key)),
            Err(keys::Error::KeyIsEncrypted) => self.decrypt(text, decrypt),
            Err(_) if looks_encrypted(text) => self.decrypt(text, decrypt),
            Err(_) => Err(KeyError::Unreadable),
        }
    }

    /// The same credentials with the key decrypted, as unencrypted OpenSSH text, and no
    /// passphrase. Blocks (see [`Self::decode_key`]): run it once, when the key arrives.
    pub fn decrypted(&self) -> Result<SshCredentials, KeyError> {
        if !self.is_locked() {
            self.check()?;
            return Ok(self.clone());
        }
        let key = self.decode_key()?.ok_or(KeyError::PassphraseWithoutKey)?;
        let text = key
            .to_openssh(LineEnding::LF)
            .map_err(|_| KeyError::Unreadable)?;
        Ok(SshCredentials {
            private_key: Some(text),
            passphrase: None,
            password: self.password.clone(),
        })
    }

    /// The key text, refused when it is too large or a form Jackal does not read; `None`
    /// when no key is set.
    fn key_text(&self) -> Result<Option<&str>, KeyError> {
        let Some(text) = &self.private_key else {
            return match self.passphrase {
                Some(_) => Err(KeyError::PassphraseWithoutKey),
                None => Ok(None),
            };
        };
        if text.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLarge);
        }
        // PuTTY's files name an Argon2 cost of any size; not a form Jackal documents.
        if text.trim_start().starts_with("PuTTY-User-Key-File-") {
            return Err(KeyError::Unreadable);
        }
        Ok(Some(text))
    }

    /// The passphrase of the encrypted `text`, once its key derivation's cost is known to be
    /// within [`key_cost`]'s bounds.
    fn passphrase_for(&self, text: &str) -> Result<&str, KeyError> {
        kdf_cost(text)?;
        self.passphrase
            .as_ref()
            .map(|p| p.as_str())
            .ok_or(KeyError::PassphraseMissing)
    }

    /// The encrypted ECDSA key of the OpenSSH file `bytes`, read by [`openssh`] (which reads
    /// every scalar OpenSSH writes).
    fn decrypt_ecdsa(
        &self,
        text: &str,
        bytes: &[u8],
        decrypt: bool,
    ) -> Result<Option<PrivateKey>, KeyError> {
        let passphrase = self.passphrase_for(text)?;
        if !decrypt {
            return Ok(None);
        }
        match openssh::read_ecdsa(bytes, Some(passphrase)) {
            Some(Ok(key)) => Ok(Some(key)),
            Some(Err(openssh::ReadError::Unreadable)) | None => Err(KeyError::Unreadable),
            Some(Err(_)) => Err(KeyError::WrongPassphrase),
        }
    }

    fn decrypt(&self, text: &str, decrypt: bool) -> Result<Option<PrivateKey>, KeyError> {
        let passphrase = self.passphrase_for(text)?;
        if !decrypt {
            return Ok(None);
        }
        keys::decode_secret_key(text, Some(passphrase))
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

    /// The key to log in with. The probe decrypted it before (off the async workers, under
    /// the test's deadline), so this only parses.
    pub(crate) fn key_for_auth(&self) -> Result<Option<Arc<PrivateKey>>, KeyError> {
        debug_assert!(
            !self.is_locked(),
            "the probe decrypts keys before the tunnel"
        );
        Ok(self.decode_key()?.map(Arc::new))
    }
}

/// PEM headers of encrypted keys the decoder reports as something else when no passphrase is
/// given (encrypted PKCS#8 reads as a DER error).
fn looks_encrypted(text: &str) -> bool {
    text.contains(ENCRYPTED_BEGIN) || text.contains("Proc-Type: 4,ENCRYPTED")
}

/// OpenSSL's legacy PEM encryption that russh does not read: it decrypts only RSA (PKCS#1)
/// keys, with AES-128-CBC, and would report any other as a wrong passphrase.
fn unread_legacy_encryption(text: &str) -> bool {
    text.contains("Proc-Type: 4,ENCRYPTED")
        && !(matches!(armoured(text), Some((RSA_BEGIN, _)))
            && text.contains("DEK-Info: AES-128-CBC,"))
}

const RSA_BEGIN: &str = "-----BEGIN RSA PRIVATE KEY-----";
const OPENSSH_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
/// The armour lines russh's reader knows; the last one seen before the body ends names the
/// form it decodes.
const BEGIN_LINES: [&str; 5] = [
    OPENSSH_BEGIN,
    RSA_BEGIN,
    ENCRYPTED_BEGIN,
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
];

/// Checks the key derivation an encrypted key names, read from its clear header, against
/// [`key_cost`]'s bounds: bcrypt rounds for OpenSSH's format, PBES2 for a PKCS#8 body (russh
/// decrypts one under any PKCS#8 label when given a passphrase). OpenSSL's legacy PEM
/// encryption derives its key with one MD5 pass: nothing to bound.
fn kdf_cost(text: &str) -> Result<(), KeyError> {
    let Some((begin, bytes)) = armoured(text) else {
        return Err(KeyError::Unreadable);
    };
    if begin == OPENSSH_BEGIN {
        let key = PrivateKey::from_bytes(&bytes).map_err(|_| KeyError::Unreadable)?;
        if let Kdf::Bcrypt { rounds, .. } = key.kdf() {
            key_cost::bcrypt(*rounds).map_err(KeyError::TooCostly)?;
        }
    } else if let Ok(info) = EncryptedPrivateKeyInfoRef::try_from(bytes.as_slice()) {
        key_cost::pbes2(&info.encryption_algorithm).map_err(KeyError::TooCostly)?;
    }
    Ok(())
}

/// The armour line and body bytes of `text`, read exactly as russh's reader reads them (the
/// base64 lines after a known BEGIN line, up to the first END line), so that the cost is read
/// from what will be decrypted.
fn armoured(text: &str) -> Option<(&'static str, Zeroizing<Vec<u8>>)> {
    let mut begin = None;
    let mut body = Zeroizing::new(String::new());
    for line in text.lines() {
        if begin.is_some() {
            if line.starts_with("-----END ") {
                break;
            }
            if line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            {
                body.push_str(line);
            }
        }
        if let Some(known) = BEGIN_LINES.iter().find(|known| **known == line) {
            begin = Some(*known);
        }
    }
    let bytes = Base64::decode_vec(&body).ok()?;
    Some((begin?, Zeroizing::new(bytes)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::key_cost::{MAX_BCRYPT_ROUNDS, MAX_PBKDF2_ITERATIONS};

    fn with(key: &str, passphrase: Option<&str>) -> SshCredentials {
        SshCredentials {
            private_key: Some(Zeroizing::new(key.to_owned())),
            passphrase: passphrase.map(|p| Zeroizing::new(p.to_owned())),
            password: None,
        }
    }

    /// A key `ssh-keygen` writes at `dir/name` with `args`; its text and public-key line.
    fn keygen(dir: &Path, name: &str, args: &[&str]) -> (String, String) {
        let path = dir.join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-C", "", "-f"])
            .arg(&path)
            .args(args)
            .output()
            .expect("ssh-keygen runs");
        assert!(out.status.success(), "{args:?}: {out:?}");
        let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        (text, public.trim().to_owned())
    }

    /// `text`, an OpenSSH key, with its kdfoptions' rounds replaced by `rounds`: the header is
    /// in clear, so no decryption is needed to write it, and none to read it.
    fn with_rounds(text: &str, rounds: u32) -> String {
        let (_, mut bytes) = armoured(text).unwrap();
        // "openssh-key-v1\0", then the cipher name, the KDF name, the KDF options (a string
        // holding the salt string, then the rounds).
        let mut at = b"openssh-key-v1\0".len();
        let string = |at: &mut usize| {
            let len = u32::from_be_bytes(bytes[*at..*at + 4].try_into().unwrap()) as usize;
            *at += 4 + len;
            len
        };
        string(&mut at);
        string(&mut at);
        at += 4; // the options' own length
        string(&mut at); // the salt
        bytes[at..at + 4].copy_from_slice(&rounds.to_be_bytes());
        let body = Base64::encode_string(&bytes);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(70)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "{OPENSSH_BEGIN}\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    fn fingerprint_of(credentials: &SshCredentials) -> String {
        credentials.facts().unwrap().public_key.unwrap()
    }

    #[test]
    fn bcrypt_rounds_at_the_bound_are_read_and_above_refused_without_deriving() {
        let dir = tempfile::tempdir().unwrap();
        let rounds = MAX_BCRYPT_ROUNDS.to_string();
        let (text, public) = keygen(
            dir.path(),
            "k",
            &["-t", "ed25519", "-N", "pw", "-a", &rounds],
        );
        let plain = with(&text, Some("pw")).decrypted().unwrap();
        assert_eq!(fingerprint_of(&plain), public);
        for rounds in [MAX_BCRYPT_ROUNDS + 1, u32::MAX] {
            let costly = with(&with_rounds(&text, rounds), Some("pw"));
            let started = Instant::now();
            for err in [
                costly.check().unwrap_err(),
                costly.decode_key().unwrap_err(),
                costly.decrypted().unwrap_err(),
                costly.facts().unwrap_err(),
            ] {
                assert_eq!(err, KeyError::TooCostly(TooCostly::BcryptRounds));
                assert_eq!(err.argument(), "sshPrivateKey");
                assert!(err.to_string().contains("128 bcrypt rounds"), "{err}");
            }
            // One round takes about 18 ms in a debug build, so the 129 asked for would take
            // over 2 s: a bound of 1 s shows they were not run, however busy the machine.
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?}",
                started.elapsed()
            );
        }
        // The rewriting itself keeps a key readable: back at the bound, it decrypts again.
        let same = with(&with_rounds(&text, MAX_BCRYPT_ROUNDS), Some("pw"));
        assert_eq!(fingerprint_of(&same.decrypted().unwrap()), public);
    }

    #[test]
    fn pbkdf2_iterations_of_a_pem_key_at_the_bound_are_read_and_above_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (text, public) = keygen(dir.path(), "k", &["-t", "ecdsa", "-m", "PKCS8", "-N", ""]);
        let at = MAX_PBKDF2_ITERATIONS.to_string();
        let fine = crate::test_keys::openssl_pkcs8(&text, &["-v2", "aes-256-cbc", "-iter", &at]);
        assert_eq!(
            fingerprint_of(&with(&fine, Some("pw")).decrypted().unwrap()),
            public
        );
        let above = (MAX_PBKDF2_ITERATIONS + 1).to_string();
        let costly =
            crate::test_keys::openssl_pkcs8(&text, &["-v2", "aes-256-cbc", "-iter", &above]);
        // The same body under a plain PKCS#8 label, which russh would decrypt all the same
        // when given a passphrase (the stray header makes the reader try).
        let relabelled =
            costly.replace("ENCRYPTED PRIVATE KEY", "PRIVATE KEY") + "Proc-Type: 4,ENCRYPTED\n";
        let started = Instant::now();
        assert_eq!(
            with(&costly, Some("pw")).decrypted().unwrap_err(),
            KeyError::TooCostly(TooCostly::Pbkdf2Iterations)
        );
        assert!(with(&relabelled, Some("pw")).decrypted().is_err());
        assert!(started.elapsed() < Duration::from_millis(15));
    }

    /// `count` keys `ssh-keygen` writes with `args` (type, format, passphrase), each read with
    /// `passphrase` (and decrypted when it has one) into the key its `.pub` file names.
    fn every_key_is_read(count: usize, args: &[&str], passphrase: Option<&str>) {
        let dir = tempfile::tempdir().unwrap();
        let failures = crate::test_keys::failures(count, |i| {
            let (text, public) = keygen(dir.path(), &format!("k{i}"), args);
            let read = with(&text, passphrase)
                .decrypted()
                .map(|c| fingerprint_of(&c));
            match read {
                Ok(found) if found == public => None,
                other => Some(format!("{other:?}: {text}")),
            }
        });
        assert!(
            failures.is_empty(),
            "{} of {count} {args:?} refused, first: {}",
            failures.len(),
            failures[0]
        );
    }

    #[test]
    fn every_openssh_key_ssh_keygen_writes_is_read() {
        for kind in [
            &["-t", "ed25519"][..],
            &["-t", "ecdsa", "-b", "256"],
            &["-t", "ecdsa", "-b", "384"],
            &["-t", "ecdsa", "-b", "521"],
        ] {
            every_key_is_read(100, &[kind, &["-N", ""]].concat(), None);
        }
        every_key_is_read(30, &["-t", "rsa", "-b", "2048", "-N", ""], None);
    }

    #[test]
    fn every_pem_key_ssh_keygen_writes_is_read() {
        // -m PEM: SEC1 for ECDSA, PKCS#1 for RSA; -m PKCS8: PKCS#8.
        for format in ["PEM", "PKCS8"] {
            every_key_is_read(300, &["-t", "ecdsa", "-m", format, "-N", ""], None);
            every_key_is_read(
                30,
                &["-t", "rsa", "-b", "2048", "-m", format, "-N", ""],
                None,
            );
        }
        let ed25519 = |_: usize| {
            let pem = crate::test_keys::run("openssl", &["genpkey", "-algorithm", "ed25519"], "");
            with(&pem, None)
                .decrypted()
                .err()
                .map(|e| format!("{e}: {pem}"))
        };
        assert_eq!(
            crate::test_keys::failures(300, ed25519),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_encrypted_key_ssh_keygen_writes_is_read() {
        // One bcrypt round keeps hundreds of keys quick; the rounds are read, not the key.
        let pw = "secret-pw";
        every_key_is_read(200, &["-t", "ecdsa", "-N", pw, "-a", "1"], Some(pw));
        every_key_is_read(200, &["-t", "ed25519", "-N", pw, "-a", "1"], Some(pw));
        // Encrypted PKCS#8 (PBES2, as OpenSSL writes it for ssh-keygen) and OpenSSL's legacy
        // encrypted PEM.
        every_key_is_read(200, &["-t", "ecdsa", "-m", "PKCS8", "-N", pw], Some(pw));
        // OpenSSL's legacy encrypted PEM: read for RSA (all russh reads), refused with the
        // command that converts it for others.
        every_key_is_read(
            20,
            &["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", pw],
            Some(pw),
        );
        let dir = tempfile::tempdir().unwrap();
        let (legacy, _) = keygen(dir.path(), "l", &["-t", "ecdsa", "-m", "PEM", "-N", pw]);
        let err = with(&legacy, Some(pw)).check().unwrap_err();
        assert_eq!(err, KeyError::LegacyEncryption);
        assert!(err.to_string().contains("ssh-keygen -p"));
    }

    /// The length of the private scalar of an unencrypted OpenSSH ECDSA key.
    fn scalar_len(text: &str) -> usize {
        let (_, bytes) = armoured(text).unwrap();
        let mut rest = &bytes[b"openssh-key-v1\0".len()..];
        let take = |rest: &mut &[u8]| openssh::take_string(rest).unwrap().len();
        for _ in 0..3 {
            take(&mut rest); // cipher, KDF, KDF options
        }
        rest = &rest[4..]; // one key
        take(&mut rest); // the public key
        let mut section = openssh::take_string(&mut rest).unwrap();
        section = &section[8..];
        for _ in 0..3 {
            take(&mut section); // key type, curve, point
        }
        take(&mut section)
    }

    /// One P-256 key in 256 has a scalar below 2^248, which OpenSSH writes in 31 bytes (an
    /// mpint has no leading zeros); ssh-key alone refuses it as unreadable.
    #[test]
    fn an_ecdsa_key_whose_scalar_opens_with_a_zero_byte_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (text, public) = (0..4000)
            .map(|i| keygen(dir.path(), &format!("k{i}"), &["-t", "ecdsa", "-N", ""]))
            .find(|(text, _)| scalar_len(text) < 32)
            .expect("one key in 256 has a short scalar");
        assert!(
            keys::decode_secret_key(&text, None).is_err(),
            "ssh-key reads it now"
        );
        let plain = with(&text, None);
        plain.check().unwrap();
        assert_eq!(fingerprint_of(&plain), public);
        // Encrypted by ssh-keygen (aes256-ctr): decrypted, and stored in a form read again.
        let path = dir.path().join("short");
        std::fs::write(&path, &text).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let out = Command::new("ssh-keygen")
            .args(["-q", "-p", "-P", "", "-N", "secret-pw", "-a", "2", "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let encrypted = std::fs::read_to_string(&path).unwrap();
        let opened = with(&encrypted, Some("secret-pw")).decrypted().unwrap();
        assert_eq!(fingerprint_of(&opened), public);
        assert_eq!(
            with(&encrypted, Some("wrong-pw")).decrypted().unwrap_err(),
            KeyError::WrongPassphrase
        );
    }

    #[test]
    fn putty_keys_are_not_read() {
        let ppk = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: aes256-cbc\nKey-Derivation: \
                   Argon2id\nArgon2-Memory: 4194304\nArgon2-Passes: 1000\n";
        assert_eq!(
            with(ppk, Some("pw")).check().unwrap_err(),
            KeyError::Unreadable
        );
        assert_eq!(
            with(ppk, Some("pw")).decode_key().unwrap_err(),
            KeyError::Unreadable
        );
    }

    #[test]
    fn a_plain_key_stays_as_it_is_and_a_decrypted_one_needs_no_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, public) = keygen(dir.path(), "p", &["-t", "ed25519", "-N", ""]);
        let same = with(&plain, None).decrypted().unwrap();
        assert_eq!(same, with(&plain, None));
        let (locked, public2) = keygen(dir.path(), "l", &["-t", "ed25519", "-N", "pw", "-a", "2"]);
        let opened = with(&locked, Some("pw")).decrypted().unwrap();
        assert!(opened.passphrase.is_none() && !opened.is_locked());
        assert!(opened
            .private_key
            .as_deref()
            .unwrap()
            .starts_with(OPENSSH_BEGIN));
        // Readable without a passphrase, the same key.
        assert!(keys::decode_secret_key(opened.private_key.as_deref().unwrap(), None).is_ok());
        assert_eq!(fingerprint_of(&opened), public2);
        assert_ne!(public, public2);
        assert_eq!(
            with(&locked, Some("wrong")).decrypted().unwrap_err(),
            KeyError::WrongPassphrase
        );
        assert_eq!(
            with(&locked, None).check().unwrap_err(),
            KeyError::PassphraseMissing
        );
    }
}
