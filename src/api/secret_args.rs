//! The secret arguments sent beside `configUri`, written once for every body that takes them:
//! the SSH secrets (`sshPrivateKey`, `sshKeyPassphrase`, `sshPassword`) and the TLS material
//! (`sslCert`, `sslKey`, `sslKeyPassword`, `sslRootCert`). `with_secret_args!` appends them to a
//! body struct, so they are parsed, refused when unknown and documented exactly like the
//! struct's own fields (which `#[serde(flatten)]` would not give: the accepted-argument list is
//! read from the fields).

/// Appends the SSH and TLS secret fields to the body struct it wraps.
macro_rules! with_secret_args {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($body:tt)*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($body)*
            /// An extension, for a configUri with `sshHost`: the private key (OpenSSH or PEM
            /// text) that logs in to the bastion and jump hosts. Encrypted when stored; never
            /// returned, logged or recorded.
            #[schema(format = Password, write_only)]
            ssh_private_key: Option<String>,
            /// An extension: the passphrase of an encrypted `sshPrivateKey`. Never returned.
            #[schema(format = Password, write_only)]
            ssh_key_passphrase: Option<String>,
            /// An extension, for a configUri with `sshHost`: the password that logs in to the
            /// bastion and jump hosts, when no key is sent. Encrypted when stored; never
            /// returned.
            #[schema(format = Password, write_only)]
            ssh_password: Option<String>,
            /// An extension, for mutual TLS (`ssl=true`): the client certificate, PEM text,
            /// followed by any intermediates. Sent with `sslKey`. Stored encrypted with the key;
            /// a data source shows its subject, issuer, fingerprint and expiry.
            #[schema(write_only, example = "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----")]
            ssl_cert: Option<String>,
            /// An extension: the private key of `sslCert`, PEM text: PKCS#8, PKCS#1 (RSA), SEC1
            /// (EC), or encrypted PKCS#8 with `sslKeyPassword`. Encrypted when stored; never
            /// returned, logged or recorded.
            #[schema(format = Password, write_only)]
            ssl_key: Option<String>,
            /// An extension: the password of an encrypted `sslKey`. Never returned.
            #[schema(format = Password, write_only)]
            ssl_key_password: Option<String>,
            /// An extension: the CA certificates `validateSsl=true` trusts, as PEM text (instead
            /// of a file named by configUri's `sslRootCert`). A data source shows their
            /// subjects and expiry.
            #[schema(write_only)]
            ssl_root_cert: Option<String>,
        }

    };
}

pub(crate) use with_secret_args;
