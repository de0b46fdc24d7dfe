//! The true product behind the wire, against test servers that replay each product's documented
//! start-up and answers: PostgreSQL-wire ones built with `pgwire`, MySQL-wire ones with
//! `opensrv-mysql` (those products cannot run here). Each server records the queries it was
//! asked, so the tests also show that a plain product costs no extra query and that the extra
//! one (`@@memsql_version`) is asked only when `@@version_comment` names SingleStore.

use std::collections::HashMap;
use std::fmt::Debug;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::{stream, Sink};
use jackal_drivers::{
    probe, ConnectionSpec, EgressPolicy, ProbeContext, ServerVersion, StaticResolver,
};
use opensrv_mysql::{
    AsyncMysqlIntermediary, AsyncMysqlShim, Column, ColumnFlags, ColumnType, ErrorKind, InitWriter,
    OkResponse, ParamParser, QueryResultWriter, StatementMetaWriter,
};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    ServerParameterProvider, StartupHandler,
};
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::io::AsyncWrite;
use tokio::net::TcpListener;

type Asked = Arc<Mutex<Vec<String>>>;

/// An Aurora cluster endpoint's name, which only the tests' resolver knows (as 127.0.0.1).
const AURORA_HOST: &str = "prod.cluster-c9akciq32.us-east-1.rds.amazonaws.com";

fn ctx() -> ProbeContext {
    ProbeContext {
        egress: EgressPolicy::allow_all(),
        default_timeout: Duration::from_secs(5),
        resolver: Arc::new(
            StaticResolver::new().answer(AURORA_HOST, &[std::net::IpAddr::from([127, 0, 0, 1])]),
        ),
        ..ProbeContext::default()
    }
}

/// What a product answers: its start-up parameters (PostgreSQL wire), its handshake version
/// (MySQL wire) and the text of each query it knows.
#[derive(Clone, Default)]
struct Replay {
    parameters: Vec<(&'static str, &'static str)>,
    handshake_version: &'static str,
    answers: HashMap<&'static str, &'static str>,
    asked: Asked,
}

// --- PostgreSQL wire ----------------------------------------------------------------------------

struct PgProduct(Replay);

impl ServerParameterProvider for PgProduct {
    fn server_parameters<C: ClientInfo>(&self, _client: &C) -> Option<HashMap<String, String>> {
        Some(
            self.0
                .parameters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

#[async_trait]
impl StartupHandler for PgProduct {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(ref startup) = message {
            protocol_negotiation(client, startup).await?;
            save_startup_parameters_to_metadata(client, startup);
            // Trust, as the local PostgreSQL here: no password exchange.
            finish_authentication(client, self).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl SimpleQueryHandler for PgProduct {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
    {
        self.0.asked.lock().unwrap().push(query.to_owned());
        let Some(answer) = self.0.answers.get(query) else {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".into(),
                "42883".into(),
                format!("not replayed: {query}"),
            ))));
        };
        let field = FieldInfo::new("version".into(), None, None, Type::TEXT, FieldFormat::Text);
        let schema = Arc::new(vec![field]);
        let mut encoder = DataRowEncoder::new(schema.clone());
        encoder.encode_field(&Some(*answer))?;
        let row = encoder.take_row();
        Ok(vec![Response::Query(QueryResponse::new(
            schema,
            stream::iter(vec![Ok(row)]),
        ))])
    }
}

struct PgHandlers(Arc<PgProduct>);

impl PgWireServerHandlers for PgHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.0.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.0.clone()
    }
}

async fn serve_pg(replay: Replay) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let product = Arc::new(PgProduct(replay));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let handlers = PgHandlers(product.clone());
            tokio::spawn(
                async move { pgwire::tokio::process_socket(socket, None, handlers).await },
            );
        }
    });
    port
}

// --- MySQL wire ---------------------------------------------------------------------------------

struct MyProduct(Replay);

#[async_trait]
impl<W: AsyncWrite + Send + Unpin> AsyncMysqlShim<W> for MyProduct {
    type Error = io::Error;

    fn version(&self) -> String {
        self.0.handshake_version.to_owned()
    }

    async fn on_prepare<'a>(
        &'a mut self,
        _: &'a str,
        info: StatementMetaWriter<'a, W>,
    ) -> io::Result<()> {
        info.error(ErrorKind::ER_NOT_SUPPORTED_YET, b"no prepared statements")
            .await
    }

    async fn on_execute<'a>(
        &'a mut self,
        _: u32,
        _: ParamParser<'a>,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        results.completed(OkResponse::default()).await
    }

    async fn on_close(&mut self, _: u32) {}

    /// The database named at login: accepted (the crate leaves the answer to the shim).
    async fn on_init<'a>(&'a mut self, _: &'a str, w: InitWriter<'a, W>) -> io::Result<()> {
        w.ok().await
    }

    async fn on_query<'a>(
        &'a mut self,
        sql: &'a str,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        self.0.asked.lock().unwrap().push(sql.to_owned());
        // `SELECT a, b`: each item answered as `SELECT a` and `SELECT b` are; an item the
        // product does not replay is an error, as an unknown variable would be.
        let items: Vec<&str> = sql.trim_start_matches("SELECT ").split(", ").collect();
        let answers: Option<Vec<&str>> = items
            .iter()
            .map(|item| {
                self.0
                    .answers
                    .get(format!("SELECT {item}").as_str())
                    .copied()
            })
            .collect();
        let Some(answers) = answers else {
            return results
                .error(
                    ErrorKind::ER_UNKNOWN_ERROR,
                    format!("not replayed: {sql}").as_bytes(),
                )
                .await;
        };
        let columns: Vec<Column> = items
            .iter()
            .map(|item| Column {
                table: String::new(),
                column: (*item).to_owned(),
                coltype: ColumnType::MYSQL_TYPE_VAR_STRING,
                colflags: ColumnFlags::empty(),
            })
            .collect();
        let mut rows = results.start(&columns).await?;
        rows.write_row(answers).await?;
        rows.finish().await
    }
}

