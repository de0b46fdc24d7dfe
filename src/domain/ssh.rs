//! The SSH secrets an API caller sends beside `configUri` (`sshPrivateKey`,
//! `sshKeyPassphrase`, `sshPassword`): checked when they arrive, so an unreadable or
//! wrongly-protected key is a 400 then, not a failed test later.

use jackal_drivers::ssh::SshCredentials;
use zeroize::Zeroizing;

use super::Invalid;

/// The credentials the three arguments make; empty ones count as absent.
pub fn credentials(
    private_key: Option<String>,
    passphrase: Option<String>,
    password: Option<String>,
) -> Result<SshCredentials, Invalid> {
    let secret = |value: Option<String>| value.filter(|v| !v.is_empty()).map(Zeroizing::new);
    let credentials = SshCredentials {
        private_key: secret(private_key),
        passphrase: secret(passphrase),
        password: secret(password),
    };
    // Cheap checks only: an encrypted key is decrypted later, off the request's worker
    // (crate::app::keys), once its key derivation's cost is known to be bounded.
    credentials.check().map_err(Invalid::from)?;
    Ok(credentials)
}

/// Whether a spec needs no SSH secrets to be refused: none sent without a tunnel to use them.
pub fn check_sent_for_a_tunnel(
    credentials: &SshCredentials,
    has_tunnel: bool,
) -> Result<(), Invalid> {
    if !credentials.is_empty() && !has_tunnel {
        return Err(Invalid::new(
            "sshPrivateKey",
            "SSH credentials were sent, but configUri names no SSH bastion: add sshHost and \
             sshUser to configUri, or leave out sshPrivateKey, sshKeyPassphrase and sshPassword",
        ));
    }
    Ok(())
}
