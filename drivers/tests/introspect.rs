//! Introspection against the real servers `scripts/test-databases` sets up (see `common`): each
//! test makes its own database (or SQLite file) with a unique name, introspects it and drops it;
//! plus the failures a test of the connection also classifies (denied, refused, wrong password).

mod common;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    ca_dir, require, silent_listener, CA_PEM, DATABASE, MARIADB_ADMIN_USER, MARIADB_PLAIN,
    MARIADB_TLS, PASSWORD, PG_ADMIN_USER, PG_MAIN, PG_PLAIN, PG_TLS, USER,
};
use jackal_drivers::{
    introspect, Column, ConnectionSpec, EgressPolicy, ErrorCode, IntrospectionReport, Phase,
    ProbeContext, SchemaSnapshot, StaticResolver, Table, TableKind,
};
use mysql_async::prelude::Queryable;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WRONG_PASSWORD: &str = "Introspect-Wr0ng-Pw-5521";

/// Names resolve only through a static resolver; loopback is allowed; the default 10 s deadline.
fn context() -> ProbeContext {
    ProbeContext {
        resolver: Arc::new(StaticResolver::new().answer("localhost", &[LOOPBACK])),
        egress: EgressPolicy::allow_all(),
        sqlite_allowed_dirs: Vec::new(),
        ssl_root_cert_dirs: vec![ca_dir()],
        default_timeout: Duration::from_secs(10),
        ssh_resolves_names: false,
    }
}

async fn run_with(uri: &str, ctx: &ProbeContext) -> IntrospectionReport {
    let spec = ConnectionSpec::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
    introspect(&spec, ctx).await
}

async fn run(uri: &str) -> IntrospectionReport {
    run_with(uri, &context()).await
}

fn phases(report: &IntrospectionReport) -> Vec<(Phase, bool)> {
    report.phases.iter().map(|p| (p.phase, p.ok)).collect()
}

fn listed(report: &IntrospectionReport) -> &SchemaSnapshot {
    match &report.outcome {
        Ok((_, snapshot)) => snapshot,
        Err(f) => panic!("expected success, got {f:?}; phases {:?}", report.phases),
    }
}

/// The failure of `report`, checked to be `code`, to hold no password, and to end in a failed
/// phase; no schema is reported.
fn failure(report: &IntrospectionReport, code: ErrorCode) -> String {
    let failure = match &report.outcome {
        Ok((_, s)) => panic!("expected {code:?}, got success: {s:?}"),
        Err(f) => f,
    };
    assert_eq!(failure.code, code, "{}", failure.message);
    for secret in [PASSWORD.get(), WRONG_PASSWORD] {
        assert!(!failure.message.contains(secret), "{}", failure.message);
    }
    assert!(
        report.phases.last().is_some_and(|p| !p.ok),
        "{:?}",
        report.phases
    );
    failure.message.clone()
}

/// A name no other run uses: `jackal_introspect_<what>_<pid>_<nanoseconds>`.
fn unique(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("jackal_introspect_{what}_{}_{nanos}", std::process::id())
}

fn col(name: &str, data_type: &str, nullable: bool) -> Column {
    Column {
        name: name.to_owned(),
        data_type: data_type.to_owned(),
        nullable,
    }
}

fn table(name: &str, kind: TableKind, columns: Vec<Column>) -> Table {
    Table {
        name: name.to_owned(),
        kind,
        columns,
    }
}

fn schema_names(snapshot: &SchemaSnapshot) -> Vec<&str> {
    snapshot.schemas.iter().map(|s| s.name.as_str()).collect()
}

