//! The SSH private-key reader (`SshCredentials::facts`, which the API runs on every
//! `sshPrivateKey` it is sent) on arbitrary text and passphrases.
//!
//! Checked: no panic; an error's Display and Debug never contain the key text or the
//! passphrase (when they are long enough to be told apart from the message's own words).
#![no_main]

use arbitrary::Arbitrary;
use jackal_drivers::ssh::SshCredentials;
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Wrapped in a PEM or OpenSSH armour, or as it is.
    armour: u8,
    body: String,
    passphrase: Option<String>,
}

fuzz_target!(|input: Input| {
    let key = match input.armour % 4 {
        0 => format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            input.body
        ),
        1 => format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            input.body
        ),
        2 => format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n",
            input.body
        ),
        _ => input.body.clone(),
    };
    let credentials = SshCredentials {
        private_key: Some(Zeroizing::new(key)),
        passphrase: input.passphrase.clone().map(Zeroizing::new),
        password: None,
    };
    if let Err(e) = credentials.facts() {
        let shown = format!("{e} {e:?}");
        for secret in [Some(&input.body), input.passphrase.as_ref()].into_iter().flatten() {
            if secret.len() >= 12 {
                assert!(!shown.contains(secret.as_str()), "{shown}");
            }
        }
    }
    let passphrase = if input.passphrase.is_some() { "Some(\"***\")" } else { "None" };
    assert_eq!(
        format!("{credentials:?}"),
        format!(
            "SshCredentials {{ private_key: Some(\"***\"), passphrase: {passphrase}, password: None }}"
        )
    );
});
