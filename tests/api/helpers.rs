//! Starts the real application on port 0 with a fresh store in a temporary directory: the SQLite
//! file `jackal.db` there, or, when JACKAL_TEST_STORE names a PostgreSQL server, a fresh database
//! of that directory's own (`jackal_t_…`, see `store_url`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use jackal::app::api_keys::KeyCredentials;
use jackal::clock::{Clock, ManualClock, SystemClock};
use jackal::config::Settings;
use jackal::startup::Application;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tempfile::TempDir;

pub const USER_AGENT: &str = "jackal-tests/1.0";
pub const VENDOR_ACCEPT: &str = "application/vnd.jackdb.v2+json";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub key: KeyCredentials,
    pub dir: TempDir,
    handle: ServerHandle,
}

pub fn test_key() -> KeyCredentials {
    KeyCredentials {
        id: uuid::Uuid::new_v4().to_string(),
        secret: "test-secret-0123456789abcdef".to_owned(),
    }
}

/// The settings of a test server whose files are in `dir`. On the PostgreSQL store
/// (`JACKAL_TEST_STORE`), the store is the database of `dir` (created here if it does not exist
/// yet) and the key file stays where the SQLite store keeps it, `dir/jackal.db.key`.
pub fn settings_in(dir: &Path) -> Settings {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.workers = 1;
    settings.store.path = dir.join("jackal.db");
    if let Some(url) = store_url(dir) {
        settings.store.url = Some(url);
        settings.secrets.key_file = Some(key_file_in(dir));
    }
    settings
}

// ---------------------------------------------------------------------------------------------
// The store the tests run on: the SQLite file `dir/jackal.db` (the default), or, when
// JACKAL_TEST_STORE names a PostgreSQL server (an admin URL such as
// postgresql://postgres@127.0.0.1:5432/postgres), a fresh database per test directory.
// ---------------------------------------------------------------------------------------------

