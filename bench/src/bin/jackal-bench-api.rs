//! `jackal-bench-api`: the speed of Jackal's endpoints beside a floor server measured in the same
//! run, with wrk as the load generator in a second process.
//!
//! 1. Start-up: from spawning `jackal serve` on a fresh store to the first 200 from `/readyz`,
//!    and resident memory once idle.
//! 2. Endpoints: GET one data source, GET the list of 1,000, POST create (durable), each at
//!    concurrency 1 and 32 (create also at 16), against Jackal and against `jackal-bench-floor`
//!    (a bare actix-web server that checks the Authorization header and returns the same bytes
//!    from memory). Floor and Jackal runs alternate; every Jackal figure is also a ratio to the
//!    floor's.
//! 3. Scaling: list latency with 10, 1,000 and 100,000 data sources stored, whole and as a page
//!    of 1,000 (`?limit=1000`), and resident memory with 100,000 stored.
//!
//! Usage: `jackal-bench-api --jackal target/release/jackal --floor target/release/jackal-bench-floor
//! [--seconds 5] [--starts 5]`. Needs wrk (`apt-get install wrk`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jackal_bench::server::{proc_sample, Launch, Server, ACCEPT};
use jackal_bench::stats::{pctf, sortedf};
use jackal_bench::{load_average, machine_facts, Args, Result};
use serde_json::Value;

const USER_AGENT: &str = "jackal-bench-api";
const CREATE_BODY: &str =
    "name=bench&configUri=postgresql%3A%2F%2Fbench%3Apw%40db.local%3A5432%2Fbench";

struct Options {
    jackal: PathBuf,
    floor: PathBuf,
    seconds: u64,
    starts: usize,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut opts = Options {
            jackal: PathBuf::new(),
            floor: PathBuf::new(),
            seconds: 5,
            starts: 5,
        };
        let mut args = Args::from_env();
        while let Some(flag) = args.flag() {
            match flag.as_str() {
                "--jackal" => opts.jackal = PathBuf::from(args.value(&flag)?),
                "--floor" => opts.floor = PathBuf::from(args.value(&flag)?),
                "--seconds" => opts.seconds = args.parsed(&flag)?,
                "--starts" => opts.starts = args.parsed(&flag)?,
                _ => {
                    return Err("usage: jackal-bench-api --jackal PATH --floor PATH \
                                [--seconds 5] [--starts 5]"
                        .into())
                }
            }
        }
        if opts.jackal.as_os_str().is_empty() || opts.floor.as_os_str().is_empty() {
            return Err("--jackal and --floor are required".into());
        }
        Ok(opts)
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
type Scenario<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a [usize]);

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

struct Floor {
    child: std::process::Child,
    base: String,
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_floor(binary: &Path, authorization: &str, routes: &[(String, PathBuf)]) -> Result<Floor> {
    use std::io::BufRead;
    let mut cmd = Command::new(binary);
    cmd.arg("--authorization").arg(authorization);
    for (route, file) in routes {
        cmd.arg("--route").arg(route).arg(file);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("floor printed {line:?}"))?
        .to_owned();
    Ok(Floor {
        child,
        base: format!("http://127.0.0.1:{port}/api/v2"),
    })
}

async fn run(opts: &Options) -> Result<bool> {
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
        "Command: `jackal-bench-api --jackal {} --floor {} --seconds {} --starts {}`\n",
        opts.jackal.display(),
        opts.floor.display(),
        opts.seconds,
        opts.starts
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

    // 2. Endpoints against the floor.
    eprintln!("part 2: seeding 1,000 data sources");
    let server = Server::start_temp(&opts.jackal)?;
    let ids = create_many(&server, 1000).await?;
    let one = &ids[ids.len() / 2];
    let auth = authorization(&server, &client)?;
    let get_path = format!("/data-source/{one}");
    let get_body = body_of(
        server
            .request(&client, reqwest::Method::GET, &get_path)
            .send()
            .await?,
    )
    .await?;
    let list_body = body_of(
        server
            .request(&client, reqwest::Method::GET, "/data-source")
            .send()
            .await?,
    )
    .await?;
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
        let file = scratch.path().join(format!("body-{}", routes.len()));
        std::fs::write(&file, body)?;
        routes.push((route, file));
    }
    let floor = start_floor(&opts.floor, &auth, &routes)?;

