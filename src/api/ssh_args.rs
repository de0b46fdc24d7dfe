//! The SSH secret arguments (`sshPrivateKey`, `sshKeyPassphrase`, `sshPassword`), written once
//! for every body that takes them: `with_ssh_secrets!` appends them to a body struct, so they
//! are parsed, refused when unknown and documented exactly like the struct's own fields (which
//! `#[serde(flatten)]` would not give: the accepted-argument list is read from the fields).

/// Appends the three SSH secret fields to the body struct it wraps.
macro_rules! with_ssh_secrets {
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
        }

    };
}

pub(crate) use with_ssh_secrets;
