//! The SQLite store: one writer connection and a few readers, WAL, `synchronous=FULL` so a
//! commit is on disk before its response is sent, and every call on a blocking thread so the
//! async workers never wait on the disk.

mod audit;
mod migrations;
mod people;
mod permissions;
mod roles;
mod schema_snapshots;
mod secrets;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, TryLockError};
use std::time::Instant;

use rusqlite::{
    params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction,
    TransactionBehavior,
};

use crate::store::{ApiKeyRow, AuditContext, DataSourceRow, Entity, Page, StoreError, Unique};

const READERS: usize = 4;
const BUSY_TIMEOUT_MS: u64 = 5_000;
/// Page cache per connection, KiB (SQLite's default is 2,000 KiB each). The kernel's page cache
/// already holds the file; a large private cache on each of the five connections only fills up
/// slowly with audit pages, so the server's memory crept up for minutes under load.
const CACHE_KIB: i64 = 512;
use crate::store::events;
use crate::store::model::KEY_CHECK;

/// Begins a transaction that takes the write lock at once. A deferred transaction that reads
/// and then writes must upgrade its lock, and SQLite does not call the busy handler for that
/// upgrade: if anything holds the write lock at that moment (another process on the file such as
/// `jackal secrets rotate`, or a reader repairing a torn WAL-index read, which takes it briefly),
/// the change fails at once with "database is locked" instead of waiting up to the busy timeout.
pub(super) fn begin_write(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

/// `<store>.rotate.lock`, locked while `jackal secrets rotate` runs: two rotations of one store
/// at once would each install their own key file over the other's.
pub fn rotation_lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".rotate.lock");
    PathBuf::from(name)
}

/// A handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Where operations are timed, once the server has set it (`instrument`).
    latency: OnceLock<prometheus::HistogramVec>,
}

impl Inner {
    fn observe(&self, operation: &str, started: Instant) {
        if let Some(latency) = self.latency.get() {
            latency
                .with_label_values(&[operation])
                .observe(started.elapsed().as_secs_f64());
        }
    }
}

pub(super) const DATA_SOURCE_COLUMNS: &str = "id, name, alias, type, config_uri, password_enc, \
     created_at, updated_at, seq, description, last_test_ok, last_tested_at";

pub(super) fn data_source_from_row(row: &Row<'_>) -> rusqlite::Result<DataSourceRow> {
    Ok(DataSourceRow {
        id: row.get(0)?,
        name: row.get(1)?,
        alias: row.get(2)?,
        kind: row.get(3)?,
        config_uri: row.get(4)?,
        password_enc: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        seq: row.get(8)?,
        description: row.get(9)?,
        last_test_ok: row.get(10)?,
        last_tested_at: row.get(11)?,
    })
}

fn api_key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: row.get(0)?,
        name: row.get(1)?,
        secret_sha256: row.get(2)?,
        created_at: row.get(3)?,
        revoked_at: row.get(4)?,
    })
}

fn is_not_a_database(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::NotADatabase)
}

/// Every row `sql` returns, mapped by `map`.
pub(super) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params, map)?
        .collect::<rusqlite::Result<Vec<T>>>()?;
    Ok(rows)
}

pub(super) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _)
        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

pub(super) fn find_data_source(
    conn: &Connection,
    key: &str,
) -> rusqlite::Result<Option<DataSourceRow>> {
    // An id wins over an alias (the contract's naming rule); aliases cannot look like ids anyway.
    conn.prepare_cached(&format!(
        "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id = ?1 OR alias = ?1 \
         ORDER BY id = ?1 DESC LIMIT 1"
    ))?
    .query_row([key], data_source_from_row)
    .optional()
}

fn alias_used_by_other(conn: &Connection, alias: &str, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM data_source WHERE alias = ?1 AND id <> ?2")?
        .exists(params![alias, id])
}

