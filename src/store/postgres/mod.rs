//! The PostgreSQL store, for several servers sharing one database.
//!
//! Everything that must hold across servers is left to PostgreSQL: uniqueness to unique
//! constraints (a violation is `Taken`, whichever server inserted first), cascades to foreign
//! keys, concurrent changes of one row to row locks (`FOR UPDATE`), and the schema migration to
//! an advisory lock so two servers starting at once migrate once. Nothing is cached in the
//! process but API keys, which a server hears about from the others (`LISTEN`, see
//! `change_watch.rs`); so a write on one server is read on another at once. (On SQLite a server
//! also answers `GET /data-source/{id}` from memory; not here, for that reason.)
//!
//! Connections live on a small runtime of the store's own. Sealing a password reads the key
//! meta synchronously (`key_meta_blocking`), from any thread, including an HTTP worker's
//! single-threaded runtime that cannot run a connection's I/O while it waits; on a runtime of
//! their own the connections keep running whoever waits.

mod migrations;
mod tx;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use jackal_drivers::{ConnectionSpec, Kind};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use self::tx::PgTx;
use super::{Durability, StoreError, Work};

/// Connections per server. PostgreSQL's default `max_connections` is 100, shared by every
/// server on the store and everything else using the database.
const POOL_SIZE: usize = 8;
/// How long a request waits for a connection, or for a new one to open, before it fails.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);
/// The advisory lock held while `jackal secrets rotate` runs (any 64-bit value of our own).
const ROTATION_LOCK: i64 = 0x6a61_636b_616c_0002;

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.inner.location)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// The URL without its password, for messages.
    location: PathBuf,
    pool: Pool,
    /// How the key watch connects: as the pool does.
    listen: (tokio_postgres::Config, MakeRustlsConnect),
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    latency: OnceLock<prometheus::HistogramVec>,
    /// Write transactions ended (see `Store::local_writes`).
    writes: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Without waiting: the last handle may be dropped on an async worker.
        if let Some(runtime) = self
            .runtime
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            runtime.shutdown_background();
        }
    }
}

pub(super) async fn connection(pool: &Pool) -> Result<deadpool_postgres::Client, StoreError> {
    pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
        other => StoreError::Pool(other.to_string()),
    })
}

/// A driver error with what the server or the socket said: tokio-postgres's own text is only
/// "db error" or "error connecting to server", with the detail in its source.
pub(crate) fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What to do about a store that does not open, from what failed.
fn open_hint(err: &StoreError) -> &'static str {
    let StoreError::Postgres(e) = err else {
        return "";
    };
    match e.code() {
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
            ": create the database first (CREATE DATABASE …), Jackal creates its tables in it"
        }
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            ": check the user and password in the store URL"
        }
        Some(_) => "",
        None if describe(e).contains("TLS") || describe(e).contains("tls") => {
            ": TLS to the store failed; give sslRootCert=FILE for a private CA, or validateSsl=false, or \
             ssl=false in the store URL"
        }
        None => ": check host and port in the store URL, and that PostgreSQL is running",
    }
}

/// Held while `jackal secrets rotate` runs: a session advisory lock on a connection taken out
/// of the pool, so the lock ends when this is dropped (the connection closes) or the process
/// dies.
pub struct AdvisoryLock {
    _client: deadpool_postgres::ClientWrapper,
}

impl std::fmt::Debug for AdvisoryLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdvisoryLock")
    }
}

