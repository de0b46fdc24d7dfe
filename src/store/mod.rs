//! Persistence. SQLite through rusqlite: one writer connection and a few readers, WAL,
//! `synchronous=FULL` so a commit is on disk before its response is sent, and every call on a
//! blocking thread so the async workers never wait on the disk.

mod audit;
mod migrations;
mod people;
mod permissions;
mod roles;
pub mod secrets;
mod sqlite;

pub use audit::{AuditContext, AuditEvent, AuditFilter, AuditRow};
pub use permissions::PermissionScope;
pub use roles::Member;
pub use sqlite::Store;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is not a Jackal store (it is not an SQLite database, or it holds other tables): point JACKAL_STORE at a Jackal store or at a new file")]
    NotAStore { path: PathBuf },
    #[error("the store {path} was written by a newer Jackal (schema version {found}; this build knows up to {known}): run a newer Jackal, or point JACKAL_STORE at another file. The store was left untouched")]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{field} {value:?} is already taken")]
    Taken { field: Unique, value: String },
    #[error("no {0} is named {1:?}")]
    NotFound(Entity, String),
    #[error("person {0:?} is not locked")]
    NotLocked(String),
    #[error("store query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store task failed: {0}")]
    Task(String),
}

/// A value that must be unique among its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    Alias,
    Username,
    Email,
    RoleName,
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unique::Alias => "alias",
            Unique::Username => "username",
            Unique::Email => "email",
            Unique::RoleName => "role name",
        })
    }
}

/// A slice of a list, oldest first (`?limit=&offset=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// At most this many; `None` is all.
    pub limit: Option<u64>,
    pub offset: u64,
}

impl Page {
    pub const ALL: Page = Page {
        limit: None,
        offset: 0,
    };

    /// The values for `LIMIT ? OFFSET ?`: SQLite reads a negative LIMIT as no limit.
    pub(crate) fn sql(self) -> (i64, i64) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        (self.limit.map_or(-1, clamp), clamp(self.offset))
    }
}

/// The kinds of object a path can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    DataSource,
    Person,
    Role,
    Permission,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::DataSource => "data source",
            Entity::Person => "person",
            Entity::Role => "role",
            Entity::Permission => "permission",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub username: String,
    pub is_locked: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// When listed as a role containing a data source: when it was added.
    pub assigned_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionRow {
    pub id: i64,
    pub person_id: String,
    pub data_source_id: String,
    pub starts_at: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

/// A data source as stored. `config_uri` never holds the password; `password_enc` is the
/// sealed password (see `crate::secrets`), bound to `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceRow {
    pub id: String,
    pub name: String,
    pub alias: Option<String>,
    pub kind: String,
    pub config_uri: String,
    pub password_enc: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub secret_sha256: Vec<u8>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}
