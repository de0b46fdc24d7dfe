//! The TLS material reader (`TlsCredentials::decode`, which the API runs on every `sslCert`,
//! `sslKey`, `sslKeyPassword` and `sslRootCert` it is sent) on arbitrary text and passwords.
//!
//! Checked: no panic; an error's Display and Debug are one of the fixed messages (so no key
//! text or password can be in them); the credentials' Debug shows only which parts are set.
#![no_main]

use std::time::SystemTime;

use arbitrary::Arbitrary;
use jackal_drivers::key_cost::TooCostly;
use jackal_drivers::{TlsCredentialError, TlsCredentials};
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Which PEM armour the key body is wrapped in, or none.
    armour: u8,
    cert: Option<String>,
    key: Option<String>,
    password: Option<String>,
    root: Option<String>,
}

const LABELS: [&str; 4] = [
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
];

fn armoured(label: &str, body: &str) -> String {
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

fuzz_target!(|input: Input| {
    let key = input.key.as_deref().map(|body| match LABELS.get(usize::from(input.armour % 5)) {
        Some(label) => armoured(label, body),
        None => body.to_owned(),
    });
    let credentials = TlsCredentials {
        client_cert: input.cert.as_deref().map(|body| armoured("CERTIFICATE", body)),
        client_key: key.map(Zeroizing::new),
        key_password: input.password.clone().map(Zeroizing::new),
        root_cert: input.root.as_deref().map(|body| armoured("CERTIFICATE", body)),
    };
    let decoded = credentials.decode(SystemTime::now());
    // Decrypting (bounded) is the other reader the API runs on what it is sent.
    let decrypted = credentials.decrypted().map(drop);
    for e in [decoded.err(), decrypted.err()].into_iter().flatten() {
        let fixed = [
            TlsCredentialError::TooLarge("sslCert"),
            TlsCredentialError::TooLarge("sslKey"),
            TlsCredentialError::TooLarge("sslRootCert"),
            TlsCredentialError::CertWithoutKey,
            TlsCredentialError::KeyWithoutCert,
            TlsCredentialError::PasswordWithoutKey,
            TlsCredentialError::CertUnreadable,
            TlsCredentialError::KeyUnreadable,
            TlsCredentialError::LegacyEncryption,
            TlsCredentialError::UnsupportedEncryption,
            TlsCredentialError::PasswordMissing,
            TlsCredentialError::WrongPassword,
            TlsCredentialError::TooCostly(TooCostly::BcryptRounds),
            TlsCredentialError::TooCostly(TooCostly::Pbkdf2Iterations),
            TlsCredentialError::TooCostly(TooCostly::ScryptMemory),
            TlsCredentialError::TooCostly(TooCostly::ScryptLanes),
            TlsCredentialError::TooCostly(TooCostly::UnknownKdf),
            TlsCredentialError::PasswordForPlainKey,
            TlsCredentialError::Mismatch,
            TlsCredentialError::RootUnreadable,
        ]
        .map(|k| (k.to_string(), format!("{k:?}")));
        assert!(
            fixed.contains(&(e.to_string(), format!("{e:?}"))),
            "an error read differently: {e} / {e:?}"
        );
    }
    let shown = |set: bool, what: &str| {
        if set {
            format!("Some({what:?})")
        } else {
            "None".to_owned()
        }
    };
    assert_eq!(
        format!("{credentials:?}"),
        format!(
            "TlsCredentials {{ client_cert: {}, client_key: {}, key_password: {}, root_cert: {} }}",
            shown(input.cert.is_some(), "(PEM)"),
            shown(input.key.is_some(), "***"),
            shown(input.password.is_some(), "***"),
            shown(input.root.is_some(), "(PEM)"),
        )
    );
});
