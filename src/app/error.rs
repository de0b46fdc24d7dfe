//! Why a use case refused or failed, in terms of the domain; `crate::api::error` turns each
//! into the contract's status and code, once.

use crate::domain::Invalid;
use crate::store::{Constraint, Entity, StoreError, Unique};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Nothing is named `key` (as a path names it).
    #[error("no {0} has the key {1:?}")]
    NotFound(Entity, String),
    /// A value that must be unique is someone else's.
    #[error("the {field} {value:?} is already taken")]
    Taken { field: Unique, value: String },
    /// A person must be locked before being deleted.
    #[error("person {0:?} is not locked")]
    NotLocked(String),
    /// A value the caller sent cannot be accepted.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that cannot happen with a sound store and key (a stored configUri that does
    /// not parse, a password that does not decrypt); the text is for the log only.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    /// `err`, where it is the unique constraint on `field`, as `Taken` with `value`: another
    /// writer (another server) took it between our check and our write.
    pub(crate) fn taken_if(err: StoreError, field: Unique, value: &str) -> Self {
        let constraint = match field {
            Unique::Alias => Constraint::DataSourceAlias,
            Unique::Username => Constraint::PersonUsername,
            Unique::Email => Constraint::PersonEmail,
            Unique::RoleName => Constraint::RoleName,
        };
        match err {
            StoreError::Unique(c) if c == constraint => AppError::Taken {
                field,
                value: value.to_owned(),
            },
            other => AppError::Store(other),
        }
    }
}
