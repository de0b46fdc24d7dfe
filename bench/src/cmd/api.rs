//! `jackal-bench api`: the speed of Jackal's endpoints beside a floor server measured in the same
//! run, with wrk as the load generator in a second process.
//!
//! 1. Start-up: from spawning `jackal serve` on a fresh store to the first 200 from `/readyz`,
//!    and resident memory once idle.
//! 2. Endpoints: GET one data source, GET the list of 1,000, POST create (durable), each at
//!    concurrency 1 and 32 (create also at 16), against Jackal and against `jackal-bench floor`
//!    (a bare actix-web server that checks the Authorization header and returns the same bytes
//!    from memory). Floor and Jackal runs alternate; every Jackal figure is also a ratio to the
//!    floor's.
//! 3. Scaling: list latency with 10, 1,000 and 100,000 data sources stored, whole and as a page
//!    of 1,000 (`?limit=1000`), and resident memory with 100,000 stored.
//!
//! Parts 2 and 3 run again on a PostgreSQL store (2b, 3b), each in a database of its own created
//! through `--postgres` and dropped afterwards. The targets are SQLite's; PostgreSQL's figures
//! are judged against them too, but only p99 and list p50 count toward the exit status (its
//! throughput depends on the database server beside Jackal on the same machine).
//!
//! Usage: `jackal-bench api --jackal target/release/jackal [--seconds 5] [--starts 5]
//! [--postgres ADMIN_URL|none]`. Needs wrk (`apt-get install wrk`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jackal_bench::floor::Floor;
use jackal_bench::server::{proc_sample, Launch, Server, ACCEPT};
use jackal_bench::stats::{pctf, sortedf};
use jackal_bench::{load_average, machine_facts, Result};
use serde_json::Value;
use tokio_postgres::NoTls;

const USER_AGENT: &str = "jackal-bench-api";
const CREATE_BODY: &str =
    "name=bench&configUri=postgresql%3A%2F%2Fbench%3Apw%40db.local%3A5432%2Fbench";
/// Scenario names, also how results are looked up.
const GET_ONE: &str = "GET one data source";
const LIST: &str = "GET list of 1,000";
const CREATE: &str = "POST create (durable)";

const DEFAULT_POSTGRES: &str = "postgresql://postgres@127.0.0.1:5432/postgres";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The jackal binary to measure.
    #[arg(long, value_name = "PATH")]
    jackal: PathBuf,
    /// Seconds of each wrk run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Start-ups measured from spawn to the first 200 from `/readyz`.
    #[arg(long, default_value_t = 5)]
    starts: usize,
    /// A superuser (or CREATEDB) connection URL for creating and dropping the databases of the
    /// PostgreSQL parts; `none` skips them.
    #[arg(long = "postgres", value_name = "ADMIN_URL|none", default_value = DEFAULT_POSTGRES)]
    postgres_arg: String,
}