/// Runs `check` in its own task, then `cleanup` whatever happened, then fails as `check` did.
async fn with_cleanup<C, D>(check: C, cleanup: D)
where
    C: Future<Output = ()> + Send + 'static,
    D: Future<Output = ()>,
{
    let outcome = tokio::spawn(check).await;
    cleanup.await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

// --- PostgreSQL ------------------------------------------------------------------------------

/// A superuser connection to the main server (trust auth).
async fn pg_admin(database: &str) -> tokio_postgres::Client {
    let main: SocketAddr = PG_MAIN.get().parse().unwrap();
    let (client, connection) = tokio_postgres::Config::new()
        .host(main.ip().to_string())
        .port(main.port())
        .user(PG_ADMIN_USER.get())
        .dbname(database)
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {PG_MAIN}/{database}: {e}"));
    tokio::spawn(connection);
    client
}

async fn pg_create_database(name: &str) {
    pg_admin("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
}

async fn pg_drop_database(name: &str) {
    if let Err(e) = pg_admin("postgres")
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
    {
        eprintln!("could not drop database {name}: {e}");
    }
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn postgres_lists_schemas_tables_views_and_columns_exactly() {
    require(&[&PG_MAIN]);
    let db = unique("pg");
    pg_create_database(&db).await;
    let name = db.clone();
    let check = async move {
        pg_admin(&name)
            .await
            .batch_execute(
                "CREATE SCHEMA shop;
                 CREATE SCHEMA empty_schema;
                 CREATE TABLE shop.orders (
                     id integer NOT NULL,
                     note text,
                     gone integer,
                     total numeric(10,2),
                     placed_at timestamptz NOT NULL,
                     doc jsonb
                 );
                 ALTER TABLE shop.orders DROP COLUMN gone;
                 CREATE TABLE shop.no_columns ();
                 CREATE VIEW shop.big_orders AS
                     SELECT id, total FROM shop.orders WHERE total > 100;
                 CREATE MATERIALIZED VIEW shop.order_totals AS
                     SELECT count(*) AS orders, sum(total) AS total FROM shop.orders;
                 CREATE SEQUENCE shop.not_listed;
                 CREATE INDEX orders_id ON shop.orders (id);
                 CREATE TYPE shop.mood AS (happy boolean);",
            )
            .await
            .expect("creating the test schema");

        // With TLS (not verified: the main server's certificate is self-signed).
        let report = run(&format!(
            "postgresql://{PG_ADMIN_USER}@{PG_MAIN}/{name}?ssl=true&validateSsl=false"
        ))
        .await;
        let snapshot = listed(&report);
        assert_eq!(
            phases(&report),
            [
                (Phase::Resolve, true),
                (Phase::Connect, true),
                (Phase::Tls, true),
                (Phase::Auth, true),
                (Phase::Query, true),
                (Phase::Introspect, true),
            ]
        );
        assert!(report.tls.as_ref().is_some_and(|t| t.enabled));
        let (version, _) = report.outcome.as_ref().unwrap();
        assert_eq!(version.product_name, "PostgreSQL");

        // Only the connected database; no system schema; empty schemas too; by name.
        assert_eq!(schema_names(snapshot), ["empty_schema", "public", "shop"]);
        assert!(snapshot.schema("empty_schema").unwrap().tables.is_empty());
        assert!(snapshot.schema("public").unwrap().tables.is_empty());
        let shop = snapshot.schema("shop").unwrap();
        assert_eq!(
            shop.tables,
            [
                table(
                    "big_orders",
                    TableKind::View,
                    vec![
                        col("id", "integer", true),
                        col("total", "numeric(10,2)", true)
                    ]
                ),
                table("no_columns", TableKind::Table, vec![]),
                table(
                    "order_totals",
                    TableKind::MaterializedView,
                    vec![col("orders", "bigint", true), col("total", "numeric", true)]
                ),
                table(
                    "orders",
                    TableKind::Table,
                    vec![
                        col("id", "integer", false),
                        col("note", "text", true),
                        col("total", "numeric(10,2)", true),
                        col("placed_at", "timestamp with time zone", false),
                        col("doc", "jsonb", true),
                    ]
                ),
            ]
        );
        assert_eq!(snapshot.table_count(), 2);
        assert_eq!(snapshot.view_count(), 2);
        assert_eq!(snapshot.column_count(), 9);

        // Serialized with the names the API uses.
        let json = serde_json::to_value(snapshot).unwrap();
        let orders = &json["schemas"][2]["tables"][3];
        assert_eq!(orders["name"], "orders");
        assert_eq!(orders["kind"], "table");
        assert_eq!(orders["columns"][0]["dataType"], "integer");
        assert_eq!(orders["columns"][0]["nullable"], false);
        assert_eq!(json["schemas"][2]["tables"][2]["kind"], "materialized_view");
    };
    with_cleanup(check, pg_drop_database(&db)).await;
}

#[tokio::test]
#[ignore = "live: needs PG_TLS (scripts/test-databases)"]
async fn postgres_introspection_verifies_tls_like_the_test() {
    require(&[&PG_TLS]);
    let report = run(&format!(
        "postgresql://{USER}:{PASSWORD}@{PG_TLS}/{DATABASE}?validateSsl=true&sslRootCert={CA_PEM}"
    ))
    .await;
    let snapshot = listed(&report);
    assert!(
        report.tls.as_ref().is_some_and(|t| t.enabled && t.verified),
        "{:?}",
        report.tls
    );
    assert!(snapshot.schema("public").is_some(), "{snapshot:?}");
    assert!(
        !schema_names(snapshot)
            .iter()
            .any(|s| s.starts_with("pg_") || *s == "information_schema"),
        "{:?}",
        schema_names(snapshot)
    );

    // The same server's certificate is not trusted without sslRootCert: no listing.
    let report = run(&format!(
        "postgresql://{USER}:{PASSWORD}@{PG_TLS}/{DATABASE}?validateSsl=true"
    ))
    .await;
    failure(&report, ErrorCode::TlsFailed);
    assert_eq!(phases(&report).last(), Some(&(Phase::Tls, false)));
}

#[tokio::test]
#[ignore = "live: needs PG_PLAIN (scripts/test-databases)"]
async fn postgres_wrong_password_is_auth_failed_and_lists_nothing() {
    require(&[&PG_PLAIN]);
    let report = run(&format!(
        "postgresql://{USER}:{WRONG_PASSWORD}@{PG_PLAIN}/{DATABASE}?ssl=false"
    ))
    .await;
    let message = failure(&report, ErrorCode::AuthFailed);
    assert!(message.contains(USER.get()), "{message}");
    assert_eq!(phases(&report).last(), Some(&(Phase::Auth, false)));
}

#[tokio::test]
#[ignore = "live: needs PG_MAIN (scripts/test-databases)"]
async fn postgres_10000_tables_introspect_within_the_default_deadline() {
    require(&[&PG_MAIN]);
    const TABLES: usize = 10_000;
    let db = unique("pg10k");
    pg_create_database(&db).await;
    let name = db.clone();
    let check = async move {
        let created = std::time::Instant::now();
        // Four connections, each creating a quarter of the tables and committing every 500:
        // one transaction creating 10,000 would need more locks than the server's lock table
        // holds. (A DO block may commit only when sent alone.) Two columns each, neither
        // needing a TOAST table, so each table is one file to create and to remove.
        const CONNECTIONS: usize = 4;
        let per_connection = TABLES / CONNECTIONS;
        let batches = (0..CONNECTIONS).map(|k| {
            let name = name.clone();
            async move {
                let client = pg_admin(&name).await;
                client
                    .batch_execute("SET synchronous_commit = off")
                    .await
                    .unwrap();
                let (first, last) = (k * per_connection + 1, (k + 1) * per_connection);
                client
                    .batch_execute(&format!(
                        "DO $$
                         BEGIN
                             FOR i IN {first}..{last} LOOP
                                 EXECUTE format(
                                     'CREATE TABLE t%s (id integer NOT NULL, amount numeric(12,2))',
                                     i
                                 );
                                 IF i % 500 = 0 THEN COMMIT; END IF;
                             END LOOP;
                         END $$"
                    ))
                    .await
                    .expect("creating tables");
            }
        });
        futures_util::future::join_all(batches).await;
        eprintln!("created {TABLES} tables in {:?}", created.elapsed());

        // No connectTimeout: the default 10 s deadline.
        let ctx = context();
        assert_eq!(ctx.default_timeout, Duration::from_secs(10));
        let report = run_with(
            &format!("postgresql://{PG_ADMIN_USER}@{PG_MAIN}/{name}?ssl=true"),
            &ctx,
        )
        .await;
        let introspect_phase = report
            .phases
            .iter()
            .find(|p| p.phase == Phase::Introspect)
            .map(|p| p.elapsed);
        eprintln!(
            "introspected {TABLES} tables in {:?} (introspect phase {:?})",
            report.duration, introspect_phase
        );
        let snapshot = listed(&report);
        assert!(report.duration < Duration::from_secs(10), "{report:?}");
        assert_eq!(snapshot.table_count(), TABLES);
        assert_eq!(snapshot.view_count(), 0);
        assert_eq!(snapshot.column_count(), 2 * TABLES);
        let public = snapshot.schema("public").expect("public");
        assert_eq!(public.tables.len(), TABLES);
        assert_eq!(
            public.table("t9999").expect("t9999").columns,
            [
                col("id", "integer", false),
                col("amount", "numeric(12,2)", true)
            ]
        );
    };
    with_cleanup(check, pg_drop_database(&db)).await;
}

// --- MySQL / MariaDB --------------------------------------------------------------------------

/// The main MariaDB as root (no password from 127.0.0.1).
async fn mariadb_root() -> mysql_async::Conn {
    let addr: SocketAddr = MARIADB_PLAIN.get().parse().unwrap();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some(MARIADB_ADMIN_USER.get()))
        .prefer_socket(false);
    mysql_async::Conn::new(opts)
        .await
        .expect("root login to MariaDB")
}

async fn mariadb_drop_database(name: &str) {
    let mut conn = mariadb_root().await;
    if let Err(e) = conn
        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
    {
        eprintln!("could not drop database {name}: {e}");
    }
    let _ = conn.disconnect().await;
}

#[tokio::test]
#[ignore = "live: needs MARIADB_PLAIN (scripts/test-databases)"]
async fn mariadb_lists_the_named_database_exactly_and_every_other_without_one() {
    require(&[&MARIADB_PLAIN]);
    let db = unique("my");
    let name = db.clone();
    let check = async move {
        let mut conn = mariadb_root().await;
        conn.query_drop(format!(
            "CREATE DATABASE `{name}`;
             CREATE TABLE `{name}`.orders (
                 id INT NOT NULL,
                 note VARCHAR(40) NULL,
                 total DECIMAL(10,2),
                 placed_at DATETIME NOT NULL,
                 doc JSON
             );
             CREATE TABLE `{name}`.empty_one (only_column TINYINT(1) NOT NULL);
             CREATE VIEW `{name}`.big_orders AS
                 SELECT id, total FROM `{name}`.orders WHERE total > 100;"
        ))
        .await
        .expect("creating the test database");
        let _ = conn.disconnect().await;

        let report = run(&format!(
            "mysql://{MARIADB_ADMIN_USER}@{MARIADB_PLAIN}/{name}?ssl=false"
        ))
        .await;
        let snapshot = listed(&report);
        assert_eq!(
            phases(&report),
            [
                (Phase::Resolve, true),
                (Phase::Connect, true),
                (Phase::Query, true),
                (Phase::Introspect, true),
            ]
        );
        let (version, _) = report.outcome.as_ref().unwrap();
        assert_eq!(version.product_name, "MariaDB");
        assert_eq!(schema_names(snapshot), [name.as_str()]);
        assert_eq!(
            snapshot.schemas[0].tables,
            [
                table(
                    "big_orders",
                    TableKind::View,
                    vec![
                        col("id", "int(11)", false),
                        col("total", "decimal(10,2)", true)
                    ]
                ),
                table(
                    "empty_one",
                    TableKind::Table,
                    vec![col("only_column", "tinyint(1)", false)]
                ),
                table(
                    "orders",
                    TableKind::Table,
                    vec![
                        col("id", "int(11)", false),
                        col("note", "varchar(40)", true),
                        col("total", "decimal(10,2)", true),
                        col("placed_at", "datetime", false),
                        // MariaDB's JSON is an alias of LONGTEXT (with a check).
                        col("doc", "longtext", true),
                    ]
                ),
            ]
        );
        assert_eq!(snapshot.table_count(), 2);
        assert_eq!(snapshot.view_count(), 1);
        assert_eq!(snapshot.column_count(), 8);

        // Without a database: every database but the system ones, this one included.
        let report = run(&format!(
            "mysql://{MARIADB_ADMIN_USER}@{MARIADB_PLAIN}?ssl=false"
        ))
        .await;
        let all = listed(&report);
        let names = schema_names(all);
        assert!(names.contains(&name.as_str()), "{names:?}");
        for system in ["mysql", "information_schema", "performance_schema", "sys"] {
            assert!(!names.contains(&system), "{system} in {names:?}");
        }
        assert_eq!(all.schema(&name), Some(&snapshot.schemas[0]));
    };
    with_cleanup(check, mariadb_drop_database(&db)).await;
}

#[tokio::test]
#[ignore = "live: needs MARIADB_TLS (scripts/test-databases)"]
async fn mariadb_introspection_over_verified_tls() {
    require(&[&MARIADB_TLS]);
    let report = run(&format!(
        "mysql://{USER}:{PASSWORD}@{MARIADB_TLS}/{DATABASE}?validateSsl=true&sslRootCert={CA_PEM}"
    ))
    .await;
    let snapshot = listed(&report);
    assert_eq!(schema_names(snapshot), [DATABASE.get()]);
    let tls = report.tls.as_ref().expect("TLS reported");
    assert!(
        tls.enabled && tls.verified && tls.protocol.is_some(),
        "{tls:?}"
    );
    assert_eq!(phases(&report).last(), Some(&(Phase::Introspect, true)));
}

#[tokio::test]
#[ignore = "live: needs MARIADB_PLAIN (scripts/test-databases)"]
async fn mariadb_wrong_password_is_auth_failed_and_lists_nothing() {
    require(&[&MARIADB_PLAIN]);
    let report = run(&format!(
        "mysql://{USER}:{WRONG_PASSWORD}@{MARIADB_PLAIN}/{DATABASE}?ssl=false"
    ))
    .await;
    let message = failure(&report, ErrorCode::AuthFailed);
    assert!(message.contains(USER.get()), "{message}");
    assert_eq!(phases(&report).last(), Some(&(Phase::Connect, false)));
}

// --- SQLite ----------------------------------------------------------------------------------

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("sqlite"));
        std::fs::create_dir(&dir).expect("creating a temporary directory");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sqlite_context(allowed: &Path) -> ProbeContext {
    ProbeContext {
        sqlite_allowed_dirs: vec![allowed.to_owned()],
        ..context()
    }
}

#[tokio::test]
async fn sqlite_lists_tables_and_views_read_only() {
    let dir = TempDir::new();
    let file = dir.path().join("shop.db");
    {
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.execute_batch(
            "CREATE TABLE orders (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 note TEXT,
                 total NUMERIC(10,2) NOT NULL,
                 anything
             );
             CREATE TABLE gone (x INTEGER);
             CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
             CREATE VIEW broken AS SELECT x FROM gone;
             DROP TABLE gone;
             CREATE INDEX orders_total ON orders (total);
             INSERT INTO orders (note, total) VALUES ('first', 1);
             ANALYZE;",
        )
        .unwrap();
    }
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();

    let uri = format!("sqlite://{}", file.display());
    let report = run_with(&uri, &sqlite_context(dir.path())).await;
    let snapshot = listed(&report);
    assert_eq!(
        phases(&report),
        [
            (Phase::Resolve, true),
            (Phase::Connect, true),
            (Phase::Introspect, true),
        ]
    );
    assert_eq!(report.outcome.as_ref().unwrap().0.product_name, "SQLite");
    assert_eq!(schema_names(snapshot), ["main"]);
    // sqlite_sequence and sqlite_stat1 are SQLite's own; the broken view has no columns.
    assert_eq!(
        snapshot.schemas[0].tables,
        [
            table(
                "big_orders",
                TableKind::View,
                vec![
                    col("id", "INTEGER", true),
                    col("total", "NUMERIC(10,2)", true)
                ]
            ),
            table("broken", TableKind::View, vec![]),
            table(
                "orders",
                TableKind::Table,
                vec![
                    col("id", "INTEGER", true),
                    col("note", "TEXT", true),
                    col("total", "NUMERIC(10,2)", false),
                    col("anything", "", true),
                ]
            ),
        ]
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        modified,
        "the file was not written"
    );
}

