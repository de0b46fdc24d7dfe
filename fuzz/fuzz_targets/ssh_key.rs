//! The SSH private-key reader (`SshCredentials::facts`, which the API runs on every
//! `sshPrivateKey` it is sent) on arbitrary text and passphrases.
//!
//! Checked: no panic; an error's Display and Debug are one of the fixed messages (so neither
//! key text nor passphrase can be in them); the credentials' Debug shows only which are set.
#![no_main]

use arbitrary::Arbitrary;
use jackal_drivers::key_cost::TooCostly;
use jackal_drivers::ssh::{KeyError, SshCredentials};
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
    // The cheap check the request's worker runs, and the decoding (bounded) behind facts.
    let checked = credentials.check();
    for e in [checked.err(), credentials.facts().err()].into_iter().flatten() {
        // The errors carry no data, so no input can reach their text: each must read as one
        // of the fixed messages. (Looking for the input in the text instead finds inputs that
        // are words of the message itself.)
        let fixed = [
            KeyError::TooLarge,
            KeyError::Unreadable,
            KeyError::PassphraseMissing,
            KeyError::WrongPassphrase,
            KeyError::PassphraseWithoutKey,
            KeyError::LegacyEncryption,
            KeyError::TooCostly(TooCostly::BcryptRounds),
            KeyError::TooCostly(TooCostly::Pbkdf2Iterations),
            KeyError::TooCostly(TooCostly::ScryptMemory),
            KeyError::TooCostly(TooCostly::ScryptLanes),
            KeyError::TooCostly(TooCostly::UnknownKdf),
        ]
        .map(|k| (k.to_string(), format!("{k:?}")));
        assert!(
            fixed.contains(&(e.to_string(), format!("{e:?}"))),
            "an error read differently: {e} / {e:?}"
        );
    }
    let passphrase = if input.passphrase.is_some() {
        "Some(\"***\")"
    } else {
        "None"
    };
    assert_eq!(
        format!("{credentials:?}"),
        format!(
            "SshCredentials {{ private_key: Some(\"***\"), passphrase: {passphrase}, password: None }}"
        )
    );
});
