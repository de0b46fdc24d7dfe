//! Persistence, behind one interface with two backends: an SQLite file (the default, one
//! server) and a PostgreSQL database (several servers sharing one store).
//!
//! The interface is small: run some work in one write transaction ([`Store::write`]), or on a
//! read connection ([`Store::read`]). The work gets a [`Tx`], whose row operations
//! (`rows.rs`) are SQL written once for both backends. Every rule (validation, which checks
//! come first, the audit events) lives in `crate::app`, above this; a backend holds only its
//! connections, its dialect and its error mapping.

mod alert_rows;
mod change_watch;
pub mod migrations;
mod model;
mod postgres;
mod rows;
mod sqlite;
pub mod tx;

pub use alert_rows::{AlertStateRow, ClaimedEvent, DeliveryAttempt, IncidentRow, OutboxRow};
pub use change_watch::{ChangeWatch, Watched};
pub use model::{
    ApiKeyRow, AuditContext, AuditEvent, AuditFilter, AuditRow, DataSourceRow, Entity, FailureRun,
    KeyMeta, Member, Page, PendingRotation, PermissionRow, PersonRow, RecentTest, RoleRow,
    SchemaSnapshotRow, SealedColumn, SealedCounts, TestHistoryRow, TestOutcome, TestReportRow,
    UiSessionRow, Unique,
};
pub use postgres::PgStore;
pub use rows::{email_key, Lock};
pub use sqlite::{rotation_lock_path, SqliteStore};
pub use tx::{Constraint, Durability, Tx};

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use crate::config::StoreSettings;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot open the PostgreSQL store {location}: {message}")]
    OpenPostgres { location: String, message: String },
    #[error("{path} is not a Jackal store (it is not an SQLite database, or it holds other tables): point JACKAL_STORE at a Jackal store or at a new file")]
    NotAStore { path: PathBuf },
    #[error("the store {path} was written by a newer Jackal (schema version {found}; this build knows up to {known}): run a newer Jackal, or point JACKAL_STORE at another file. The store was left untouched")]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// A unique constraint refused a write (another server may have won a race).
    #[error("a unique constraint refused the write ({0:?})")]
    Unique(Constraint),
    #[error("store query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store query failed: {}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("a store row could not be read: {0}")]
    Decode(String),
    #[error("no store connection: {0}")]
    Pool(String),
    #[error("store task failed: {0}")]
    Task(String),
}

/// Work for [`Store::write`] or [`Store::read`]: given the transaction, the future that does
/// it. Written `|tx| Box::pin(async move { … })`.
pub trait Work<T, E>:
    for<'t> FnOnce(&'t mut dyn Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static
{
}

impl<T, E, F> Work<T, E> for F where
    F: for<'t> FnOnce(&'t mut dyn Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static
{
}

/// A handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Runs the same call on whichever backend `$store` is: `dispatch!(self, s => s.method(..))`.
macro_rules! dispatch {
    ($store:expr, $s:ident => $call:expr) => {
        match &$store.backend {
            Backend::Sqlite($s) => $call,
            Backend::Postgres($s) => $call,
        }
    };
}

/// Held while a secret-key rotation runs, so two rotations of one store cannot interleave.
/// Released when dropped, or by the system if the process dies.
#[derive(Debug)]
pub enum ExclusiveLock {
    /// A locked file beside the SQLite store.
    File(std::fs::File),
    /// A PostgreSQL session advisory lock, held by a connection of its own.
    Postgres(postgres::AdvisoryLock),
}

impl Store {
    /// Opens the store `settings` name: the PostgreSQL database in `url` when set, else the
    /// SQLite file at `path`.
    pub async fn connect(settings: &StoreSettings) -> Result<Store, StoreError> {
        match &settings.url {
            Some(url) => Ok(Store {
                backend: Backend::Postgres(PgStore::open(url).await?),
            }),
            None => Store::open(&settings.path).await,
        }
    }

    /// Opens (creating if absent) and migrates the SQLite store at `path`.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sqlite(SqliteStore::open(path).await?),
        })
    }

    /// Moves after every write transaction of this handle and its clones has ended (committed
    /// or rolled back), counted where the transaction ran, so also when its caller stopped
    /// waiting: what this server wrote can be told at once, while the [`ChangeWatch`] tells of
    /// other processes' writes a little later.
    pub fn local_writes(&self) -> u64 {
        dispatch!(self, s => s.writes())
    }

    /// Where the store is, for messages: the SQLite file, or the PostgreSQL URL without its
    /// password.
    pub fn location(&self) -> &Path {
        dispatch!(self, s => s.location())
    }

    /// The SQLite file, when the store is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite(s) => Some(s.location()),
            Backend::Postgres(_) => None,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgresql",
        }
    }

    /// Takes the store-wide rotation lock; `Ok(None)` when someone else holds it.
    pub async fn try_rotation_lock(&self) -> Result<Option<ExclusiveLock>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => Ok(s.try_rotation_lock()?.map(ExclusiveLock::File)),
            Backend::Postgres(p) => Ok(p.try_rotation_lock().await?.map(ExclusiveLock::Postgres)),
        }
    }

    /// What a locked rotation lock is, for the message that says who holds it.
    pub fn rotation_lock_name(&self) -> String {
        match &self.backend {
            Backend::Sqlite(s) => s.rotation_lock_path().display().to_string(),
            Backend::Postgres(_) => "a PostgreSQL advisory lock on the store".to_owned(),
        }
    }

    /// Starts watching the store for changes made by anyone: its API keys, and on SQLite every
    /// commit (see [`ChangeWatch`]).
    pub fn watch_changes(&self) -> Result<ChangeWatch, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => ChangeWatch::sqlite(s.location().to_owned())
                .map_err(|e| StoreError::Task(format!("cannot start the change watch: {e}"))),
            Backend::Postgres(p) => Ok(p.watch_changes()),
        }
    }

    /// Times every read and write into `latency` (label `operation`). Set once.
    pub fn instrument(&self, latency: prometheus::HistogramVec) {
        dispatch!(self, s => s.instrument(latency))
    }

    /// Runs `work` in one write transaction, committed (on disk) when it returns `Ok`, rolled
    /// back when it returns `Err`.
    pub async fn write<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        dispatch!(self, s => s.transaction(Durability::Flushed, work).await)
    }

    /// As [`Store::write`], committed without waiting for the disk (see
    /// [`Durability::Observation`]).
    pub async fn write_observation<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        dispatch!(self, s => s.transaction(Durability::Observation, work).await)
    }

    /// Runs `work` on a read connection, off the async workers.
    pub async fn read<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        dispatch!(self, s => s.read(work).await)
    }

    /// [`Store::read`] for a lookup of one row by key, which takes microseconds: on SQLite it
    /// runs right on the async worker when a read connection is free at once (handing it to
    /// the blocking pool costs two thread wake-ups, more than the query, and every
    /// authenticated request makes one); otherwise as `read`.
    pub async fn read_point<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        dispatch!(self, s => s.read_point(work).await)
    }

    /// [`Store::read`] for synchronous code already on a blocking thread (sealing a password
    /// checks the key record first).
    pub fn read_blocking<T>(&self, work: impl Work<T, StoreError>) -> Result<T, StoreError>
    where
        T: Send + 'static,
    {
        dispatch!(self, s => s.read_blocking(work))
    }
}