impl Args {
    fn postgres(&self) -> Option<&String> {
        (self.postgres_arg != "none").then_some(&self.postgres_arg)
    }
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A wrk duration such as `812.00us`, `1.20ms` or `1.01s`, in milliseconds.
fn wrk_ms(raw: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = raw.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = raw.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = raw.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

fn parse_wrk(output: &str) -> Result<Run> {
    let field = |prefix: &str| -> Option<&str> {
        output
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    if let Some(bad) = field("Non-2xx or 3xx responses:") {
        return Err(format!("wrk saw {bad} non-2xx answers:\n{output}").into());
    }
    if let Some(errors) = field("Socket errors:") {
        return Err(format!("wrk saw socket errors ({errors}):\n{output}").into());
    }
    let parse = |prefix: &str| -> Result<f64> {
        field(prefix)
            .and_then(wrk_ms)
            .ok_or_else(|| format!("no {prefix} in wrk output:\n{output}").into())
    };
    Ok(Run {
        rps: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no Requests/sec in wrk output:\n{output}"))?,
        p50_ms: parse("50%")?,
        p99_ms: parse("99%")?,
    })
}

/// A measured endpoint: name, method, path, form body, and the concurrencies to run it at.
type Scenario<'a> = (&'static str, &'a str, &'a str, Option<&'a str>, &'a [usize]);

/// An endpoint as wrk calls it.
struct Target<'a> {
    url: String,
    method: &'a str,
    body: Option<&'a str>,
    authorization: &'a str,
}

fn wrk(target: &Target<'_>, connections: usize, seconds: u64, scratch: &Path) -> Result<Run> {
    let script = scratch.join("request.lua");
    let mut lua = format!(
        "wrk.method = {:?}\nwrk.headers[\"Authorization\"] = {:?}\n\
         wrk.headers[\"User-Agent\"] = {USER_AGENT:?}\nwrk.headers[\"Accept\"] = {ACCEPT:?}\n",
        target.method, target.authorization
    );
    if let Some(body) = target.body {
        lua.push_str(&format!(
            "wrk.body = {body:?}\nwrk.headers[\"Content-Type\"] = \
             \"application/x-www-form-urlencoded\"\n"
        ));
    }
    std::fs::write(&script, lua)?;
    let threads = connections.clamp(1, 2).to_string();
    let out = Command::new("wrk")
        .args(["--latency", "-t", &threads, "-c", &connections.to_string()])
        .arg("-d")
        .arg(format!("{seconds}s"))
        .arg("-s")
        .arg(&script)
        .arg(&target.url)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run wrk (apt-get install wrk): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    parse_wrk(&text)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The Authorization header value reqwest builds for Jackal's API key.
fn authorization(server: &Server, client: &reqwest::Client) -> Result<String> {
    let req = server
        .request(client, reqwest::Method::GET, "/whoami")
        .build()?;
    Ok(req.headers()[reqwest::header::AUTHORIZATION]
        .to_str()?
        .to_owned())
}

async fn body_of(resp: reqwest::Response) -> Result<Vec<u8>> {
    let status = resp.status();
    let bytes = resp.bytes().await?;
    if status != 200 {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)).into());
    }
    Ok(bytes.to_vec())
}

/// Creates `n` data sources through the API, 16 at a time.
async fn create_many(server: &Server, n: usize) -> Result<Vec<String>> {
    let client = reqwest::Client::new();
    let api = server.api().clone();
    let mut ids = Vec::with_capacity(n);
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..n {
        let (client, api) = (client.clone(), api.clone());
        pending.spawn(async move {
            let body = serde_urlencoded_pair(i);
            let resp = api
                .request(&client, reqwest::Method::POST, "/data-source")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await?;
            let created: Value = serde_json::from_slice(&body_of(resp).await?)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                created["id"].as_str().unwrap_or_default().to_owned(),
            )
        });
        if pending.len() >= 16 {
            ids.push(pending.join_next().await.expect("a task")??);
        }
    }
    while let Some(done) = pending.join_next().await {
        ids.push(done??);
    }
    Ok(ids)
}

fn serde_urlencoded_pair(i: usize) -> String {
    format!("name=seed-{i}&configUri=postgresql%3A%2F%2Fu%3Apw%40db{i}.local%3A5432%2Fapp")
}