impl PgStore {
    /// Connects to the database `url` names and migrates it. A database holding other tables,
    /// or a newer Jackal schema, is refused before anything is written to it.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let open_err = |location: &str, message: String| StoreError::OpenPostgres {
            location: location.to_owned(),
            message,
        };
        let spec = ConnectionSpec::parse(url).map_err(|e| {
            open_err(
                "(JACKAL_STORE or [store] url)",
                format!(
                    "{e}: give a URL such as postgresql://jackal:password@127.0.0.1:5432/jackal"
                ),
            )
        })?;
        let location = spec.to_redacted_uri();
        if spec.kind() != Kind::Postgresql {
            return Err(open_err(
                &location,
                "a store URL must start with postgresql://".to_owned(),
            ));
        }
        let mut config = tokio_postgres::Config::new();
        config
            .host(spec.host().unwrap_or("localhost"))
            .port(spec.effective_port().unwrap_or(5432))
            .user(spec.user().unwrap_or("postgres"))
            .dbname(spec.database().unwrap_or("jackal"))
            .application_name("jackal")
            .connect_timeout(spec.connect_timeout().unwrap_or(POOL_TIMEOUT))
            // Never falls back to plain text, as with a data source's ssl=true.
            .ssl_mode(if spec.ssl() {
                tokio_postgres::config::SslMode::Require
            } else {
                tokio_postgres::config::SslMode::Disable
            });
        if let Some(password) = spec.password() {
            config.password(password.expose());
        }
        let tls =
            jackal_drivers::tls_client_config(&spec).map_err(|e| open_err(&location, e.message))?;
        let tls = MakeRustlsConnect::new((*tls).clone());
        let listen = (config.clone(), tls.clone());
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| open_err(&location, e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("jackal-store")
            .enable_all()
            .build()
            .map_err(|e| open_err(&location, format!("cannot start its runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let store = PgStore {
            inner: Arc::new(Inner {
                location: PathBuf::from(&location),
                pool,
                listen,
                runtime: Mutex::new(Some(runtime)),
                handle,
                latency: OnceLock::new(),
                writes: AtomicU64::new(0),
            }),
        };
        let migrate_location = store.inner.location.clone();
        store
            .run("write", move |pool| async move {
                migrations::apply(&pool, &migrate_location).await
            })
            .await
            .map_err(|e| match e {
                StoreError::Pool(ref message) | StoreError::Task(ref message) => {
                    open_err(&location, message.clone())
                }
                StoreError::Postgres(ref pg) => {
                    open_err(&location, format!("{}{}", describe(pg), open_hint(&e)))
                }
                other => other,
            })?;
        Ok(store)
    }

    /// Runs `work` on the store's runtime with the pool, timed as `operation`.
    async fn run<T, E, F, Fut>(&self, operation: &'static str, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let started = Instant::now();
        let result = self
            .inner
            .handle
            .spawn(work(self.inner.pool.clone()))
            .await
            .map_err(|e| E::from(StoreError::Task(e.to_string())))?;
        if let Some(latency) = self.inner.latency.get() {
            latency
                .with_label_values(&[operation])
                .observe(started.elapsed().as_secs_f64());
        }
        result
    }

    /// As `run`, for synchronous callers on any thread: waits without an async context.
    fn run_blocking<T, Fut>(&self, work: impl FnOnce(Pool) -> Fut) -> Result<T, StoreError>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let work = work(self.inner.pool.clone());
        self.inner.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| StoreError::Task("the store's runtime has stopped".to_owned()))?
    }

    pub fn location(&self) -> &Path {
        &self.inner.location
    }

    /// Write transactions ended so far.
    pub fn writes(&self) -> u64 {
        self.inner.writes.load(Ordering::SeqCst)
    }

    pub fn watch_changes(&self) -> super::ChangeWatch {
        let (config, tls) = self.inner.listen.clone();
        super::ChangeWatch::postgres(config, tls, &self.inner.handle)
    }

    pub fn instrument(&self, latency: prometheus::HistogramVec) {
        let _ = self.inner.latency.set(latency);
    }

    pub async fn try_rotation_lock(&self) -> Result<Option<AdvisoryLock>, StoreError> {
        self.run("write", |pool| async move {
            let client = connection(&pool).await?;
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&ROTATION_LOCK])
                .await?;
            if row.try_get::<_, bool>(0)? {
                Ok(Some(AdvisoryLock {
                    _client: deadpool_postgres::Object::take(client),
                }))
            } else {
                Ok(None)
            }
        })
        .await
    }

    /// Runs `work` in a transaction on a pooled connection, on the store's runtime.
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
        self.run("write", move |pool| async move {
            let client = connection(&pool).await?;
            let mut tx = PgTx::begin(client, durability).await?;
            let ended = match work(&mut tx).await {
                Ok(done) => tx.commit().await.map(|()| done).map_err(E::from),
                Err(e) => {
                    // The error is what the caller learns; a failed ROLLBACK closes the
                    // connection (dropping `tx` does) and ends the transaction all the same.
                    let _ = tx.rollback().await;
                    Err(e)
                }
            };
            // On the store's runtime, after the commit, whether or not the caller still waits.
            inner.writes.fetch_add(1, Ordering::SeqCst);
            ended
        })
        .await
    }

    /// Runs `work` on a pooled connection, on the store's runtime.
    pub async fn read<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.run("read", move |pool| async move {
            let client = connection(&pool).await?;
            work(&mut PgTx::reading(client)).await
        })
        .await
    }

    /// As `read`: a PostgreSQL query is a network round trip wherever it runs.
    pub async fn read_point<T, E>(&self, work: impl Work<T, E>) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.read(work).await
    }

    /// `read` for synchronous code on any thread: waits without an async context.
    pub fn read_blocking<T>(&self, work: impl Work<T, StoreError>) -> Result<T, StoreError>
    where
        T: Send + 'static,
    {
        self.run_blocking(move |pool| async move {
            let client = connection(&pool).await?;
            work(&mut PgTx::reading(client)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An admin URL for the local server: `JACKAL_TEST_STORE`, else the CI machine's.
    fn admin_url() -> String {
        std::env::var("JACKAL_TEST_STORE").unwrap_or_else(|_| {
            "postgresql://postgres@127.0.0.1:5432/postgres?ssl=false".to_owned()
        })
    }

    /// A new empty database and its URL; the test fails, saying to run scripts/test-databases,
    /// when no server answers. Its tests are `#[ignore = "live: …"]`: scripts/test runs them.
    async fn fresh_database() -> (tokio_postgres::Client, String) {
        let admin = ConnectionSpec::parse(&admin_url()).unwrap();
        let conninfo = format!(
            "host={} port={} user={} dbname={}",
            admin.host().unwrap_or("127.0.0.1"),
            admin.effective_port().unwrap_or(5432),
            admin.user().unwrap_or("postgres"),
            admin.database().unwrap_or("postgres"),
        );
        let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!("live test: no PostgreSQL at {conninfo}: {e}; run scripts/test-databases")
            });
        tokio::spawn(conn);
        let name = format!(
            "jackal_t_unit_{}",
            nanoid::nanoid!(
                12,
                &"abcdefghijklmnopqrstuvwxyz0123456789"
                    .chars()
                    .collect::<Vec<_>>()
            )
        );
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = format!(
            "postgresql://{}@{}:{}/{name}?ssl=false",
            admin.user().unwrap_or("postgres"),
            admin.host().unwrap_or("127.0.0.1"),
            admin.effective_port().unwrap_or(5432),
        );
        (client, url)
    }

    async fn connect(url: &str) -> tokio_postgres::Client {
        let spec = ConnectionSpec::parse(url).unwrap();
        let conninfo = format!(
            "host={} port={} user={} dbname={}",
            spec.host().unwrap(),
            spec.effective_port().unwrap(),
            spec.user().unwrap(),
            spec.database().unwrap()
        );
        let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    }

    #[tokio::test]
    #[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
    async fn two_servers_starting_at_once_migrate_once() {
        let (_admin, url) = fresh_database().await;
        let (a, b) = tokio::join!(PgStore::open(&url), PgStore::open(&url));
        let (a, b) = (a.unwrap(), b.unwrap());
        let db = connect(&url).await;
        let version: i64 = db
            .query_one("SELECT version FROM jackal_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, migrations::LATEST);
        a.transaction(Durability::Flushed, |tx| {
            Box::pin(async move { tx.set_key_check(b"k").await })
        })
        .await
        .unwrap();
        let meta = b
            .read(|tx| Box::pin(async move { tx.key_meta().await }))
            .await
            .unwrap();
        assert_eq!(meta.key_check, Some(b"k".to_vec()));
        drop((a, b));
    }

    #[tokio::test]
    #[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
    async fn newer_schema_is_refused_and_left_untouched() {
        let (_admin, url) = fresh_database().await;
        PgStore::open(&url).await.unwrap();
        let db = connect(&url).await;
        db.execute("UPDATE jackal_schema SET version = 99", &[])
            .await
            .unwrap();
        let err = PgStore::open(&url).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("newer Jackal"), "{err}");
        let version: i64 = db
            .query_one("SELECT version FROM jackal_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, 99);
    }

    #[tokio::test]
    #[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
    async fn a_database_holding_other_tables_is_refused() {
        let (_admin, url) = fresh_database().await;
        let db = connect(&url).await;
        db.batch_execute("CREATE TABLE invoices (id int)")
            .await
            .unwrap();
        let err = PgStore::open(&url).await.unwrap_err();
        assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
        let tables: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(tables, 1, "nothing was created");
    }

    #[tokio::test]
    async fn an_absent_server_fails_naming_the_location_without_the_password() {
        // A closed port on loopback: nothing listens on port 1.
        let err = PgStore::open("postgresql://jackal:hunter2-secret@127.0.0.1:1/jackal?ssl=false")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("127.0.0.1:1"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[tokio::test]
    #[ignore = "live: needs PG_MAIN or the server of JACKAL_TEST_STORE (scripts/test-databases)"]
    async fn blocking_reads_answer_from_a_single_threaded_runtime() {
        let (_admin, url) = fresh_database().await;
        let store = PgStore::open(&url).await.unwrap();
        store
            .transaction(Durability::Flushed, |tx| {
                Box::pin(async move { tx.set_key_check(b"check").await })
            })
            .await
            .unwrap();
        // As an HTTP worker would: a current-thread runtime that blocks while it waits.
        let meta = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    store.read_blocking(|tx| Box::pin(async move { tx.key_meta().await }))
                })
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(meta.key_check, Some(b"check".to_vec()));
    }
}
