//! The PostgreSQL store, for several servers sharing one database.
//!
//! Everything that must hold across servers is left to PostgreSQL: uniqueness to unique
//! constraints (a violation is `Taken`, whichever server inserted first), cascades to foreign
//! keys, concurrent changes of one row to row locks (`FOR UPDATE`), and the schema migration to
//! an advisory lock so two servers starting at once migrate once. Nothing is cached in the
//! process, so a write on one server is read on another at once.
//!
//! Connections live on a small runtime of the store's own. Sealing a password reads the key
//! meta synchronously (`key_meta_blocking`), from any thread, including an HTTP worker's
//! single-threaded runtime that cannot run a connection's I/O while it waits; on a runtime of
//! their own the connections keep running whoever waits.

mod audit;
mod migrations;
mod people;
mod permissions;
mod roles;
mod schema_snapshots;
mod secrets;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use jackal_drivers::{ConnectionSpec, Kind};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::model::KEY_CHECK;
use super::{ApiKeyRow, AuditContext, AuditEvent, DataSourceRow, Entity, Page, StoreError, Unique};
use crate::store::events;

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
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    latency: OnceLock<prometheus::HistogramVec>,
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

/// A connection, or a transaction on one: what the queries below run on.
#[derive(Clone, Copy)]
pub(super) enum Db<'a> {
    Client(&'a deadpool_postgres::Client),
    Tx(&'a deadpool_postgres::Transaction<'a>),
}

impl Db<'_> {
    async fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        Ok(match self {
            Db::Client(c) => c.prepare_cached(sql).await?,
            Db::Tx(t) => t.prepare_cached(sql).await?,
        })
    }

    pub(super) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let stmt = self.statement(sql).await?;
        Ok(match self {
            Db::Client(c) => c.query(&stmt, params).await?,
            Db::Tx(t) => t.query(&stmt, params).await?,
        })
    }

    pub(super) async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let stmt = self.statement(sql).await?;
        Ok(match self {
            Db::Client(c) => c.query_opt(&stmt, params).await?,
            Db::Tx(t) => t.query_opt(&stmt, params).await?,
        })
    }

    pub(super) async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let stmt = self.statement(sql).await?;
        Ok(match self {
            Db::Client(c) => c.execute(&stmt, params).await?,
            Db::Tx(t) => t.execute(&stmt, params).await?,
        })
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

/// The constraint a unique violation broke, if `err` is one.
pub(super) fn unique_violation(err: &StoreError) -> Option<&str> {
    match err {
        StoreError::Postgres(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            e.as_db_error().and_then(|db| db.constraint())
        }
        _ => None,
    }
}

pub(super) const DATA_SOURCE_COLUMNS: &str = "id, name, alias, type, config_uri, password_enc, \
     created_at, updated_at, seq, description, last_test_ok, last_tested_at";

pub(super) fn data_source_from_row(row: &Row) -> Result<DataSourceRow, StoreError> {
    Ok(DataSourceRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        alias: row.try_get(2)?,
        kind: row.try_get(3)?,
        config_uri: row.try_get(4)?,
        password_enc: row.try_get(5)?,
        created_at: row.try_get(6)?,
        updated_at: row.try_get(7)?,
        seq: row.try_get(8)?,
        description: row.try_get(9)?,
        last_test_ok: row.try_get(10)?,
        last_tested_at: row.try_get(11)?,
    })
}

fn api_key_from_row(row: &Row) -> Result<ApiKeyRow, StoreError> {
    Ok(ApiKeyRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        secret_sha256: row.try_get(2)?,
        created_at: row.try_get(3)?,
        revoked_at: row.try_get(4)?,
    })
}

/// Every row mapped by `map`.
pub(super) fn map_all<T>(
    rows: Vec<Row>,
    map: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(map).collect()
}

/// The data source `key` names (an id wins over an alias); `lock` takes its row lock for the
/// rest of the transaction.
pub(super) async fn find_data_source(
    db: Db<'_>,
    key: &str,
    lock: bool,
) -> Result<Option<DataSourceRow>, StoreError> {
    let sql = format!(
        "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id = $1 OR alias = $1 \
         ORDER BY id = $1 DESC LIMIT 1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    db.query_opt(&sql, &[&key])
        .await?
        .as_ref()
        .map(data_source_from_row)
        .transpose()
}

pub(super) async fn resolve_data_source(
    db: Db<'_>,
    key: &str,
    lock: bool,
) -> Result<DataSourceRow, StoreError> {
    find_data_source(db, key, lock)
        .await?
        .ok_or_else(|| StoreError::NotFound(Entity::DataSource, key.to_owned()))
}

/// Appends `event` to the audit trail, in the caller's transaction.
pub(super) async fn record(
    db: Db<'_>,
    ctx: &AuditContext,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO audit_event (at, api_key_id, client_addr, action, object_type, object_id, changes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &ctx.at,
            &ctx.api_key_id,
            &ctx.client_addr,
            &event.action,
            &event.object_type,
            &event.object_id,
            &event.changes.to_string(),
        ],
    )
    .await?;
    Ok(())
}

