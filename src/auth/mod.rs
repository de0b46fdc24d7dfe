//! Who is calling: the API key a request authenticated with ([`Caller`]), put there by the
//! gate. The keys themselves (creation, checks, revocation) are a use case:
//! [`crate::app::api_keys`], re-exported here for the command line and the tests.

mod caller;

pub use caller::Caller;

pub use crate::app::api_keys::{
    bootstrap, create, credentials_from_env, hash_secret, list, revoke, Bootstrap, KeyCache,
    KeyCredentials, KeyError, MIN_SUPPLIED_SECRET_LEN, SECRET_LEN,
};
