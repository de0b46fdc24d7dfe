//! SSH tunnels: reaching a database behind a bastion, and jump hosts in front of it.
//!
//! The route is part of `configUri` ([`SshRoute`], options `sshHost`, `sshPort`, `sshUser`,
//! `sshHostKey`, `sshJump`); the secrets travel beside it ([`SshCredentials`]). Host keys are
//! always verified against a pin: there is no trust on first use.

mod credentials;
mod openssh;
mod route;
pub(crate) mod tunnel;

pub use credentials::{CredentialFacts, KeyError, SshCredentials, MAX_KEY_BYTES};
pub(crate) use route::{parse_jump, parse_port, parse_user, render_jump};
pub use route::{Hop, HostKeyPin, SshRoute, DEFAULT_PORT, MAX_JUMPS};
pub use tunnel::client_config;