    // Jackal's resident memory, sampled while the endpoints run.
    let peak_kib = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pid) = (peak_kib.clone(), sampling.clone(), server.pid());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(p) = proc_sample(pid) {
                    peak.fetch_max(p.rss_kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    let scenarios: [Scenario<'_>; 3] = [
        (
            "GET one data source",
            "GET",
            get_path.as_str(),
            None,
            &[1, 32],
        ),
        ("GET list of 1,000", "GET", "/data-source", None, &[1, 32]),
        (
            "POST create (durable)",
            "POST",
            "/data-source",
            Some(CREATE_BODY),
            &[1, 16, 32],
        ),
    ];
    let mut rows = String::new();
    let mut results = Vec::new();
    for (name, method, path, body, concurrencies) in scenarios {
        for &c in concurrencies {
            eprintln!("  {name}, concurrency {c}");
            let target = |base: &str| Target {
                url: format!("{base}{path}"),
                method,
                body,
                authorization: &auth,
            };
            // Warm both, then floor and Jackal back to back.
            wrk(&target(&floor.base), c, 1, scratch.path())?;
            wrk(&target(&server.api().base), c, 1, scratch.path())?;
            let f = wrk(&target(&floor.base), c, opts.seconds, scratch.path())?;
            let j = wrk(&target(&server.api().base), c, opts.seconds, scratch.path())?;
            rows.push_str(&format!(
                "| {name} | {c} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
                j.rps,
                f.rps,
                j.rps / f.rps,
                j.p50_ms,
                f.p50_ms,
                j.p99_ms,
                f.p99_ms,
                j.p99_ms / f.p99_ms
            ));
            results.push((name, c, j, f));
        }
    }
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    drop(floor);

    report.push_str(&format!(
        "## 2. Endpoints, Jackal beside the floor ({} s per run, wrk in a second process)\n\n\
         Floor: `jackal-bench-floor`, a bare actix-web server that checks the Authorization \
         header and answers the same bytes from memory. The store holds 1,000 data sources \
         (plus what the create runs add).\n\n\
         | endpoint | concurrency | Jackal req/s | floor req/s | req/s ratio | Jackal p50 ms | \
         floor p50 ms | Jackal p99 ms | floor p99 ms | p99 ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n{rows}\n",
        opts.seconds
    ));
    let find = |name: &str, c: usize| {
        results
            .iter()
            .find(|(n, cc, _, _)| *n == name && *cc == c)
            .map(|(_, _, j, f)| (*j, *f))
            .expect("measured")
    };
    let (get32, floor32) = find("GET one data source", 32);
    let (list1, _) = find("GET list of 1,000", 1);
    let (create16, _) = find("POST create (durable)", 16);
    report.push_str(&format!(
        "| target | measured | |\n|---|---|---|\n\
         | GET one, concurrency 32: ≥ 0.5× the floor's req/s | {:.2}× | {} |\n\
         | GET one, concurrency 32: p99 < 5 ms | {:.2} ms | {} |\n\
         | POST create, concurrency 16: ≥ 1,000/s | {:.0}/s | {} |\n\
         | list of 1,000, concurrency 1: p50 < 10 ms | {:.2} ms | {} |\n\n\
         Jackal's peak resident memory during part 2: {:.1} MiB.\n\n",
        get32.rps / floor32.rps,
        verdict(get32.rps / floor32.rps >= 0.5),
        get32.p99_ms,
        verdict(get32.p99_ms < 5.0),
        create16.rps,
        verdict(create16.rps >= 1000.0),
        list1.p50_ms,
        verdict(list1.p50_ms < 10.0),
        mib(peak_kib.load(Ordering::Relaxed)),
    ));
    drop(server);

    // 3. How list cost grows with what is stored and what is returned.
    eprintln!("part 3: list latency with 10, 1,000 and 100,000 stored");
    let dir = tempfile::tempdir()?;
    let mut launch = Launch::new(&opts.jackal, dir.path());
    let server = launch.start()?;
    let mut rows = String::new();
    let mut page_at = Vec::new();
    let mut stored = 0;
    for target in [10usize, 1000, 100_000] {
        if target <= 1000 {
            create_many(&server, target - stored).await?;
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
    let rss_100k = proc_sample(server.pid()).map_or(0, |p| p.rss_kib);
    report.push_str(&format!(
        "## 3. List latency by what is stored (median of sequential GETs, one client)\n\n\
         | stored | whole list p50 ms | whole list KiB | `?limit=1000` p50 ms | page KiB | \
         last page (`&offset=stored−1000`) p50 ms |\n|---:|---:|---:|---:|---:|---:|\n{rows}\n\
         A page of 1,000 with 100,000 stored costs {:.2}× what it costs with 1,000 stored. \
         Resident memory with 100,000 stored, after listing them all: {:.1} MiB.\n\n",
        page_at[2] / page_at[1],
        mib(rss_100k),
    ));
    drop(server);

    println!("{report}");
    println!("Load average at end: {}.\n", load_average());
    println!(
        "Targets: {}.",
        if all_met { "all met" } else { "NOT all met" }
    );
    Ok(all_met)
}

#[tokio::main]
async fn main() -> ExitCode {
    let opts = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("jackal-bench-api: {e}");
            ExitCode::from(2)
        }
    }
}
