//! Persistence, behind one interface with two backends: an SQLite file (the default, one
//! server) and a PostgreSQL database (several servers sharing one store). `Store` is that
//! interface: each method runs on whichever backend the store was opened on, and both give the
//! same answers, errors and audit records.

mod events;
mod model;
mod postgres;
mod sqlite;

pub use model::{
    ApiKeyRow, AuditContext, AuditEvent, AuditFilter, AuditRow, DataSourceRow, Entity, KeyMeta,
    Member, Page, PendingRotation, PermissionRow, PermissionScope, PersonRow, Resealed, RoleRow,
    SchemaSnapshotRow, SealedCounts, TestOutcome, Unique,
};
pub use postgres::PgStore;
pub use sqlite::{rotation_lock_path, SqliteStore};

use std::path::{Path, PathBuf};

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
    #[error("{field} {value:?} is already taken")]
    Taken { field: Unique, value: String },
    #[error("no {0} is named {1:?}")]
    NotFound(Entity, String),
    #[error("person {0:?} is not locked")]
    NotLocked(String),
    #[error("store query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store query failed: {}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no store connection: {0}")]
    Pool(String),
    #[error("store task failed: {0}")]
    Task(String),
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

    /// Times every read and write into `latency` (label `operation`). Set once.
    pub fn instrument(&self, latency: prometheus::HistogramVec) {
        dispatch!(self, s => s.instrument(latency))
    }

    /// Whether the store answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    // ---- meta and secret keys ----

    pub async fn key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.key_check().await)
    }

    pub async fn set_key_check(&self, value: Vec<u8>) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_key_check(value).await)
    }

    /// The key check and any pending rotation.
    pub async fn key_meta(&self) -> Result<KeyMeta, StoreError> {
        dispatch!(self, s => s.key_meta().await)
    }

    /// As `key_meta`, for synchronous code (the secret box checks it before sealing).
    pub fn key_meta_blocking(&self) -> Result<KeyMeta, StoreError> {
        dispatch!(self, s => s.key_meta_blocking())
    }

    pub async fn set_pending_rotation(&self, pending: PendingRotation) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_pending_rotation(pending).await)
    }

    pub async fn clear_pending_rotation(
        &self,
        expected: PendingRotation,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.clear_pending_rotation(expected).await)
    }

    pub async fn sealed_counts(&self, prefix: Vec<u8>) -> Result<SealedCounts, StoreError> {
        dispatch!(self, s => s.sealed_counts(prefix).await)
    }

    /// See `SqliteStore::reseal_next_password`.
    pub async fn reseal_next_password<T, E, F>(
        &self,
        after_seq: i64,
        prefix: Vec<u8>,
        reseal: F,
    ) -> Result<Option<Resealed<T>>, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&str, &[u8]) -> Result<(Vec<u8>, T), E> + Send + 'static,
    {
        dispatch!(self, s => s.reseal_next_password(after_seq, prefix, reseal).await)
    }

    /// See `SqliteStore::complete_rotation`.
    pub async fn complete_rotation<T, E, F>(
        &self,
        prefix: Vec<u8>,
        key_check: Vec<u8>,
        reseal: F,
    ) -> Result<Vec<Resealed<T>>, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&str, &[u8]) -> Result<(Vec<u8>, T), E> + Send + 'static,
    {
        dispatch!(self, s => s.complete_rotation(prefix, key_check, reseal).await)
    }

    pub async fn passwords_sealed_with(
        &self,
        prefix: Vec<u8>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        dispatch!(self, s => s.passwords_sealed_with(prefix).await)
    }

    pub async fn replace_sealed_password(
        &self,
        id: &str,
        old: Vec<u8>,
        new: Vec<u8>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.replace_sealed_password(id, old, new).await)
    }

    // ---- data sources ----

    pub async fn insert_data_source(
        &self,
        row: DataSourceRow,
        ctx: &AuditContext,
    ) -> Result<DataSourceRow, StoreError> {
        dispatch!(self, s => s.insert_data_source(row, ctx).await)
    }

    pub async fn list_data_sources(&self, page: Page) -> Result<Vec<DataSourceRow>, StoreError> {
        dispatch!(self, s => s.list_data_sources(page).await)
    }

    /// Finds a data source by id, else by alias.
    pub async fn find_data_source(&self, key: &str) -> Result<Option<DataSourceRow>, StoreError> {
        dispatch!(self, s => s.find_data_source(key).await)
    }

    /// Reads the current row and writes what `change` makes of it, in one transaction.
    /// `Ok(None)` when nothing is named `key`.
    pub async fn update_data_source<E, F>(
        &self,
        key: &str,
        ctx: &AuditContext,
        change: F,
    ) -> Result<Option<DataSourceRow>, E>
    where
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&DataSourceRow) -> Result<DataSourceRow, E> + Send + 'static,
    {
        dispatch!(self, s => s.update_data_source(key, ctx, change).await)
    }

    /// Deletes by id or alias; `false` when nothing matched.
    pub async fn delete_data_source(
        &self,
        key: &str,
        ctx: &AuditContext,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete_data_source(key, ctx).await)
    }

    // ---- API keys ----

    pub async fn insert_api_key(&self, row: ApiKeyRow) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_api_key(row).await)
    }

    pub async fn replace_api_key_secret(
        &self,
        id: &str,
        secret_sha256: Vec<u8>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.replace_api_key_secret(id, secret_sha256).await)
    }

    pub async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        dispatch!(self, s => s.find_api_key(id).await)
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        dispatch!(self, s => s.list_api_keys().await)
    }

    /// Marks a key revoked; `false` when no such key is active.
    pub async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.revoke_api_key(id, at).await)
    }

    // ---- people ----

    pub async fn insert_person(
        &self,
        person: PersonRow,
        ctx: &AuditContext,
    ) -> Result<PersonRow, StoreError> {
        dispatch!(self, s => s.insert_person(person, ctx).await)
    }

    pub async fn list_people(&self, page: Page) -> Result<Vec<PersonRow>, StoreError> {
        dispatch!(self, s => s.list_people(page).await)
    }

    pub async fn find_person(&self, key: &str) -> Result<PersonRow, StoreError> {
        dispatch!(self, s => s.find_person(key).await)
    }

    /// Locks or unlocks; doing it twice is the same as once.
    pub async fn set_person_locked(
        &self,
        key: &str,
        locked: bool,
        ctx: &AuditContext,
    ) -> Result<PersonRow, StoreError> {
        dispatch!(self, s => s.set_person_locked(key, locked, ctx).await)
    }

    /// Deletes a locked person with their memberships and permissions.
    pub async fn delete_person(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_person(key, ctx).await)
    }

    pub async fn reset_two_factor(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        dispatch!(self, s => s.reset_two_factor(key, ctx).await)
    }

    pub async fn person_roles(&self, key: &str) -> Result<Vec<RoleRow>, StoreError> {
        dispatch!(self, s => s.person_roles(key).await)
    }

    pub async fn person_permissions(&self, key: &str) -> Result<Vec<PermissionRow>, StoreError> {
        dispatch!(self, s => s.person_permissions(key).await)
    }

    pub async fn delete_person_permissions(
        &self,
        key: &str,
        ctx: &AuditContext,
    ) -> Result<usize, StoreError> {
        dispatch!(self, s => s.delete_person_permissions(key, ctx).await)
    }

    /// The data sources `key` can reach at `now`, each once, oldest first.
    pub async fn reachable_data_sources(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Vec<DataSourceRow>, StoreError> {
        dispatch!(self, s => s.reachable_data_sources(key, now).await)
    }

    // ---- roles ----

    pub async fn insert_role(
        &self,
        role: RoleRow,
        ctx: &AuditContext,
    ) -> Result<RoleRow, StoreError> {
        dispatch!(self, s => s.insert_role(role, ctx).await)
    }

    pub async fn list_roles(&self, page: Page) -> Result<Vec<RoleRow>, StoreError> {
        dispatch!(self, s => s.list_roles(page).await)
    }

    pub async fn find_role(&self, key: &str) -> Result<RoleRow, StoreError> {
        dispatch!(self, s => s.find_role(key).await)
    }

    /// Deletes a role with its memberships.
    pub async fn delete_role(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_role(key, ctx).await)
    }

    pub async fn role_data_sources(&self, key: &str) -> Result<Vec<DataSourceRow>, StoreError> {
        dispatch!(self, s => s.role_data_sources(key).await)
    }

    pub async fn role_people(&self, key: &str) -> Result<Vec<PersonRow>, StoreError> {
        dispatch!(self, s => s.role_people(key).await)
    }

    /// The roles containing a data source, each with when it was added.
    pub async fn data_source_roles(&self, key: &str) -> Result<Vec<RoleRow>, StoreError> {
        dispatch!(self, s => s.data_source_roles(key).await)
    }

    /// Adds (`member = true`) or removes a data source or person; idempotent.
    pub async fn set_role_member(
        &self,
        role_key: &str,
        kind: Member,
        member_key: &str,
        member: bool,
        ctx: &AuditContext,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_role_member(role_key, kind, member_key, member, ctx).await)
    }

    // ---- permissions ----

    /// Grants `person_key` the data source `ds_key` from `starts_at` to `expires_at`.
    pub async fn insert_permission(
        &self,
        ds_key: &str,
        person_key: &str,
        starts_at: i64,
        expires_at: i64,
        ctx: &AuditContext,
    ) -> Result<PermissionRow, StoreError> {
        dispatch!(self, s => s.insert_permission(ds_key, person_key, starts_at, expires_at, ctx).await)
    }

    pub async fn list_permissions(&self, page: Page) -> Result<Vec<PermissionRow>, StoreError> {
        dispatch!(self, s => s.list_permissions(page).await)
    }

    pub async fn find_permission(&self, id: i64) -> Result<PermissionRow, StoreError> {
        dispatch!(self, s => s.find_permission(id).await)
    }

    pub async fn delete_permission(&self, id: i64, ctx: &AuditContext) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_permission(id, ctx).await)
    }

    pub async fn scoped_permissions(
        &self,
        scope: PermissionScope,
    ) -> Result<Vec<PermissionRow>, StoreError> {
        dispatch!(self, s => s.scoped_permissions(scope).await)
    }

    /// Deletes every permission in `scope`; how many were deleted.
    pub async fn delete_scoped_permissions(
        &self,
        scope: PermissionScope,
        ctx: &AuditContext,
    ) -> Result<usize, StoreError> {
        dispatch!(self, s => s.delete_scoped_permissions(scope, ctx).await)
    }

    // ---- schema snapshots ----

    /// Replaces the schema snapshot of the data source `key` names; `NotFound` if it is gone.
    pub async fn put_schema_snapshot(
        &self,
        key: &str,
        row: SchemaSnapshotRow,
    ) -> Result<SchemaSnapshotRow, StoreError> {
        dispatch!(self, s => s.put_schema_snapshot(key, row).await)
    }

    /// The snapshot of the data source `key` names; `Ok(None)` when it has none yet.
    pub async fn find_schema_snapshot(
        &self,
        key: &str,
    ) -> Result<Option<SchemaSnapshotRow>, StoreError> {
        dispatch!(self, s => s.find_schema_snapshot(key).await)
    }

    /// Removes the snapshot of the data source `key` names; whether there was one.
    pub async fn delete_schema_snapshot(&self, key: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete_schema_snapshot(key).await)
    }

    /// Removes the schema snapshot and the last test outcome of the data source `key` names,
    /// together: which of the two there were. `NotFound` when there is no such data source.
    pub async fn purge_data_source_results(&self, key: &str) -> Result<(bool, bool), StoreError> {
        dispatch!(self, s => s.purge_data_source_results(key).await)
    }

    // ---- audit ----

    /// Records an event that goes with no change (a password read, a connection test).
    pub async fn record_audit(
        &self,
        ctx: AuditContext,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_audit(ctx, event).await)
    }

    /// Records a connection test or introspection in the audit trail and, for a saved data
    /// source, its outcome on the data source's row: one transaction, committed without waiting
    /// for the disk flush (tests are observations that come in volume; see the backends). A
    /// data source deleted while its test ran gets the audit record only.
    pub async fn record_test(
        &self,
        ctx: AuditContext,
        event: AuditEvent,
        outcome: Option<TestOutcome>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_test(ctx, event, outcome).await)
    }

    pub async fn list_audit(&self, filter: AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        dispatch!(self, s => s.list_audit(filter).await)
    }
}
