//! Persistence. SQLite through rusqlite: one writer connection and a few readers, WAL,
//! `synchronous=FULL` so a commit is on disk before its response is sent, and every call on a
//! blocking thread so the async workers never wait on the disk.

mod migrations;
mod sqlite;

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
    #[error("the alias {0:?} is already used by another data source")]
    AliasTaken(String),
    #[error("store query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store task failed: {0}")]
    Task(String),
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