impl SqliteStore {
    /// Opens (creating if absent) and migrates the store at `path`. A file that is not a Jackal
    /// store, or one from a newer schema, is refused before anything is written to it.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    pub fn open_blocking(path: &Path) -> Result<SqliteStore, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let not_a_store = || StoreError::NotAStore {
            path: path.to_owned(),
        };
        let mut writer = Connection::open(path).map_err(open_err)?;
        let version = match migrations::user_version(&writer) {
            Ok(v) => v,
            Err(e) if is_not_a_database(&e) => return Err(not_a_store()),
            Err(e) => return Err(open_err(e)),
        };
        if version > migrations::LATEST {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found: version,
                known: migrations::LATEST,
            });
        }
        if version == 0 {
            let tables: i64 = writer
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(open_err)?;
            if tables > 0 {
                return Err(not_a_store());
            }
        }
        writer
            .busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
            .map_err(open_err)?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        // FULL: in WAL mode NORMAL may lose the last commits on power loss; we answer 200 only
        // for what is on disk.
        writer
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        writer
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        writer
            .pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(open_err)?;
        migrations::apply(&mut writer, version).map_err(open_err)?;

        let readers = (0..READERS)
            .map(|_| {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
                conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
                Ok(Mutex::new(conn))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(open_err)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                latency: OnceLock::new(),
            }),
        })
    }

    /// Times every read and write into `latency` (label `operation`), from the wait for a
    /// connection to the end of the work. Set once; later calls are ignored.
    pub fn instrument(&self, latency: prometheus::HistogramVec) {
        let _ = self.inner.latency.set(latency);
    }

    /// Whether the store answers a query: a read of the schema version's table.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM meta", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    pub fn location(&self) -> &Path {
        &self.inner.path
    }

    pub fn rotation_lock_path(&self) -> PathBuf {
        rotation_lock_path(&self.inner.path)
    }

    /// Locks `rotation_lock_path`; `Ok(None)` when another process holds it. The kernel
    /// releases the lock when the file is closed or the process dies.
    pub fn try_rotation_lock(&self) -> Result<Option<std::fs::File>, StoreError> {
        let path = self.rotation_lock_path();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                StoreError::Task(format!(
                    "cannot open the rotation lock file {}: {e}",
                    path.display()
                ))
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Task(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }

    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// `read` for a lookup by key, which touches a handful of cached pages and takes
    /// microseconds: it runs right here on the async worker when a reader connection is free at
    /// once. Handing it to the blocking pool costs two thread wake-ups, more than the query, and
    /// every authenticated request makes one (its API key). When every reader is busy it goes
    /// to the pool like any `read`, so the worker never waits on a lock.
    pub(super) async fn read_point<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = &self.inner;
        let first = inner.next_reader.fetch_add(1, Ordering::Relaxed);
        for k in 0..inner.readers.len() {
            let reader = &inner.readers[(first + k) % inner.readers.len()];
            let conn = match reader.try_lock() {
                Ok(conn) => conn,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => continue,
            };
            let started = Instant::now();
            let result = f(&conn);
            inner.observe("read", started);
            return result;
        }
        self.read(f).await
    }

    /// `read` for a caller already on a blocking thread.
    pub(super) fn read_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        let inner = &self.inner;
        let started = Instant::now();
        let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
        let conn = inner.readers[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let result = f(&conn);
        inner.observe("read", started);
        result
    }

    pub(super) async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut conn = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
            let result = f(&mut conn);
            inner.observe("write", started);
            result
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    // ---- meta ----

    pub async fn key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [KEY_CHECK], |r| {
                    r.get(0)
                })
                .optional()?)
        })
        .await
    }

    pub async fn set_key_check(&self, value: Vec<u8>) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![KEY_CHECK, value],
            )?;
            Ok::<_, StoreError>(())
        })
        .await
    }

    // ---- data sources ----

    pub async fn insert_data_source(
        &self,
        row: DataSourceRow,
        ctx: &AuditContext,
    ) -> Result<DataSourceRow, StoreError> {
        let ctx = ctx.clone();
        self.write(move |conn| {
            let mut row = row;
            let tx = begin_write(conn)?;
            if let Some(alias) = &row.alias {
                if alias_used_by_other(&tx, alias, &row.id)? {
                    return Err(StoreError::Taken {
                        field: Unique::Alias,
                        value: alias.clone(),
                    });
                }
            }
            tx.query_row(
                "INSERT INTO data_source (id, name, alias, type, config_uri, password_enc, \
                 created_at, updated_at, description, last_test_ok, last_tested_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING seq",
                params![
                    row.id,
                    row.name,
                    row.alias,
                    row.kind,
                    row.config_uri,
                    row.password_enc,
                    row.created_at,
                    row.updated_at,
                    row.description,
                    row.last_test_ok,
                    row.last_tested_at
                ],
                |r| r.get::<_, i64>(0),
            )
            .map(|seq| row.seq = seq)
            .map_err(|e| match (is_unique_violation(&e), &row.alias) {
                (true, Some(alias)) => StoreError::Taken {
                    field: Unique::Alias,
                    value: alias.clone(),
                },
                _ => StoreError::Sqlite(e),
            })?;
            audit::record(&tx, &ctx, &events::data_source_created(&row))?;
            tx.commit()?;
            Ok(row)
        })
        .await
    }

    pub async fn list_data_sources(&self, page: Page) -> Result<Vec<DataSourceRow>, StoreError> {
        self.read(move |conn| {
            query_all(
                conn,
                &format!(
                    "SELECT {DATA_SOURCE_COLUMNS} FROM data_source ORDER BY seq LIMIT ?1 OFFSET ?2"
                ),
                page.sql(),
                data_source_from_row,
            )
        })
        .await
    }

    /// Finds a data source by id, else by alias.
    pub async fn find_data_source(&self, key: &str) -> Result<Option<DataSourceRow>, StoreError> {
        let key = key.to_owned();
        self.read_point(move |conn| Ok(find_data_source(conn, &key)?))
            .await
    }

    /// Reads the current row and writes what `change` makes of it, in one transaction, so two
    /// concurrent updates cannot interleave. `Ok(None)` when nothing is named `key`.
    /// `updated_at` always moves forward, even within one millisecond.
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
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn).map_err(StoreError::from)?;
            let Some(current) = find_data_source(&tx, &key).map_err(StoreError::from)? else {
                return Ok(None);
            };
            let mut next = change(&current)?;
            next.id = current.id.clone();
            next.created_at = current.created_at;
            next.updated_at = next.updated_at.max(current.updated_at + 1);
            if let Some(alias) = &next.alias {
                if alias_used_by_other(&tx, alias, &next.id).map_err(StoreError::from)? {
                    return Err(StoreError::Taken {
                        field: Unique::Alias,
                        value: alias.clone(),
                    }
                    .into());
                }
            }
            next.seq = current.seq;
            tx.execute(
                "UPDATE data_source SET name = ?2, alias = ?3, type = ?4, config_uri = ?5, \
                 password_enc = ?6, updated_at = ?7, description = ?8, last_test_ok = ?9, \
                 last_tested_at = ?10 WHERE id = ?1",
                params![
                    next.id,
                    next.name,
                    next.alias,
                    next.kind,
                    next.config_uri,
                    next.password_enc,
                    next.updated_at,
                    next.description,
                    next.last_test_ok,
                    next.last_tested_at
                ],
            )
            .map_err(StoreError::from)?;
            audit::record(&tx, &ctx, &events::data_source_updated(&current, &next))
                .map_err(StoreError::from)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(Some(next))
        })
        .await
    }

    /// The data source named `key` (id or alias), or `NotFound`.
    pub(super) fn resolve_data_source(
        conn: &Connection,
        key: &str,
    ) -> Result<DataSourceRow, StoreError> {
        find_data_source(conn, key)?
            .ok_or_else(|| StoreError::NotFound(Entity::DataSource, key.to_owned()))
    }

    /// Deletes by id or alias; `false` when nothing matched.
    pub async fn delete_data_source(
        &self,
        key: &str,
        ctx: &AuditContext,
    ) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let Some(row) = find_data_source(&tx, &key)? else {
                return Ok(false);
            };
            tx.execute("DELETE FROM data_source WHERE id = ?1", [&row.id])?;
            audit::record(&tx, &ctx, &events::data_source_deleted(&row))?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    // ---- API keys ----

    pub async fn insert_api_key(&self, row: ApiKeyRow) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO api_key (id, name, secret_sha256, created_at, revoked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    row.id,
                    row.name,
                    row.secret_sha256,
                    row.created_at,
                    row.revoked_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn replace_api_key_secret(
        &self,
        id: &str,
        secret_sha256: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE api_key SET secret_sha256 = ?2 WHERE id = ?1",
                params![id, secret_sha256],
            )? == 1)
        })
        .await
    }

    pub async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        let id = id.to_owned();
        self.read_point(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id, name, secret_sha256, created_at, revoked_at FROM api_key WHERE id = ?1",
                )?
                .query_row([id], api_key_from_row)
                .optional()?)
        })
        .await
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        self.read(|conn| {
            query_all(conn, "SELECT id, name, secret_sha256, created_at, revoked_at FROM api_key ORDER BY created_at, id", [], api_key_from_row)
        })
        .await
    }

    /// Marks a key revoked; `false` when no such key is active.
    pub async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE api_key SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )? == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> AuditContext {
        AuditContext {
            api_key_id: None,
            client_addr: None,
            at: 1,
        }
    }

    fn row(id: &str, alias: Option<&str>) -> DataSourceRow {
        DataSourceRow {
            id: id.to_owned(),
            name: "n".to_owned(),
            alias: alias.map(str::to_owned),
            kind: "postgresql".to_owned(),
            config_uri: "postgresql://h".to_owned(),
            password_enc: None,
            seq: 0,
            description: String::new(),
            last_test_ok: None,
            last_tested_at: None,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[tokio::test]
    async fn newer_schema_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = SqliteStore::open(&path).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("newer Jackal"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[tokio::test]
    async fn a_file_that_is_not_sqlite_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = SqliteStore::open(&path).await.unwrap_err();
        assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    }

    #[tokio::test]
    async fn alias_lookup_update_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        store
            .insert_data_source(row("D1", Some("a")), &cli())
            .await
            .unwrap();
        let clash = store.insert_data_source(row("D2", Some("a")), &cli()).await;
        assert!(matches!(
            clash,
            Err(StoreError::Taken {
                field: Unique::Alias,
                ..
            })
        ));
        assert_eq!(store.find_data_source("a").await.unwrap().unwrap().id, "D1");
        let updated = store
            .update_data_source::<StoreError, _>("D1", &cli(), |cur| {
                Ok(DataSourceRow {
                    name: "m".into(),
                    ..cur.clone()
                })
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.name, "m");
        assert!(updated.updated_at > 1);
        assert!(store.delete_data_source("a", &cli()).await.unwrap());
        assert!(!store.delete_data_source("a", &cli()).await.unwrap());
        assert!(store.list_data_sources(Page::ALL).await.unwrap().is_empty());
    }
}