fn alias_taken(alias: &str) -> StoreError {
    StoreError::Taken {
        field: Unique::Alias,
        value: alias.to_owned(),
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
        let manager = Manager::from_config(
            config,
            MakeRustlsConnect::new((*tls).clone()),
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
                runtime: Mutex::new(Some(runtime)),
                handle,
                latency: OnceLock::new(),
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

    pub fn instrument(&self, latency: prometheus::HistogramVec) {
        let _ = self.inner.latency.set(latency);
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            Db::Client(&client)
                .query("SELECT count(*) FROM meta", &[])
                .await?;
            Ok(())
        })
        .await
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

    // ---- meta ----

    pub async fn key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            Db::Client(&client)
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&KEY_CHECK])
                .await?
                .map(|r| r.try_get(0).map_err(StoreError::from))
                .transpose()
        })
        .await
    }

    pub async fn set_key_check(&self, value: Vec<u8>) -> Result<(), StoreError> {
        self.run("write", |pool| async move {
            let client = connection(&pool).await?;
            Db::Client(&client)
                .execute(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&KEY_CHECK, &value],
                )
                .await?;
            Ok(())
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
        self.run("write", |pool| async move {
            let mut row = row;
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let inserted = db
                .query_opt(
                    "INSERT INTO data_source (id, name, alias, type, config_uri, password_enc, \
                     created_at, updated_at, description, last_test_ok, last_tested_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq",
                    &[
                        &row.id,
                        &row.name,
                        &row.alias,
                        &row.kind,
                        &row.config_uri,
                        &row.password_enc,
                        &row.created_at,
                        &row.updated_at,
                        &row.description,
                        &row.last_test_ok,
                        &row.last_tested_at,
                    ],
                )
                .await;
            row.seq = match (inserted, &row.alias) {
                // Another server may have taken it a moment ago: the constraint decides.
                (Err(e), Some(alias))
                    if unique_violation(&e) == Some("data_source_alias_unique") =>
                {
                    return Err(alias_taken(alias))
                }
                (inserted, _) => inserted?
                    .ok_or_else(|| StoreError::Task("INSERT ... RETURNING gave no row".into()))?
                    .try_get(0)?,
            };
            record(db, &ctx, &events::data_source_created(&row)).await?;
            tx.commit().await?;
            Ok(row)
        })
        .await
    }

    pub async fn list_data_sources(&self, page: Page) -> Result<Vec<DataSourceRow>, StoreError> {
        let (limit, offset) = page.pg();
        self.run("read", move |pool| async move {
            let client = connection(&pool).await?;
            let rows = Db::Client(&client)
                .query(
                    &format!(
                        "SELECT {DATA_SOURCE_COLUMNS} FROM data_source ORDER BY seq \
                         LIMIT $1 OFFSET $2"
                    ),
                    &[&limit, &offset],
                )
                .await?;
            map_all(rows, data_source_from_row)
        })
        .await
    }

    pub async fn find_data_source(&self, key: &str) -> Result<Option<DataSourceRow>, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            find_data_source(Db::Client(&client), &key, false).await
        })
        .await
    }

    /// As `SqliteStore::update_data_source`; the row is locked from the read to the commit, so
    /// two servers updating one data source at once apply one change after the other.
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
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(StoreError::from)?;
            let db = Db::Tx(&tx);
            let Some(current) = find_data_source(db, &key, true).await? else {
                return Ok(None);
            };
            // `change` seals passwords, which may read the key meta synchronously through this
            // runtime: let the runtime carry on on another thread meanwhile.
            let mut next = tokio::task::block_in_place(|| change(&current))?;
            next.id = current.id.clone();
            next.created_at = current.created_at;
            next.updated_at = next.updated_at.max(current.updated_at + 1);
            next.seq = current.seq;
            let updated = db
                .execute(
                    "UPDATE data_source SET name = $2, alias = $3, type = $4, config_uri = $5, \
                     password_enc = $6, updated_at = $7, description = $8, last_test_ok = $9, \
                     last_tested_at = $10 WHERE id = $1",
                    &[
                        &next.id,
                        &next.name,
                        &next.alias,
                        &next.kind,
                        &next.config_uri,
                        &next.password_enc,
                        &next.updated_at,
                        &next.description,
                        &next.last_test_ok,
                        &next.last_tested_at,
                    ],
                )
                .await;
            match (&updated, &next.alias) {
                (Err(e), Some(alias))
                    if unique_violation(e) == Some("data_source_alias_unique") =>
                {
                    return Err(alias_taken(alias).into())
                }
                _ => updated?,
            };
            record(db, &ctx, &events::data_source_updated(&current, &next)).await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(Some(next))
        })
        .await
    }

    pub async fn delete_data_source(
        &self,
        key: &str,
        ctx: &AuditContext,
    ) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let Some(row) = find_data_source(db, &key, true).await? else {
                return Ok(false);
            };
            db.execute("DELETE FROM data_source WHERE id = $1", &[&row.id])
                .await?;
            record(db, &ctx, &events::data_source_deleted(&row)).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    // ---- API keys ----

    pub async fn insert_api_key(&self, row: ApiKeyRow) -> Result<(), StoreError> {
        self.run("write", |pool| async move {
            let client = connection(&pool).await?;
            Db::Client(&client)
                .execute(
                    "INSERT INTO api_key (id, name, secret_sha256, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &row.id,
                        &row.name,
                        &row.secret_sha256,
                        &row.created_at,
                        &row.revoked_at,
                    ],
                )
                .await?;
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
        self.run("write", |pool| async move {
            let client = connection(&pool).await?;
            Ok(Db::Client(&client)
                .execute(
                    "UPDATE api_key SET secret_sha256 = $2 WHERE id = $1",
                    &[&id, &secret_sha256],
                )
                .await?
                == 1)
        })
        .await
    }

    pub async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        let id = id.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            Db::Client(&client)
                .query_opt(
                    "SELECT id, name, secret_sha256, created_at, revoked_at FROM api_key \
                     WHERE id = $1",
                    &[&id],
                )
                .await?
                .as_ref()
                .map(api_key_from_row)
                .transpose()
        })
        .await
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, StoreError> {
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let rows = Db::Client(&client)
                .query(
                    "SELECT id, name, secret_sha256, created_at, revoked_at FROM api_key \
                     ORDER BY created_at, id",
                    &[],
                )
                .await?;
            map_all(rows, api_key_from_row)
        })
        .await
    }

    pub async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.run("write", |pool| async move {
            let client = connection(&pool).await?;
            Ok(Db::Client(&client)
                .execute(
                    "UPDATE api_key SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                    &[&id, &at],
                )
                .await?
                == 1)
        })
        .await
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

    /// A new empty database and its URL; `None` (the test skips) when no server answers,
    /// except under CI, where that fails the test.
    async fn fresh_database() -> Option<(tokio_postgres::Client, String)> {
        let admin = ConnectionSpec::parse(&admin_url()).unwrap();
        let conninfo = format!(
            "host={} port={} user={} dbname={}",
            admin.host().unwrap_or("127.0.0.1"),
            admin.effective_port().unwrap_or(5432),
            admin.user().unwrap_or("postgres"),
            admin.database().unwrap_or("postgres"),
        );
        let (client, conn) = match tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await {
            Ok(pair) => pair,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL at {conninfo} is required under CI: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no PostgreSQL at {conninfo}: {e}");
                return None;
            }
        };
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
        Some((client, url))
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
    async fn two_servers_starting_at_once_migrate_once() {
        let Some((_admin, url)) = fresh_database().await else {
            return;
        };
        let (a, b) = tokio::join!(PgStore::open(&url), PgStore::open(&url));
        let (a, b) = (a.unwrap(), b.unwrap());
        let db = connect(&url).await;
        let version: i64 = db
            .query_one("SELECT version FROM jackal_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, migrations::LATEST);
        a.set_key_check(b"k".to_vec()).await.unwrap();
        assert_eq!(b.key_check().await.unwrap(), Some(b"k".to_vec()));
        drop((a, b));
    }

    #[tokio::test]
    async fn newer_schema_is_refused_and_left_untouched() {
        let Some((_admin, url)) = fresh_database().await else {
            return;
        };
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
    async fn a_database_holding_other_tables_is_refused() {
        let Some((_admin, url)) = fresh_database().await else {
            return;
        };
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
    async fn key_meta_blocking_answers_from_a_single_threaded_runtime() {
        let Some((_admin, url)) = fresh_database().await else {
            return;
        };
        let store = PgStore::open(&url).await.unwrap();
        store.set_key_check(b"check".to_vec()).await.unwrap();
        // As an HTTP worker would: a current-thread runtime that blocks while it waits.
        let meta = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move { store.key_meta_blocking() })
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(meta.key_check, Some(b"check".to_vec()));
    }
}