async fn serve_mysql(replay: Replay) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let product = MyProduct(replay.clone());
            let (r, w) = socket.into_split();
            tokio::spawn(async move { AsyncMysqlIntermediary::run_on(product, r, w).await });
        }
    });
    port
}

// --- the tests ----------------------------------------------------------------------------------

/// The product `replay` is taken for, and the queries it was asked.
async fn identified(scheme: &str, replay: Replay) -> (ServerVersion, Vec<String>) {
    identified_at(scheme, "127.0.0.1", replay).await
}

/// [`identified`], the server named `host` in configUri.
async fn identified_at(scheme: &str, host: &str, replay: Replay) -> (ServerVersion, Vec<String>) {
    let asked = replay.asked.clone();
    let port = match scheme {
        "postgresql" => serve_pg(replay).await,
        _ => serve_mysql(replay).await,
    };
    let uri = format!("{scheme}://app:pw@{host}:{port}/db?ssl=false");
    let report = probe(&ConnectionSpec::parse(&uri).unwrap(), &ctx()).await;
    let version = report
        .outcome
        .unwrap_or_else(|f| panic!("{uri}: {f:?}; phases {:?}", report.phases));
    let asked = asked.lock().unwrap().clone();
    (version, asked)
}

fn summary(v: &ServerVersion) -> String {
    let wire = v
        .compatible_with
        .as_ref()
        .map(|c| format!(" on {} {}", c.product_name, c.product_version))
        .unwrap_or_default();
    format!(
        "{} {} ({}.{}.{}){wire}",
        v.product_name, v.product_version, v.major, v.minor, v.patch
    )
}

fn pg_replay(parameters: Vec<(&'static str, &'static str)>, version: &'static str) -> Replay {
    Replay {
        parameters,
        answers: HashMap::from([("SELECT version()", version)]),
        ..Replay::default()
    }
}

#[tokio::test]
async fn postgresql_wire_products_are_named_from_one_query() {
    const CRDB: &str =
        "CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built 2023/09/27 01:53:43, go1.19.13)";
    const REDSHIFT: &str = "PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.54052";
    const YB: &str = "PostgreSQL 11.2-YB-2.18.0.0-b0 on x86_64-pc-linux-gnu, compiled by clang version 15.0.3, 64-bit";
    const GP: &str = "PostgreSQL 12.12 (Greenplum Database 7.0.0 build commit:0a7a3566873325aca1789ae6f818c80f17a9402d Open Source) on x86_64-pc-linux-gnu, compiled by gcc (GCC) 8.5.0, 64-bit";
    const PG: &str =
        "PostgreSQL 15.19 (Debian 15.19-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc, 64-bit";
    let cases = [
        (
            pg_replay(
                vec![("server_version", "13.0.0"), ("crdb_version", CRDB)],
                CRDB,
            ),
            "CockroachDB 23.1.11 (23.1.11) on PostgreSQL 13.0.0",
        ),
        (
            pg_replay(vec![("server_version", "8.0.2")], REDSHIFT),
            "Amazon Redshift 1.0.54052 (1.0.54052) on PostgreSQL 8.0.2",
        ),
        (
            pg_replay(vec![("server_version", "11.2-YB-2.18.0.0-b0")], YB),
            "YugabyteDB 2.18.0.0 (2.18.0) on PostgreSQL 11.2",
        ),
        (
            pg_replay(vec![("server_version", "12.12")], GP),
            "Greenplum 7.0.0 (7.0.0) on PostgreSQL 12.12",
        ),
        (
            pg_replay(
                vec![("server_version", "15.19 (Debian 15.19-0+deb12u1)")],
                PG,
            ),
            "PostgreSQL 15.19 (15.19.0)",
        ),
    ];
    for (replay, want) in cases {
        let text = replay.answers["SELECT version()"];
        let (version, asked) = identified("postgresql", replay).await;
        assert_eq!(summary(&version), want);
        assert_eq!(version.version_string.as_deref(), Some(text));
        assert_eq!(version.description, text);
        // One query, whatever the product: the signals come with what the test asks anyway.
        assert_eq!(asked, ["SELECT version()"], "{want}");
    }
}