#[tokio::test]
async fn sqlite_outside_allowed_dirs_is_denied_and_a_missing_file_is_not_created() {
    let dir = TempDir::new();
    let elsewhere = TempDir::new();
    let file = elsewhere.path().join("x.db");
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch("CREATE TABLE t (a INTEGER)")
        .unwrap();
    let report = run_with(
        &format!("sqlite://{}", file.display()),
        &sqlite_context(dir.path()),
    )
    .await;
    failure(&report, ErrorCode::DeniedByPolicy);
    assert_eq!(phases(&report), [(Phase::Resolve, false)]);

    let missing = dir.path().join("missing.db");
    let report = run_with(
        &format!("sqlite://{}", missing.display()),
        &sqlite_context(dir.path()),
    )
    .await;
    failure(&report, ErrorCode::UnknownDatabase);
    assert!(!missing.exists(), "introspection created {missing:?}");
}

// --- what any test of the connection also refuses ------------------------------------------

#[tokio::test]
async fn denied_addresses_are_denied_by_policy_and_never_dialled() {
    let (port, accepted) = silent_listener().await;
    let ctx = ProbeContext {
        resolver: Arc::new(StaticResolver::new().answer("db.example.test", &[LOOPBACK])),
        egress: EgressPolicy::new(vec![], vec!["127.0.0.0/8".parse().unwrap()]),
        ..context()
    };
    for uri in [
        format!("postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/db"),
        format!("postgresql://{USER}:{PASSWORD}@db.example.test:{port}/db"),
        format!("mysql://{USER}:{PASSWORD}@127.0.0.1:{port}/db"),
        format!("mysql://{USER}:{PASSWORD}@db.example.test:{port}/db"),
    ] {
        let report = run_with(&uri, &ctx).await;
        let message = failure(&report, ErrorCode::DeniedByPolicy);
        assert!(message.contains("127.0.0.0/8"), "{uri}: {message}");
        assert_eq!(phases(&report), [(Phase::Resolve, false)], "{uri}");
        assert_eq!(report.address, None, "{uri}");
    }
    // A negative: a dial let through would reach the listener well within this wait.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the listener was dialled"
    );
}

#[tokio::test]
async fn closed_port_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for uri in [
        format!("postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/db"),
        format!("mysql://{USER}:{PASSWORD}@127.0.0.1:{port}/db"),
    ] {
        let report = run(&uri).await;
        let message = failure(&report, ErrorCode::Refused);
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert_eq!(
            phases(&report),
            [(Phase::Resolve, true), (Phase::Connect, false)],
            "{uri}"
        );
    }
}

#[tokio::test]
async fn silent_server_times_out_within_the_deadline() {
    let (port, _) = silent_listener().await;
    for uri in [
        format!("postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/db?ssl=false&connectTimeout=1"),
        format!("mysql://{USER}:{PASSWORD}@127.0.0.1:{port}/db?connectTimeout=1"),
    ] {
        let started = std::time::Instant::now();
        let report = run(&uri).await;
        failure(&report, ErrorCode::Timeout);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{uri}: {:?}",
            started.elapsed()
        );
    }
}