/// The admin URL the tests create their PostgreSQL stores through, if they run on PostgreSQL.
pub fn test_store_admin() -> Option<String> {
    std::env::var("JACKAL_TEST_STORE")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// "sqlite" or "postgresql": the store this run of the tests uses.
pub fn store_backend() -> &'static str {
    if test_store_admin().is_some() {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// Waits until `done` answers true, asking every 10 ms; fails, naming `what`, once `within` has
/// passed. For a test that waits for something to happen (instead of sleeping a fixed time).
pub async fn wait_until<F, Fut>(within: std::time::Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !done().await {
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The key file of the store in `dir`, whatever the store (the SQLite default, set explicitly
/// for a PostgreSQL store, whose default would be `./jackal.key`).
pub fn key_file_in(dir: &Path) -> PathBuf {
    dir.join("jackal.db.key")
}

/// The database of the test directory `dir`: `jackal_t_` and the directory's name, an upper-case
/// letter written `_` and the letter, so that names stay distinct; the same directory (a restart)
/// gets the same database.
pub fn database_name(dir: &Path) -> String {
    let base = dir.file_name().unwrap().to_string_lossy();
    let mut name = String::from("jackal_t_");
    for c in base.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if c.is_ascii_uppercase() {
            name.push('_');
            name.push(c.to_ascii_lowercase());
        }
    }
    name.truncate(63);
    name
}

/// `admin` (`postgresql://user@host:port/db?options`) split into what precedes the database
/// name (`postgresql://user@host:port`) and the options.
fn split_admin_url(admin: &str) -> (&str, Option<&str>) {
    let (without_query, query) = match admin.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (admin, None),
    };
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    let base = match without_query[scheme_end..].find('/') {
        Some(i) => &without_query[..scheme_end + i],
        None => without_query,
    };
    (base, query)
}

/// The URL a client library (tokio-postgres) connects to database `db` with.
pub fn client_url(admin: &str, db: &str) -> String {
    format!("{}/{db}", split_admin_url(admin).0)
}

/// The URL Jackal is given for database `db`: its own options (`ssl=false` unless the admin URL
/// carries Jackal options itself).
pub fn jackal_url(admin: &str, db: &str) -> String {
    let (base, query) = split_admin_url(admin);
    format!("{base}/{db}?{}", query.unwrap_or("ssl=false"))
}

/// Connects to database `db` of the server of `admin`; the connection runs on the current
/// runtime.
pub async fn pg_connect(
    admin: &str,
    db: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) =
        tokio_postgres::connect(&client_url(admin, db), tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A PostgreSQL client error with its cause ("error connecting to server: Connection refused").
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Creates database `db` through `admin` unless it exists. `CREATE DATABASE` runs outside any
/// transaction; one that already exists (SQLSTATE 42P04) is fine.
pub async fn create_database(admin: &str, db: &str) -> Result<(), tokio_postgres::Error> {
    let client = pg_connect(admin, &split_admin_db(admin)).await?;
    let mut attempts = 0;
    loop {
        match client
            .batch_execute(&format!("CREATE DATABASE \"{db}\""))
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {
                return Ok(())
            }
            // "source database template1 is being accessed by other users": another CREATE
            // DATABASE at the same moment; try again.
            Err(e)
                if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE)
                    && attempts < 50 =>
            {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The database named in `admin` (`postgres` when it names none).
pub fn split_admin_db(admin: &str) -> String {
    let without_query = admin.split('?').next().unwrap();
    let base = split_admin_url(admin).0;
    let db = without_query[base.len()..].trim_start_matches('/');
    if db.is_empty() { "postgres" } else { db }.to_owned()
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own: callable from
/// sync code, inside a test's runtime or not.
fn block_on<T: Send + 'static>(future: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    })
    .join()
    .unwrap()
}

/// On the PostgreSQL store: the Jackal URL of the database of `dir`, created if it does not
/// exist yet. `None` on the SQLite store.
pub fn store_url(dir: &Path) -> Option<String> {
    static CREATED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let admin = test_store_admin()?;
    let db = database_name(dir);
    let known = CREATED
        .lock()
        .unwrap()
        .get_or_insert_with(HashSet::new)
        .contains(&db);
    if !known {
        let (a, d) = (admin.clone(), db.clone());
        block_on(async move { create_database(&a, &d).await }).unwrap_or_else(|e| {
            panic!(
                "cannot create the test store {db} through {admin}: {}",
                pg_error(&e)
            )
        });
        CREATED
            .lock()
            .unwrap()
            .get_or_insert_with(HashSet::new)
            .insert(db.clone());
    }
    Some(jackal_url(&admin, &db))
}

/// Points a `jackal` process at the store of `dir`: `JACKAL_STORE` is the SQLite file
/// `dir/jackal.db`, or on the PostgreSQL store the database of `dir` with the key file set
/// explicitly to `dir/jackal.db.key` (where the SQLite store keeps it).
pub fn store_env(cmd: &mut Command, dir: &Path) {
    match store_url(dir) {
        Some(url) => cmd
            .env("JACKAL_STORE", url)
            .env("JACKAL_SECRET_KEY_FILE", key_file_in(dir)),
        None => cmd
            .env("JACKAL_STORE", dir.join("jackal.db"))
            .env_remove("JACKAL_SECRET_KEY_FILE"),
    };
}

/// On the PostgreSQL store, a client on the database of `dir`; `None` on the SQLite store.
pub async fn pg_store(dir: &Path) -> Option<tokio_postgres::Client> {
    let admin = test_store_admin()?;
    store_url(dir);
    Some(
        pg_connect(&admin, &database_name(dir))
            .await
            .expect("connects to the test store"),
    )
}

/// Runs `sql`, one statement changing exactly one row (`$1` is `param`), in the store of `dir`
/// from this process, on a connection of its own, as another process would; the instant it
/// committed, for tests that time how soon a server sees the change.
pub async fn commit_in_store(dir: &Path, sql: &str, param: &str) -> std::time::Instant {
    match pg_store(dir).await {
        Some(client) => {
            let n = client.execute(sql, &[&param]).await.unwrap();
            let committed = std::time::Instant::now();
            assert_eq!(n, 1, "{sql}");
            committed
        }
        None => {
            let conn = rusqlite::Connection::open(dir.join("jackal.db")).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .unwrap();
            let n = conn.execute(&sql.replace("$1", "?1"), [param]).unwrap();
            let committed = std::time::Instant::now();
            assert_eq!(n, 1, "{sql}");
            committed
        }
    }
}

/// Everything the store of `dir` holds at rest, by place: on SQLite, the bytes of every file it
/// wrote (database, WAL, shared memory; not the key files); on PostgreSQL, the text of every row
/// of every table (`bytea` values appear in hex: search with [`holds`]).
pub async fn store_contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    if let Some(client) = pg_store(dir).await {
        let tables = client
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .await
            .unwrap();
        let mut found = Vec::new();
        for table in tables {
            let table: String = table.get(0);
            let rows = client
                .query(&format!("SELECT t::text FROM \"{table}\" t"), &[])
                .await
                .unwrap();
            let text: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            found.push((format!("table {table}"), text.join("\n").into_bytes()));
        }
        assert!(
            found.iter().any(|(name, _)| name == "table data_source"),
            "no data_source table in {}",
            database_name(dir)
        );
        return found;
    }
    let found: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("jackal.db") && !name.contains(".key")
        })
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    assert!(found.iter().any(|(name, _)| name.ends_with("jackal.db")));
    found
}

/// Whether `haystack` holds `needle`, as is or hex-encoded (as PostgreSQL writes `bytea`).
pub fn holds(haystack: &[u8], needle: &str) -> bool {
    let contains = |n: &[u8]| haystack.windows(n.len()).any(|w| w == n);
    contains(needle.as_bytes())
        || contains(hex::encode(needle).as_bytes())
        || contains(hex::encode_upper(needle).as_bytes())
}

pub async fn spawn_app() -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), test_key()).await
}

