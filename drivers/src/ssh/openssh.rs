//! OpenSSH's private-key format, read so that every key `ssh-keygen` writes is read.
//!
//! ssh-key (under russh) refuses an ECDSA private scalar written in fewer than 32 bytes, but
//! OpenSSH writes the scalar as an `mpint`, without its leading zero bytes: one P-256 key in
//! 256 has a scalar below 2^248 and is written in 31 bytes (PROTOCOL.key, RFC 4251 §5). Here
//! the private section is read (decrypted when it is encrypted), its scalar padded to the
//! curve's size, and the key handed to ssh-key as an unencrypted file.

use russh::keys::ssh_key::Cipher;
use russh::keys::PrivateKey;
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"openssh-key-v1\0";

/// Why a file cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadError {
    Unreadable,
    /// Encrypted, and no passphrase was given.
    Encrypted,
    WrongPassphrase,
}

/// The ECDSA key of the OpenSSH file `bytes` (the armour's decoded body), decrypted with
/// `passphrase` if it is encrypted; `None` for a file that holds another kind of key (which
/// ssh-key reads as it is). The key derivation's cost must have been checked.
pub(super) fn read_ecdsa(
    bytes: &[u8],
    passphrase: Option<&str>,
) -> Option<Result<PrivateKey, ReadError>> {
    let file = File::parse(bytes)?;
    let size = scalar_size(take_string(&mut &file.public[..])?)?;
    Some(read(&file, bytes, size, passphrase))
}

fn read(
    file: &File<'_>,
    bytes: &[u8],
    size: usize,
    passphrase: Option<&str>,
) -> Result<PrivateKey, ReadError> {
    // What does not read after decryption was decrypted with the wrong passphrase.
    let garbled = match file.cipher {
        b"none" => ReadError::Unreadable,
        _ => ReadError::WrongPassphrase,
    };
    let section = match file.cipher {
        b"none" => Zeroizing::new(file.section.to_vec()),
        _ => {
            let passphrase = passphrase.ok_or(ReadError::Encrypted)?;
            let key = PrivateKey::from_bytes(bytes).map_err(|_| ReadError::Unreadable)?;
            if key.cipher().has_tag() {
                // Authenticated ciphers carry a tag ssh-key checks itself.
                return key
                    .decrypt(passphrase)
                    .map_err(|_| ReadError::WrongPassphrase);
            }
            decrypt(&key, file.section, passphrase)?
        }
    };
    let section = padded_scalar(&section, size).ok_or(garbled)?;
    let mut plain = Zeroizing::new(MAGIC.to_vec());
    for field in [&b"none"[..], b"none", b""] {
        put_string(&mut plain, field);
    }
    plain.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut plain, file.public);
    put_string(&mut plain, &section);
    PrivateKey::from_bytes(&plain).map_err(|_| garbled)
}

/// The private section of `key` decrypted with `passphrase`.
fn decrypt(
    key: &PrivateKey,
    section: &[u8],
    passphrase: &str,
) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let cipher: Cipher = key.cipher();
    let (secret, iv) = key
        .kdf()
        .derive_key_and_iv(cipher, passphrase)
        .map_err(|_| ReadError::Unreadable)?;
    let mut buffer = Zeroizing::new(section.to_vec());
    cipher
        .decrypt(&secret, &iv, &mut buffer, None)
        .map_err(|_| ReadError::WrongPassphrase)?;
    Ok(buffer)
}

/// The fields of an OpenSSH private-key file with one key.
struct File<'a> {
    cipher: &'a [u8],
    public: &'a [u8],
    section: &'a [u8],
}

impl<'a> File<'a> {
    fn parse(bytes: &'a [u8]) -> Option<File<'a>> {
        let mut rest = bytes.strip_prefix(MAGIC)?;
        let cipher = take_string(&mut rest)?;
        let _kdf = take_string(&mut rest)?;
        let _kdf_options = take_string(&mut rest)?;
        if take_u32(&mut rest)? != 1 {
            return None;
        }
        let public = take_string(&mut rest)?;
        let section = take_string(&mut rest)?;
        Some(File {
            cipher,
            public,
            section,
        })
    }
}

/// The size of the private scalar of an ECDSA `key_type`; `None` for other keys.
fn scalar_size(key_type: &[u8]) -> Option<usize> {
    match key_type {
        b"ecdsa-sha2-nistp256" => Some(32),
        b"ecdsa-sha2-nistp384" => Some(48),
        b"ecdsa-sha2-nistp521" => Some(66),
        _ => None,
    }
}

/// The decrypted private `section` of an ECDSA key with its scalar padded to `size` bytes
/// and the padding written again for an unencrypted file. `None` when the check integers
/// differ (a wrong passphrase) or the fields do not read.
fn padded_scalar(section: &[u8], size: usize) -> Option<Zeroizing<Vec<u8>>> {
    let (check, mut rest) = section.split_at_checked(8)?;
    if check[..4] != check[4..] {
        return None;
    }
    let mut out = Zeroizing::new(check.to_vec());
    put_string(&mut out, take_string(&mut rest)?); // key type
    put_string(&mut out, take_string(&mut rest)?); // curve
    put_string(&mut out, take_string(&mut rest)?); // public point
    let scalar = take_string(&mut rest)?;
    let digits = scalar.strip_prefix(&[0]).unwrap_or(scalar);
    if digits.len() > size {
        return None;
    }
    let mut padded = Zeroizing::new(vec![0u8; size - digits.len()]);
    padded.extend_from_slice(digits);
    put_string(&mut out, &padded);
    put_string(&mut out, take_string(&mut rest)?); // comment
    Some(repadded(out))
}

/// `section` padded to a multiple of 8 (the block size of an unencrypted file).
fn repadded(mut section: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    let mut next = 1u8;
    while !section.len().is_multiple_of(8) {
        section.push(next);
        next += 1;
    }
    section
}

fn take_u32(rest: &mut &[u8]) -> Option<u32> {
    let (head, tail) = rest.split_first_chunk::<4>()?;
    *rest = tail;
    Some(u32::from_be_bytes(*head))
}

pub(super) fn take_string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(take_u32(rest)?).ok()?;
    if len > rest.len() {
        return None;
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Some(head)
}

fn put_string(out: &mut Vec<u8>, field: &[u8]) {
    let len = u32::try_from(field.len()).expect("fields of a 32 KiB key");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
}