/// Inserts `n` data sources straight into the store file beside the running server (WAL lets
/// it), for the 100,000 case: through the API that would take minutes and measure the create
/// path again. No passwords, so nothing needs sealing.
fn insert_direct(store: &Path, from: usize, n: usize) -> Result<()> {
    let mut conn = rusqlite::Connection::open(store)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO data_source (id, name, alias, type, config_uri, password_enc, \
             created_at, updated_at) VALUES (?1, ?2, NULL, 'postgresql', ?3, NULL, ?4, ?4)",
        )?;
        let now = 1_790_000_000_000i64;
        for i in from..from + n {
            insert.execute(rusqlite::params![
                format!("bulk{i:015}"),
                format!("bulk {i}"),
                format!("postgresql://u@db{i}.local:5432/app"),
                now + i as i64,
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A database of its own for one PostgreSQL part, so each starts empty and leaves nothing
/// behind: created through the admin connection, dropped by [`BenchDatabase::drop_now`].
struct BenchDatabase {
    admin: tokio_postgres::Client,
    name: String,
    /// The database as Jackal takes it in `JACKAL_STORE`.
    store_url: String,
    /// The database as tokio-postgres takes it, for filling it directly.
    config: tokio_postgres::Config,
}

impl BenchDatabase {
    async fn create(admin_url: &str) -> Result<Self> {
        // The admin URL is not echoed: it may hold a password.
        let (admin, connection) = tokio_postgres::connect(admin_url, NoTls)
            .await
            .map_err(|e| {
                format!("cannot connect to the --postgres admin URL ({e}); --postgres none skips the PostgreSQL parts")
            })?;
        tokio::spawn(connection);
        // Unquoted, so lowercase: a UUID in simple form is lowercase hex.
        let name = format!("jackal_bench_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let mut config: tokio_postgres::Config = admin_url.parse()?;
        config.dbname(&name);
        eprintln!("  created database {name}");
        Ok(Self {
            admin,
            store_url: store_url(admin_url, &name),
            name,
            config,
        })
    }

    /// Drops the database, whether the part succeeded or not. FORCE ends any connection still
    /// open (a killed Jackal's may linger for a moment); a failure is only reported.
    async fn drop_now(self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        match self.admin.batch_execute(&sql).await {
            Ok(()) => eprintln!("  dropped database {}", self.name),
            Err(e) => eprintln!("could not drop database {}: {e}", self.name),
        }
    }

    /// As [`insert_direct`] does for the SQLite file, in one `INSERT … SELECT` over
    /// `generate_series`; then `VACUUM (ANALYZE)`, so autovacuum does not start on the new rows
    /// in the middle of a measurement.
    async fn insert_direct(&self, from: usize, n: usize) -> Result<()> {
        let (client, connection) = self.config.connect(NoTls).await?;
        let task = tokio::spawn(connection);
        let now = 1_790_000_000_000i64;
        client
            .execute(
                "INSERT INTO data_source (id, name, alias, type, config_uri, password_enc, \
                 created_at, updated_at) \
                 SELECT 'bulk' || lpad(i::text, 15, '0'), 'bulk ' || i, NULL, 'postgresql', \
                 'postgresql://u@db' || i || '.local:5432/app', NULL, $1 + i, $1 + i \
                 FROM generate_series($2::bigint, $3::bigint) AS i",
                &[&now, &(from as i64), &((from + n) as i64 - 1)],
            )
            .await?;
        client.batch_execute("VACUUM (ANALYZE) data_source").await?;
        drop(client);
        let _ = task.await;
        Ok(())
    }
}

/// `admin_url` pointed at database `name`, its query replaced by `ssl=false`: Jackal takes the
/// data-source options rather than libpq's, and the server is on this machine.
fn store_url(admin_url: &str, name: &str) -> String {
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgresql", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}?ssl=false")
}

/// Median of `repeat` sequential GETs, in ms, and the response size.
async fn sequential_p50(server: &Server, path: &str, repeat: usize) -> Result<(f64, usize)> {
    let client = reqwest::Client::new();
    let mut times = Vec::with_capacity(repeat);
    let mut size = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        let body = body_of(
            server
                .request(&client, reqwest::Method::GET, path)
                .send()
                .await?,
        )
        .await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        size = body.len();
    }
    Ok((pctf(&sortedf(times), 50.0), size))
}

async fn wait_ready(server: &Server, client: &reqwest::Client) -> Result<()> {
    let url = server.api().base.replace("/api/v2", "/readyz");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(resp) = client.get(&url).send().await {
            if resp.status() == 200 {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err("/readyz never answered 200".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One endpoint at one concurrency, on Jackal and on the floor.
#[derive(Debug, Clone, Copy)]
struct Measured {
    name: &'static str,
    concurrency: usize,
    jackal: Run,
    floor: Run,
}

/// A line of the targets table.
struct Check {
    what: String,
    measured: String,
    met: bool,
    /// Whether it counts toward "all met", and so the exit status.
    counted: bool,
}

/// What part 2 measured on one store.
struct Endpoints {
    results: Vec<Measured>,
    /// Jackal's peak resident memory while the endpoints ran.
    peak_kib: u64,
    /// What Jackal logged after announcing its address.
    warnings: u64,
    errors: u64,
}

impl Endpoints {
    fn find(&self, name: &str, concurrency: usize) -> Measured {
        *self
            .results
            .iter()
            .find(|m| m.name == name && m.concurrency == concurrency)
            .expect("measured")
    }

    /// The rows of a part-2 table; with `baseline` (SQLite's), a last column holding req/s as a
    /// ratio to the baseline's for the same endpoint and concurrency.
    fn rows(&self, baseline: Option<&Endpoints>) -> String {
        let mut rows = String::new();
        for m in &self.results {
            let (j, f) = (m.jackal, m.floor);
            rows.push_str(&format!(
                "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                m.name,
                m.concurrency,
                j.rps,
                f.rps,
                j.rps / f.rps,
                j.p50_ms,
                f.p50_ms,
                j.p99_ms,
                f.p99_ms,
                j.p99_ms / f.p99_ms
            ));
            if let Some(base) = baseline {
                let base = base.find(m.name, m.concurrency).jackal.rps;
                rows.push_str(&format!(" {:.2} |", j.rps / base));
            }
            rows.push('\n');
        }
        rows
    }

    /// The targets, judged on this store's figures. On PostgreSQL only the latencies count:
    /// throughput there is shared with the database server on the same cores.
    fn checks(&self, postgres: bool) -> Vec<Check> {
        let label = if postgres { " (PostgreSQL)" } else { "" };
        let get32 = self.find(GET_ONE, 32);
        let list1 = self.find(LIST, 1);
        let create16 = self.find(CREATE, 16);
        let ratio = get32.jackal.rps / get32.floor.rps;
        vec![
            Check {
                what: format!("GET one, concurrency 32: ≥ 0.5× the floor's req/s{label}"),
                measured: format!("{ratio:.2}×"),
                met: ratio >= 0.5,
                counted: !postgres,
            },
            Check {
                what: format!("GET one, concurrency 32: p99 < 5 ms{label}"),
                measured: format!("{:.2} ms", get32.jackal.p99_ms),
                met: get32.jackal.p99_ms < 5.0,
                counted: true,
            },
            Check {
                what: format!("POST create, concurrency 16: ≥ 1,000/s{label}"),
                measured: format!("{:.0}/s", create16.jackal.rps),
                met: create16.jackal.rps >= 1000.0,
                counted: !postgres,
            },
            Check {
                what: format!("list of 1,000, concurrency 1: p50 < 10 ms{label}"),
                measured: format!("{:.2} ms", list1.jackal.p50_ms),
                met: list1.jackal.p50_ms < 10.0,
                counted: true,
            },
        ]
    }
}

/// Samples a process's resident memory every 200 ms on a thread of its own, keeping the peak.
struct PeakSampler {
    peak_kib: Arc<AtomicU64>,
    sampling: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakSampler {
    fn start(pid: u32) -> Self {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        let thread = {
            let (peak, sampling) = (peak_kib.clone(), sampling.clone());
            std::thread::spawn(move || {
                while sampling.load(Ordering::Relaxed) {
                    if let Some(p) = proc_sample(pid) {
                        peak.fetch_max(p.rss_kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        };
        Self {
            peak_kib,
            sampling,
            thread,
        }
    }

    /// Stops sampling; the peak, in KiB.
    fn stop(self) -> u64 {
        self.sampling.store(false, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak_kib.load(Ordering::Relaxed)
    }
}

/// A floor answering `server`'s own bodies for the three endpoints (`get_path` names the one
/// data source), after checking that the list holds the 1,000 seeded.
async fn floor_for(server: &Server, get_path: &str, auth: &str, scratch: &Path) -> Result<Floor> {
    let client = reqwest::Client::new();
    let get = |path: &str| server.request(&client, reqwest::Method::GET, path).send();
    let get_body = body_of(get(get_path).await?).await?;
    let list_body = body_of(get("/data-source").await?).await?;
    let listed = serde_json::from_slice::<Value>(&list_body)?
        .as_array()
        .map_or(0, Vec::len);
    if listed != 1000 {
        return Err(format!("expected 1,000 data sources, the list has {listed}").into());
    }
    let create_body = body_of(
        server
            .request(&client, reqwest::Method::POST, "/data-source")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(CREATE_BODY)
            .send()
            .await?,
    )
    .await?;
    let mut routes = Vec::new();
    for (route, body) in [
        (format!("GET /api/v2{get_path}"), &get_body),
        ("GET /api/v2/data-source".to_owned(), &list_body),
        ("POST /api/v2/data-source".to_owned(), &create_body),
    ] {
        let file = scratch.join(format!("body-{}", routes.len()));
        std::fs::write(&file, body)?;
        routes.push((route, file));
    }
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    for (route, file) in routes {
        args.extend(["--route".into(), route.into(), file.into()]);
    }
    Floor::start(auth, &args)
}

/// Every scenario at every concurrency, warming both servers first, then floor and Jackal back
/// to back.
fn measure_scenarios(
    opts: &Args,
    server: &Server,
    floor: &Floor,
    get_path: &str,
    auth: &str,
    scratch: &Path,
) -> Result<Vec<Measured>> {
    let scenarios: [Scenario<'_>; 3] = [
        (GET_ONE, "GET", get_path, None, &[1, 32]),
        (LIST, "GET", "/data-source", None, &[1, 32]),
        (
            CREATE,
            "POST",
            "/data-source",
            Some(CREATE_BODY),
            &[1, 16, 32],
        ),
    ];
    let mut results = Vec::new();
    for (name, method, path, body, concurrencies) in scenarios {
        for &concurrency in concurrencies {
            eprintln!("  {name}, concurrency {concurrency}");
            let target = |base: &str| Target {
                url: format!("{base}{path}"),
                method,
                body,
                authorization: auth,
            };
            wrk(&target(&floor.base), concurrency, 1, scratch)?;
            wrk(&target(&server.api().base), concurrency, 1, scratch)?;
            let floor_run = wrk(&target(&floor.base), concurrency, opts.seconds, scratch)?;
            let jackal = wrk(
                &target(&server.api().base),
                concurrency,
                opts.seconds,
                scratch,
            )?;
            results.push(Measured {
                name,
                concurrency,
                jackal,
                floor: floor_run,
            });
        }
    }
    Ok(results)
}

/// Part 2 on one store (the SQLite file of a temporary directory, or the PostgreSQL database
/// `store_url` names): 1,000 data sources created through the API, then every scenario beside
/// a floor that answers this server's own bodies.
async fn endpoints(opts: &Args, store_url: Option<&str>, scratch: &Path) -> Result<Endpoints> {
    let server = Server::start_temp_on(&opts.jackal, store_url)?;
    eprintln!("  seeding 1,000 data sources");
    let ids = create_many(&server, 1000).await?;
    let get_path = format!("/data-source/{}", ids[ids.len() / 2]);
    let auth = authorization(&server, &reqwest::Client::new())?;
    let floor = floor_for(&server, &get_path, &auth, scratch).await?;
    let sampler = PeakSampler::start(server.pid());
    let results = measure_scenarios(opts, &server, &floor, &get_path, &auth, scratch);
    let peak_kib = sampler.stop();
    let logs = server.logs();
    Ok(Endpoints {
        results: results?,
        peak_kib,
        warnings: logs.warnings.load(Ordering::Relaxed),
        errors: logs.errors.load(Ordering::Relaxed),
    })
}

/// Part 2 on a PostgreSQL database of its own, dropped afterwards whatever happened (the
/// server is killed before, when `endpoints` returns).
async fn endpoints_on_postgres(opts: &Args, admin_url: &str, scratch: &Path) -> Result<Endpoints> {
    let db = BenchDatabase::create(admin_url).await?;
    let measured = endpoints(opts, Some(&db.store_url), scratch).await;
    db.drop_now().await;
    measured
}

/// What part 3 measured on one store.
struct Scaling {
    rows: String,
    /// A page of 1,000 with 100,000 stored, as a ratio to the same page with 1,000 stored.
    page_growth: f64,
    /// Jackal's resident memory with 100,000 stored, after listing them all.
    rss_kib: u64,
}

/// Part 3 on the SQLite file of a temporary directory, or on `db`: 10 and then 1,000 data
/// sources created through the API, then 100,000 inserted into the store directly.
async fn list_scaling(opts: &Args, db: Option<&BenchDatabase>) -> Result<Scaling> {
    let dir = tempfile::tempdir()?;
    let mut launch = Launch::new(&opts.jackal, dir.path());
    launch.store_url = db.map(|db| db.store_url.clone());
    let server = launch.start()?;
    let mut rows = String::new();
    let mut page_at = Vec::new();
    let mut stored = 0;
    for target in [10usize, 1000, 100_000] {
        if target <= 1000 {
            create_many(&server, target - stored).await?;
        } else if let Some(db) = db {
            db.insert_direct(stored, target - stored).await?;
        } else {
            insert_direct(&launch.store(), stored, target - stored)?;
        }
        stored = target;
        let repeat = if target > 1000 { 10 } else { 100 };
        let (whole, whole_size) = sequential_p50(&server, "/data-source", repeat).await?;
        let (page, page_size) = sequential_p50(&server, "/data-source?limit=1000", 100).await?;
        let (last, _) = sequential_p50(
            &server,
            &format!(
                "/data-source?limit=1000&offset={}",
                target.saturating_sub(1000)
            ),
            100,
        )
        .await?;
        page_at.push(page);
        rows.push_str(&format!(
            "| {target} | {whole:.2} | {:.0} | {page:.2} | {:.0} | {last:.2} |\n",
            whole_size as f64 / 1024.0,
            page_size as f64 / 1024.0,
        ));
    }
    Ok(Scaling {
        rows,
        page_growth: page_at[2] / page_at[1],
        rss_kib: proc_sample(server.pid()).map_or(0, |p| p.rss_kib),
    })
}

/// Part 3 on a PostgreSQL database of its own, dropped afterwards whatever happened.
async fn list_scaling_on_postgres(opts: &Args, admin_url: &str) -> Result<Scaling> {
    let db = BenchDatabase::create(admin_url).await?;
    let measured = list_scaling(opts, Some(&db)).await;
    db.drop_now().await;
    measured
}

/// A part-3 section: `title`, the table, how the 100,000 got there (`filled`), and the growth
/// and memory lines.
fn scaling_section(title: &str, filled: &str, scaling: &Scaling) -> String {
    format!(
        "## {title} (median of sequential GETs, one client)\n\n\
         | stored | whole list p50 ms | whole list KiB | `?limit=1000` p50 ms | page KiB | \
         last page (`&offset=stored−1000`) p50 ms |\n|---:|---:|---:|---:|---:|---:|\n{}\n\
         The 10 and 1,000 are created through the API; {filled} \
         A page of 1,000 with 100,000 stored costs {:.2}× what it costs with 1,000 stored. \
         Resident memory with 100,000 stored, after listing them all: {:.1} MiB.\n\n",
        scaling.rows,
        scaling.page_growth,
        mib(scaling.rss_kib),
    )
}

const ENDPOINT_COLUMNS: &str = "| endpoint | concurrency | Jackal req/s | floor req/s | \
     req/s ratio | Jackal p50 ms | floor p50 ms | Jackal p99 ms | floor p99 ms | p99 ratio |";

/// `--postgres` as printed: the password, if any, left out.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:…@{host}")
        }
        _ => url.to_owned(),
    }
}

async fn bench(opts: &Args) -> Result<bool> {
    let client = reqwest::Client::new();
    let scratch = tempfile::tempdir()?;
    let mut report = String::new();
    let mut all_met = true;
    let mut verdict = |met: bool| -> &'static str {
        all_met &= met;
        if met {
            "met"
        } else {
            "MISSED"
        }
    };

    println!("# Jackal API benchmark\n");
    println!(
        "Command: `jackal-bench api --jackal {} --seconds {} --starts {} --postgres {}`\n",
        opts.jackal.display(),
        opts.seconds,
        opts.starts,
        opts.postgres()
            .map(String::as_str)
            .map_or_else(|| "none".to_owned(), redacted),
    );
    println!("| machine | |\n|---|---|");
    for (k, v) in machine_facts() {
        println!("| {k} | {v} |");
    }
    println!();

    // 1. Start-up and idle memory.
    eprintln!("part 1: {} starts on fresh stores", opts.starts);
    let mut starts = Vec::new();
    let mut idle_kib = Vec::new();
    for _ in 0..opts.starts {
        let dir = tempfile::tempdir()?;
        let spawned = Instant::now();
        let server = Launch::new(&opts.jackal, dir.path()).start()?;
        wait_ready(&server, &client).await?;
        starts.push(spawned.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        idle_kib.push(proc_sample(server.pid()).map_or(0, |p| p.rss_kib) as f64);
    }
    let start_p50 = pctf(&sortedf(starts.clone()), 50.0);
    let idle_p50 = pctf(&sortedf(idle_kib.clone()), 50.0) / 1024.0;
    report.push_str(&format!(
        "## 1. Start-up and idle memory ({} starts, fresh store each)\n\n\
         | measure | median | all runs | target | |\n|---|---:|---|---|---|\n\
         | spawn → first 200 from `/readyz` | {start_p50:.0} ms | {} | < 300 ms | {} |\n\
         | resident memory 1 s after ready | {idle_p50:.1} MiB | {} | < 30 MiB | {} |\n\n",
        opts.starts,
        starts
            .iter()
            .map(|s| format!("{s:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        verdict(start_p50 < 300.0),
        idle_kib
            .iter()
            .map(|k| format!("{:.1}", k / 1024.0))
            .collect::<Vec<_>>()
            .join(", "),
        verdict(idle_p50 < 30.0),
    ));

    // 2. Endpoints against the floor, on SQLite and then on PostgreSQL.
    eprintln!("part 2: endpoints on the SQLite store");
    let sqlite = endpoints(opts, None, scratch.path()).await?;
    report.push_str(&format!(
        "## 2. Endpoints, Jackal beside the floor ({} s per run, wrk in a second process)\n\n\
         Floor: `jackal-bench floor`, a bare actix-web server that checks the Authorization \
         header and answers the same bytes from memory. The store holds 1,000 data sources \
         (plus what the create runs add).\n\n\
         {ENDPOINT_COLUMNS}\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n{}\n",
        opts.seconds,
        sqlite.rows(None),
    ));
    let postgres = match opts.postgres() {
        Some(admin_url) => {
            eprintln!("part 2b: endpoints on a PostgreSQL store");
            Some(endpoints_on_postgres(opts, admin_url, scratch.path()).await?)
        }
        None => None,
    };
    if let Some(pg) = &postgres {
        report.push_str(&format!(
            "## 2b. Endpoints on the PostgreSQL store ({} s per run)\n\n\
             The same runs with Jackal on a fresh PostgreSQL database (the server `--postgres` \
             names, on this machine: it shares the cores with Jackal and wrk), its floor \
             answering this server's own bodies. Last column: Jackal's req/s here as a ratio \
             to Jackal's on SQLite in part 2.\n\n\
             {ENDPOINT_COLUMNS} req/s vs SQLite |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n{}\n",
            opts.seconds,
            pg.rows(Some(&sqlite)),
        ));
    }
    let mut checks = sqlite.checks(false);
    if let Some(pg) = &postgres {
        checks.extend(pg.checks(true));
    }
    report.push_str("| target | measured | |\n|---|---|---|\n");
    for check in checks {
        let mark = match (check.counted, check.met) {
            (true, met) => verdict(met),
            (false, true) => "met (for information, not counted)",
            (false, false) => "missed (for information, not counted)",
        };
        report.push_str(&format!(
            "| {} | {} | {mark} |\n",
            check.what, check.measured
        ));
    }
    report.push('\n');
    for (store, measured) in [("SQLite", Some(&sqlite)), ("PostgreSQL", postgres.as_ref())] {
        if let Some(m) = measured {
            report.push_str(&format!(
                "On {store}, Jackal's peak resident memory during part 2: {:.1} MiB; it logged \
                 {} warnings and {} errors.\n\n",
                mib(m.peak_kib),
                m.warnings,
                m.errors
            ));
        }
    }

    // 3. How list cost grows with what is stored and what is returned.
    eprintln!("part 3: list latency with 10, 1,000 and 100,000 stored");
    let scaling = list_scaling(opts, None).await?;
    report.push_str(&scaling_section(
        "3. List latency by what is stored",
        "the rest are inserted into the store file beside the running server, without \
         passwords.",
        &scaling,
    ));
    if let Some(admin_url) = opts.postgres() {
        eprintln!("part 3b: the same on a PostgreSQL store");
        let scaling = list_scaling_on_postgres(opts, admin_url).await?;
        report.push_str(&scaling_section(
            "3b. List latency by what is stored, PostgreSQL store",
            "the rest are inserted with one `INSERT … SELECT` over `generate_series`, without \
             passwords, then `VACUUM (ANALYZE) data_source`.",
            &scaling,
        ));
    }

    println!("{report}");
    println!("Load average at end: {}.\n", load_average());
    println!(
        "Targets: {}.",
        if all_met { "all met" } else { "NOT all met" }
    );
    Ok(all_met)
}

#[tokio::main]
pub async fn run(opts: Args) -> ExitCode {
    match bench(&opts).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("jackal-bench api: {e}");
            ExitCode::from(2)
        }
    }
}
