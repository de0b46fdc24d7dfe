//! The SQLite store: one writer connection and a few readers, WAL, `synchronous=FULL` so a
//! commit is on disk before its response is sent, and every call on a blocking thread so the
//! async workers never wait on the disk.

mod migrations;
mod tx;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::FutureExt;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use self::tx::SqliteTx;
use crate::store::{Durability, StoreError, Work};

const READERS: usize = 4;
const BUSY_TIMEOUT_MS: u64 = 5_000;
/// Page cache per connection, KiB (SQLite's default is 2,000 KiB each). The kernel's page cache
/// already holds the file; a large private cache on each of the five connections only fills up
/// slowly with audit pages, so the server's memory crept up for minutes under load.
const CACHE_KIB: i64 = 512;

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
    writer: Arc<Mutex<Connection>>,
    readers: Vec<Arc<Mutex<Connection>>>,
    next_reader: AtomicUsize,
    /// Write transactions ended (see `Store::local_writes`).
    writes: AtomicU64,
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

fn is_not_a_database(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::NotADatabase)
}

/// The output of a use case's future on SQLite, whose statements all complete at once: the
/// future is done at its first poll.
fn at_once<T>(work: futures_util::future::BoxFuture<'_, T>) -> T {
    work.now_or_never()
        .expect("work on the SQLite store awaits only SQLite, which never waits")
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
                Ok(Arc::new(Mutex::new(conn)))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(open_err)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Arc::new(Mutex::new(writer)),
                readers,
                next_reader: AtomicUsize::new(0),
                writes: AtomicU64::new(0),
                latency: OnceLock::new(),
            }),
        })
    }

    /// Times every read and write into `latency` (label `operation`), from the wait for a
    /// connection to the end of the work. Set once; later calls are ignored.
    pub fn instrument(&self, latency: prometheus::HistogramVec) {
        let _ = self.inner.latency.set(latency);
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

    /// Runs `work` in a write transaction on the writer connection, on a blocking thread.
    pub async fn transaction<T, E>(
        &self,
        durability: Durability,
        work: impl Work<T, E>,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let conn = inner.writer.clone().blocking_lock_owned();
            let result = (|| {
                let mut tx = SqliteTx::begin(conn, durability)?;
                let done = at_once(work(&mut tx))?;
                tx.commit()?;
                Ok(done)
            })();
            inner.observe("write", started);
            // Here, after the commit, whether or not the caller still waits.
            inner.writes.fetch_add(1, Ordering::SeqCst);
            result
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// Write transactions ended so far.
    pub fn writes(&self) -> u64 {
        self.inner.writes.load(Ordering::SeqCst)
    }

    /// Runs `work` on a read connection, on a blocking thread.
    pub async fn read<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_on_this_thread(work))
            .await
            .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }

    /// `read`, here on the async worker when a read connection is free at once.
    pub async fn read_point<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let inner = &self.inner;
        let first = inner.next_reader.fetch_add(1, Ordering::Relaxed);
        for k in 0..inner.readers.len() {
            let reader = &inner.readers[(first + k) % inner.readers.len()];
            if let Ok(conn) = reader.clone().try_lock_owned() {
                return self.read_on(conn, work);
            }
        }
        self.read(work).await
    }

    /// `read` for synchronous code, here on this thread. It may be an async worker (a key
    /// check before sealing, from code that cannot await): the wait for a read connection
    /// then blocks it, which tokio's own blocking lock refuses to do, so the lock is waited
    /// for with a plain executor. Every holder releases its reader without awaiting anything,
    /// so the wait is short.
    pub fn read_blocking<T>(&self, work: impl Work<T, StoreError>) -> Result<T, StoreError> {
        let inner = &self.inner;
        let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
        let conn = futures_executor::block_on(inner.readers[i].clone().lock_owned());
        self.read_on(conn, work)
    }

    fn read_on_this_thread<T, E: From<StoreError>>(&self, work: impl Work<T, E>) -> Result<T, E> {
        let inner = &self.inner;
        let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
        let conn = inner.readers[i].clone().blocking_lock_owned();
        self.read_on(conn, work)
    }

    fn read_on<T, E>(
        &self,
        conn: OwnedMutexGuard<Connection>,
        work: impl Work<T, E>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let mut tx = SqliteTx::reading(conn);
        let result = at_once(work(&mut tx));
        self.inner.observe("read", started);
        result
    }

    /// The writer connection itself, for tests that reach under the shared SQL.
    #[cfg(test)]
    pub(super) async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> T + Send + 'static,
    ) -> T {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut inner.writer.blocking_lock()))
            .await
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    async fn audit_events_cannot_be_changed_or_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        store
            .with_writer(|conn| {
                conn.execute(
                    "INSERT INTO audit_event (at, action, object_type, object_id, changes) \
                     VALUES (1, 'a', 'b', 'c', '{}')",
                    [],
                )
                .unwrap();
            })
            .await;
        let (update, delete) = store
            .with_writer(|conn| {
                let update = conn.execute("UPDATE audit_event SET action = 'x'", []);
                let delete = conn.execute("DELETE FROM audit_event", []);
                (update.is_err(), delete.is_err())
            })
            .await;
        assert!(update && delete);
    }

    #[tokio::test]
    async fn an_observation_leaves_the_writer_fully_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        let synchronous = || {
            store.with_writer(|conn| {
                conn.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
                    .unwrap()
            })
        };
        // 2 is FULL.
        assert_eq!(synchronous().await, 2);
        store
            .transaction(Durability::Observation, |tx| {
                Box::pin(async move { tx.ping().await })
            })
            .await
            .unwrap();
        assert_eq!(synchronous().await, 2);
        let failed: Result<(), StoreError> = store
            .transaction(Durability::Observation, |tx| {
                Box::pin(async move {
                    tx.ping().await?;
                    Err(StoreError::Task("stop".into()))
                })
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(synchronous().await, 2);
    }
}