fn my_replay(
    version: &'static str,
    comment: &'static str,
    memsql_version: Option<&'static str>,
) -> Replay {
    let mut answers = HashMap::from([
        ("SELECT VERSION()", version),
        ("SELECT @@version_comment", comment),
    ]);
    if let Some(own) = memsql_version {
        answers.insert("SELECT @@memsql_version", own);
    }
    Replay {
        handshake_version: version,
        answers,
        ..Replay::default()
    }
}

#[tokio::test]
async fn mysql_wire_products_ask_a_second_query_only_when_the_comment_says_so() {
    const VITESS: &str = "Version: 19.0.4 (Git revision 3eb4ab0 branch 'HEAD') built on Wed Jun  5 2024 by vitess@buildkitsandbox using go1.22.3 linux/amd64";
    const MEMSQL: &str =
        "MemSQL source distribution (compatible; MySQL Enterprise & MySQL Commercial)";
    let cases = [
        (
            my_replay(
                "8.0.11-TiDB-v7.5.0",
                "TiDB Server (Apache License 2.0) Community Edition, MySQL 8.0 compatible",
                None,
            ),
            "TiDB 7.5.0 (7.5.0) on MySQL 8.0.11",
        ),
        (
            my_replay("8.0.30-Vitess", VITESS, None),
            "Vitess 19.0.4 (19.0.4) on MySQL 8.0.30",
        ),
        (
            my_replay("8.0.34-PlanetScale", "PlanetScale", None),
            "PlanetScale  (0.0.0) on MySQL 8.0.34",
        ),
        (
            my_replay("5.7.99", "Doris version doris-2.1.7-rc03-443e87e203", None),
            "Apache Doris 2.1.7 (2.1.7) on MySQL 5.7.99",
        ),
        (
            my_replay("5.1.0", "StarRocks version 2.1.2", None),
            "StarRocks 2.1.2 (2.1.2) on MySQL 5.1.0",
        ),
        (
            my_replay("5.7.32", MEMSQL, Some("8.5.7")),
            "SingleStore 8.5.7 (8.5.7) on MySQL 5.7.32",
        ),
        (
            my_replay("10.11.6-MariaDB-0+deb12u1", "Debian 12", None),
            "MariaDB 10.11.6 (10.11.6)",
        ),
        (
            my_replay("8.0.36", "MySQL Community Server - GPL", None),
            "MySQL 8.0.36 (8.0.36)",
        ),
    ];
    for (replay, want) in cases {
        let second_query = replay.answers.contains_key("SELECT @@memsql_version");
        let (version, asked) = identified("mysql", replay).await;
        assert_eq!(summary(&version), want);
        // One statement, whatever the product, but SingleStore's second.
        let mut expected = vec!["SELECT VERSION(), @@version_comment"];
        if second_query {
            expected.push("SELECT @@memsql_version");
        }
        assert_eq!(asked, expected, "{want}");
    }
}

/// Aurora looks like the product it is built on; an RDS endpoint's name is the signal to ask
/// its own version, one query more there and nowhere else. Plain RDS answers with an error.
#[tokio::test]
async fn aurora_is_asked_its_own_version_only_at_an_rds_endpoint() {
    const PG: &str = "PostgreSQL 15.4 on aarch64-unknown-linux-gnu, compiled by aarch64-unknown-linux-gnu-gcc (GCC) 9.5.0, 64-bit";
    let aurora_pg = || {
        let mut replay = pg_replay(vec![("server_version", "15.4")], PG);
        replay.answers.insert("SELECT aurora_version()", "15.4.1");
        replay
    };
    let (version, asked) = identified_at("postgresql", AURORA_HOST, aurora_pg()).await;
    assert_eq!(
        summary(&version),
        "Amazon Aurora PostgreSQL 15.4.1 (15.4.1) on PostgreSQL 15.4"
    );
    assert_eq!(asked, ["SELECT version()", "SELECT aurora_version()"]);
    // The same server by address: not asked, so the wire's product.
    let (version, asked) = identified("postgresql", aurora_pg()).await;
    assert_eq!(summary(&version), "PostgreSQL 15.4 (15.4.0)");
    assert_eq!(asked, ["SELECT version()"]);
    // Plain RDS for PostgreSQL: the function is unknown; the test still passes, as PostgreSQL.
    let rds = pg_replay(vec![("server_version", "15.4")], PG);
    let (version, asked) = identified_at("postgresql", AURORA_HOST, rds).await;
    assert_eq!(summary(&version), "PostgreSQL 15.4 (15.4.0)");
    assert_eq!(asked.len(), 2);

    let mut aurora_my = my_replay("8.0.28", "Source distribution", None);
    aurora_my
        .answers
        .insert("SELECT @@aurora_version", "3.04.0");
    let (version, asked) = identified_at("mysql", AURORA_HOST, aurora_my).await;
    assert_eq!(
        summary(&version),
        "Amazon Aurora MySQL 3.04.0 (3.4.0) on MySQL 8.0.28"
    );
    assert_eq!(
        asked,
        [
            "SELECT VERSION(), @@version_comment",
            "SELECT @@aurora_version"
        ]
    );
}
