//! The most work an encrypted private key may ask of Jackal, for SSH keys (`sshPrivateKey`) and
//! TLS keys (`sslKey`) alike.
//!
//! An encrypted key names its own key-derivation cost (bcrypt rounds, PBKDF2 iterations, scrypt
//! memory and lanes), and every decryption pays it: unbounded, one key sent to the API could
//! hold a CPU for hours or allocate gigabytes. So each cost is read from the key, which keeps
//! it in clear, before anything is decrypted, and refused above these bounds. The bounds sit
//! well above what the tools write by default, so real keys pass.

use pkcs8::pkcs5::pbes2::Kdf;
use pkcs8::pkcs5::EncryptionScheme;

/// The most bcrypt rounds of an OpenSSH key (`ssh-keygen -a`). OpenSSH writes 16 and `-a 100`
/// is the common hardening advice. One round costs about 6.6 ms of one core (`ssh-keygen -a
/// 1000` took 6.7 s on the 2-core build machine; ssh-key's own, unoptimized in a debug build,
/// 18 ms), so the bound holds one decryption under a second, and the 2^32 − 1 rounds a key can
/// name (about a year) are refused.
pub const MAX_BCRYPT_ROUNDS: u32 = 128;

/// The most PBKDF2 iterations of an encrypted PKCS#8 key: OpenSSL writes 2,048, and
/// `openssl pkcs8 -iter` users rarely go past tens of thousands.
pub const MAX_PBKDF2_ITERATIONS: u32 = 100_000;

/// The most memory scrypt may take (128 · N · r bytes): OpenSSL's default (N = 2^14, r = 8)
/// takes 16 MiB, and OpenSSL itself refuses more than 32 MiB unless told otherwise.
pub const MAX_SCRYPT_BYTES: u64 = 32 * 1024 * 1024;

/// The most scrypt lanes (p), each a full pass over that memory: OpenSSL writes 1.
pub const MAX_SCRYPT_LANES: u32 = 1;

/// Which bound a key's key derivation is above. The text names the bound, never the key's
/// own figure (it would be input in an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TooCostly {
    #[error("more than {MAX_BCRYPT_ROUNDS} bcrypt rounds, the most Jackal accepts")]
    BcryptRounds,
    #[error("more than {MAX_PBKDF2_ITERATIONS} PBKDF2 iterations, the most Jackal accepts")]
    Pbkdf2Iterations,
    #[error("scrypt taking more than 32 MiB (128·N·r bytes), the most Jackal accepts")]
    ScryptMemory,
    #[error("scrypt with more than {MAX_SCRYPT_LANES} lane (p), the most Jackal accepts")]
    ScryptLanes,
    #[error("a key derivation other than PBKDF2 or scrypt, whose cost Jackal cannot bound")]
    UnknownKdf,
}

/// Whether an OpenSSH key's `rounds` of bcrypt-pbkdf are affordable.
pub fn bcrypt(rounds: u32) -> Result<(), TooCostly> {
    if rounds > MAX_BCRYPT_ROUNDS {
        return Err(TooCostly::BcryptRounds);
    }
    Ok(())
}

/// Whether decrypting with the PBES2 `scheme` of an encrypted PKCS#8 key is affordable.
/// Schemes other than PBES2 (PBES1's DES and RC2) are not compiled in: they fail when tried,
/// at no cost.
pub fn pbes2(scheme: &EncryptionScheme) -> Result<(), TooCostly> {
    let Some(pbes2) = scheme.pbes2() else {
        return Ok(());
    };
    match &pbes2.kdf {
        Kdf::Pbkdf2(params) if params.iteration_count > MAX_PBKDF2_ITERATIONS => {
            Err(TooCostly::Pbkdf2Iterations)
        }
        Kdf::Pbkdf2(_) => Ok(()),
        Kdf::Scrypt(params) => {
            let bytes = 128u64
                .saturating_mul(params.cost_parameter)
                .saturating_mul(u64::from(params.block_size));
            if bytes > MAX_SCRYPT_BYTES {
                Err(TooCostly::ScryptMemory)
            } else if u32::from(params.parallelization) > MAX_SCRYPT_LANES {
                Err(TooCostly::ScryptLanes)
            } else {
                Ok(())
            }
        }
        _ => Err(TooCostly::UnknownKdf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::pkcs5::{pbes2, scrypt};

    fn pbkdf2(iterations: u32) -> EncryptionScheme {
        pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(iterations, &[7; 16], [0; 16])
            .unwrap()
            .into()
    }

    fn scrypt(log_n: u8, r: u32, p: u32) -> EncryptionScheme {
        let params = scrypt::Params::new(log_n, r, p).unwrap();
        pbes2::Parameters::generate_scrypt_aes256cbc(params, &[7; 16], [0; 16])
            .unwrap()
            .into()
    }

    #[test]
    fn each_bound_is_accepted_and_one_above_is_refused() {
        assert_eq!(bcrypt(MAX_BCRYPT_ROUNDS), Ok(()));
        assert_eq!(bcrypt(MAX_BCRYPT_ROUNDS + 1), Err(TooCostly::BcryptRounds));
        assert_eq!(bcrypt(u32::MAX), Err(TooCostly::BcryptRounds));
        assert_eq!(pbes2(&pbkdf2(MAX_PBKDF2_ITERATIONS)), Ok(()));
        assert_eq!(
            pbes2(&pbkdf2(MAX_PBKDF2_ITERATIONS + 1)),
            Err(TooCostly::Pbkdf2Iterations)
        );
        // 128 · 2^15 · 8 bytes = 32 MiB; one step of N or r more is 64 MiB or 36 MiB.
        assert_eq!(pbes2(&scrypt(15, 8, 1)), Ok(()));
        assert_eq!(pbes2(&scrypt(16, 8, 1)), Err(TooCostly::ScryptMemory));
        assert_eq!(pbes2(&scrypt(15, 9, 1)), Err(TooCostly::ScryptMemory));
        assert_eq!(pbes2(&scrypt(14, 8, 2)), Err(TooCostly::ScryptLanes));
    }

    #[test]
    fn the_refusal_names_the_bound() {
        assert!(TooCostly::BcryptRounds
            .to_string()
            .contains("128 bcrypt rounds"));
        assert!(TooCostly::Pbkdf2Iterations
            .to_string()
            .contains("100000 PBKDF2 iterations"));
    }
}