/// Starts a server on the store in `dir` (new or left by an earlier server).
pub async fn spawn_app_in(dir: TempDir, key: KeyCredentials) -> TestApp {
    spawn_app_with(dir, key, |_| {}).await
}

/// Starts a server with settings adjusted by `configure`.
pub async fn spawn_app_with(
    dir: TempDir,
    key: KeyCredentials,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = settings_in(dir.path());
    configure(&mut settings);
    start(dir, key, &settings, Arc::new(SystemClock)).await
}

/// Starts a server whose "now" is `clock` (a `ManualClock` the test moves).
pub async fn spawn_app_with_clock(clock: ManualClock) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_in(dir.path());
    start(dir, test_key(), &settings, Arc::new(clock)).await
}

async fn start(
    dir: TempDir,
    key: KeyCredentials,
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> TestApp {
    let app = Application::build_with_clock(settings, Some(&key), clock)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        key,
        dir,
        handle,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v2{path}", self.address)
    }

    /// A request with the headers curl sends in the vendor examples.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("User-Agent", USER_AGENT)
            .header("Accept", VENDOR_ACCEPT)
            .basic_auth(format!("{}@api", self.key.id), Some(&self.key.secret))
    }

    /// `request` with another API key's credentials.
    pub fn request_as(&self, key: &KeyCredentials, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("User-Agent", USER_AGENT)
            .header("Accept", VENDOR_ACCEPT)
            .basic_auth(format!("{}@api", key.id), Some(&key.secret))
    }

    /// A second API key in this server's store (created there directly, as `jackal api-key
    /// create` does).
    pub async fn create_key(&self, name: &str) -> KeyCredentials {
        let store = jackal::store::Store::connect(&settings_in(self.dir.path()).store)
            .await
            .unwrap();
        jackal::app::api_keys::create(&store, name).await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    /// A raw form body, exactly as `curl -d` sends it.
    pub async fn form(&self, method: Method, path: &str, body: &str) -> Response {
        self.request(method, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub async fn json(&self, method: Method, path: &str, body: &Value) -> Response {
        self.request(method, path).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path).send().await.unwrap()
    }

    /// Creates a data source from form pairs (each value form-encoded) and returns its JSON.
    pub async fn create(&self, pairs: &[(&str, &str)]) -> Value {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        let res = self.form(Method::POST, "/data-source", &body).await;
        ok_json(res).await
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.address))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Stops the server and hands back its directory, for a restart on the same store.
    pub async fn stop(self) -> (TempDir, KeyCredentials) {
        self.handle.stop(true).await;
        (self.dir, self.key)
    }
}

/// Asserts a 200 with the contract's content type and returns the body.
pub async fn ok_json(res: Response) -> Value {
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "body: {body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    serde_json::from_str(&body).unwrap()
}

/// Asserts an error status with the contract's `{"error": {"message", "code"}}` body; returns it.
pub async fn error_json(res: Response, status: u16, code: &str) -> Value {
    let actual = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    assert_eq!(actual, status, "body: {body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/json; charset=utf-8"),
        "body: {body}"
    );
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["error"]["code"], code, "body: {body}");
    let message = value["error"]["message"].as_str().unwrap();
    assert!(
        message.len() > 10,
        "a message that says what to fix: {body}"
    );
    value
}
