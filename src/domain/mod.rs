//! Validated values of the API. Knows nothing of HTTP or SQL.

pub mod audit;
pub mod client_tls;
pub mod config_uri;
pub mod data_source;
pub mod host;
pub mod ids;
pub mod permission;
pub mod person;
pub mod role;
pub mod ssh;
pub mod text;
pub mod time;

/// A value the caller sent that cannot be accepted; the message says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The argument at fault, as the API names it.
    pub argument: &'static str,
    pub message: String,
}

/// A secret argument the drivers refused: each of their errors names its argument.
macro_rules! invalid_from_argument_error {
    ($($error:ty),+) => {$(
        impl From<$error> for Invalid {
            fn from(e: $error) -> Self {
                Invalid::new(e.argument(), e.to_string())
            }
        }
    )+};
}
invalid_from_argument_error!(
    jackal_drivers::ssh::KeyError,
    jackal_drivers::TlsCredentialError,
    jackal_drivers::uri::UnlockError
);

impl Invalid {
    pub fn new(argument: &'static str, message: impl Into<String>) -> Self {
        Self {
            argument,
            message: message.into(),
        }
    }
}
