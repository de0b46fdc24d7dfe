//! `jackal-bench load`: mixed traffic against a real Jackal for minutes, at a fixed concurrency,
//! watching status codes, latency and the server's resident memory.
//!
//! `--workers` tasks in this process each send one request after another over loopback:
//! ~70% reads (list, get one, detail), ~20% writes (create, update, delete; the data set stays
//! within ±10% of `--data-sources`) and ~10% connection tests (half against PostgreSQL with
//! `ssl=false`, expected to succeed, half against a closed port, expected `refused`). Every
//! `--sample-secs` the server's VmRSS, threads and open descriptors are read from `/proc`.
//! Exits 1 on any 5xx or transport error.
//!
//! Usage: `jackal-bench load --jackal target/release/jackal [--minutes 10] [--workers 16]
//! [--data-sources 300] [--sample-secs 10] [--warmup-secs 60] [--pg-host 127.0.0.1]
//! [--pg-port 5432] [--seed N]`

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jackal_bench::server::{proc_sample, Api, Server};
use jackal_bench::stats::{pct, pctf, sorted, sortedf};
use jackal_bench::{at_least, load_average, machine_facts, Result, Rng};
use serde_json::Value;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The jackal binary to load.
    #[arg(long, value_name = "PATH")]
    jackal: PathBuf,
    /// How long the traffic lasts, in minutes (fractions allowed).
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Tasks sending one request after another.
    #[arg(long, default_value_t = 16, value_parser = at_least(1))]
    workers: usize,
    /// Data sources the store holds, within ±10% (at least 10).
    #[arg(long, default_value_t = 300, value_parser = at_least(10))]
    data_sources: usize,
    /// Seconds between samples of the server's memory, threads and descriptors.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    sample_secs: u64,
    /// Seconds of traffic before the memory baseline is taken.
    #[arg(long, default_value_t = 60)]
    warmup_secs: u64,
    /// The PostgreSQL host of the connection tests.
    #[arg(long, default_value = "127.0.0.1")]
    pg_host: String,
    /// The PostgreSQL port.
    #[arg(long, default_value_t = 5432)]
    pg_port: u16,
    /// The seed of the traffic (default: a random one, printed in the report).
    #[arg(long, default_value_t = Rng::random_seed(), hide_default_value = true)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    List,
    Get,
    Detail,
    Create,
    Update,
    Delete,
    TestOk,
    TestRefused,
}

const OPS: [Op; 8] = [
    Op::List,
    Op::Get,
    Op::Detail,
    Op::Create,
    Op::Update,
    Op::Delete,
    Op::TestOk,
    Op::TestRefused,
];

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::List => "`GET /data-source` (list)",
            Op::Get => "`GET /data-source/{id}`",
            Op::Detail => "`GET /data-source/{id}/detail`",
            Op::Create => "`POST /data-source` (create)",
            Op::Update => "`POST /data-source/{id}` (update)",
            Op::Delete => "`DELETE /data-source/{id}`",
            Op::TestOk => "`POST /connection-test` → PostgreSQL, success",
            Op::TestRefused => "`POST /connection-test` → closed port, refused",
        }
    }

    fn class(self) -> Class {
        match self {
            Op::List | Op::Get | Op::Detail => Class::Read,
            Op::Create | Op::Update | Op::Delete => Class::Write,
            Op::TestOk | Op::TestRefused => Class::Test,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Read,
    Write,
    Test,
}

impl Class {
    fn label(self) -> &'static str {
        match self {
            Class::Read => "reads",
            Class::Write => "writes",
            Class::Test => "connection tests",
        }
    }
}

/// What one operation saw, in one worker or merged.
#[derive(Default)]
struct OpStats {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    /// 404s for an id a delete had already taken: the traffic racing itself, not a fault.
    raced_404: u64,
    /// Answers of the wrong kind (unexpected status, test outcome or body).
    unexpected: u64,
    samples: Vec<String>,
    /// Connection tests: the server's own `durationMs`, and each phase's `ms`.
    server_ms: Vec<f64>,
    phase_ms: BTreeMap<String, Vec<f64>>,
}

impl OpStats {
    fn note_unexpected(&mut self, what: String) {
        self.unexpected += 1;
        if self.samples.len() < 3 {
            self.samples.push(what);
        }
    }

    fn merge(&mut self, other: OpStats) {
        self.latencies.extend(other.latencies);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.raced_404 += other.raced_404;
        self.unexpected += other.unexpected;
        self.server_ms.extend(other.server_ms);
        for (phase, values) in other.phase_ms {
            self.phase_ms.entry(phase).or_default().extend(values);
        }
        for s in other.samples {
            if self.samples.len() < 3 {
                self.samples.push(s);
            }
        }
    }
}

/// The data set as the workers know it.
struct Pool {
    ids: Vec<String>,
    deleted: HashSet<String>,
    next_name: u64,
}

struct Shared {
    api: Api,
    client: reqwest::Client,
    pool: Mutex<Pool>,
    target: usize,
    ok_uri: String,
    refused_uri: String,
    completed: AtomicU64,
    server_errors: AtomicU64,
}

impl Shared {
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pick(&self, rng: &mut Rng) -> Option<String> {
        let pool = self.pool();
        (!pool.ids.is_empty()).then(|| pool.ids[rng.below(pool.ids.len() as u64) as usize].clone())
    }

    fn was_deleted(&self, id: &str) -> bool {
        self.pool().deleted.contains(id)
    }

    fn next_name(&self) -> u64 {
        let mut pool = self.pool();
        pool.next_name += 1;
        pool.next_name
    }
}

fn choose(rng: &mut Rng, shared: &Shared) -> Op {
    let r = rng.unit();
    if r < 0.70 {
        // list 10%, get 30%, detail 30% of all requests.
        let q = r / 0.70;
        if q < 1.0 / 7.0 {
            Op::List
        } else if q < 4.0 / 7.0 {
            Op::Get
        } else {
            Op::Detail
        }
    } else if r < 0.90 {
        let size = shared.pool().ids.len();
        let band = shared.target / 10;
        if size <= shared.target - band {
            Op::Create
        } else if size >= shared.target + band {
            Op::Delete
        } else {
            // update 10%, create 5%, delete 5% of all requests: a random walk around the target.
            match rng.below(4) {
                0 => Op::Create,
                1 => Op::Delete,
                _ => Op::Update,
            }
        }
    } else if rng.below(2) == 0 {
        Op::TestOk
    } else {
        Op::TestRefused
    }
}

fn config_uri(n: u64, rng: &mut Rng) -> String {
    format!(
        "postgresql://load:pw-{n}-{:012x}@127.0.0.1:5432/load{}?ssl=false",
        rng.next_u64() & 0xFFFF_FFFF_FFFF,
        n % 97
    )
}

/// Sends one request and reads the whole body: (status, body).
async fn send(req: reqwest::RequestBuilder) -> std::result::Result<(u16, Vec<u8>), reqwest::Error> {
    let response = req.send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    Ok((status, body.to_vec()))
}

async fn one(shared: &Shared, rng: &mut Rng, op: Op, stats: &mut OpStats) {
    use reqwest::Method;
    let api = &shared.api;
    let client = &shared.client;
    // What to do with the id once answered, and which id the request was about.
    let mut id: Option<String> = None;
    let req = match op {
        Op::List => api.request(client, Method::GET, "/data-source"),
        Op::Get | Op::Detail | Op::Update => {
            let Some(picked) = shared.pick(rng) else {
                return;
            };
            let path = match op {
                Op::Detail => format!("/data-source/{picked}/detail"),
                _ => format!("/data-source/{picked}"),
            };
            let req = if op == Op::Update {
                let n = shared.next_name();
                api.request(client, Method::POST, &path).form(&[
                    ("name", format!("load updated #{n}")),
                    ("configUri", config_uri(n, rng)),
                ])
            } else {
                api.request(client, Method::GET, &path)
            };
            id = Some(picked);
            req
        }
        Op::Create => {
            let n = shared.next_name();
            api.request(client, Method::POST, "/data-source").form(&[
                ("name", format!("load #{n}")),
                ("configUri", config_uri(n, rng)),
            ])
        }
        Op::Delete => {
            let picked = {
                let mut pool = shared.pool();
                if pool.ids.is_empty() {
                    return;
                }
                let i = rng.below(pool.ids.len() as u64) as usize;
                let picked = pool.ids.swap_remove(i);
                pool.deleted.insert(picked.clone());
                picked
            };
            let req = api.request(client, Method::DELETE, &format!("/data-source/{picked}"));
            id = Some(picked);
            req
        }
        Op::TestOk => api
            .request(client, Method::POST, "/connection-test")
            .form(&[("configUri", shared.ok_uri.as_str())]),
        Op::TestRefused => api
            .request(client, Method::POST, "/connection-test")
            .form(&[("configUri", shared.refused_uri.as_str())]),
    };
    let start = Instant::now();
    let result = send(req).await;
    let elapsed = start.elapsed();
    shared.completed.fetch_add(1, Ordering::Relaxed);
    let (status, body) = match result {
        Ok(answer) => answer,
        Err(e) => {
            stats.transport_errors += 1;
            if stats.samples.len() < 3 {
                stats.samples.push(format!("transport error: {e}"));
            }
            return;
        }
    };
    stats.latencies.push(elapsed);
    *stats.statuses.entry(status).or_default() += 1;
    if status >= 500 {
        shared.server_errors.fetch_add(1, Ordering::Relaxed);
        stats.note_unexpected(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
        return;
    }
    match (op, status) {
        (Op::Get | Op::Detail | Op::Update, 404)
            if id.as_deref().is_some_and(|i| shared.was_deleted(i)) =>
        {
            stats.raced_404 += 1;
        }
        (Op::Create, 200) => {
            let json: Value = serde_json::from_slice(&body).unwrap_or_default();
            match json["id"].as_str() {
                Some(new) => shared.pool().ids.push(new.to_owned()),
                None => stats.note_unexpected(format!("create answered 200 without id: {json}")),
            }
        }
        (Op::TestOk | Op::TestRefused, 200) => {
            let json: Value = serde_json::from_slice(&body).unwrap_or_default();
            let expected = op == Op::TestOk;
            let code_ok = expected || json["errorCode"] == "refused";
            if let Some(d) = json["durationMs"].as_f64() {
                stats.server_ms.push(d);
            }
            for phase in json["phases"].as_array().into_iter().flatten() {
                if let (Some(name), Some(d)) = (phase["name"].as_str(), phase["ms"].as_f64()) {
                    stats.phase_ms.entry(name.to_owned()).or_default().push(d);
                }
            }
            if json["success"] != Value::Bool(expected) || !code_ok {
                stats.note_unexpected(format!("test answered {json}"));
            }
        }
        (_, 200) => {}
        (_, _) => {
            stats.note_unexpected(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
        }
    }
}

async fn worker(shared: Arc<Shared>, mut rng: Rng, end: Instant) -> BTreeMap<Op, OpStats> {
    let mut stats: BTreeMap<Op, OpStats> = BTreeMap::new();
    while Instant::now() < end {
        let op = choose(&mut rng, &shared);
        one(&shared, &mut rng, op, stats.entry(op).or_default()).await;
    }
    stats
}

#[derive(Debug, Clone)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    threads: u64,
    fds: u64,
    requests: u64,
    server_errors: u64,
    load: String,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
pub async fn run(opts: Args) -> ExitCode {
    match bench(&opts).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("jackal-bench load: error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn bench(opts: &Args) -> Result<bool> {
    if opts.minutes.is_nan() || opts.minutes <= 0.0 {
        return Err("--minutes must be more than 0".into());
    }
    let command: Vec<String> = std::env::args().collect();
    let facts = machine_facts();
    let mut rng = Rng::new(opts.seed);

    let dir = tempfile::Builder::new().prefix("jackal-load-").tempdir()?;
    let mut launch = jackal_bench::server::Launch::new(&opts.jackal, dir.path());
    let mut server: Server = launch.start()?;
    let pid = server.pid();

    // A port nothing listens on: bound, then released.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let shared = Arc::new(Shared {
        api: server.api().clone(),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(opts.workers)
            .timeout(Duration::from_secs(30))
            .build()?,
        pool: Mutex::new(Pool {
            ids: Vec::new(),
            deleted: HashSet::new(),
            next_name: 0,
        }),
        target: opts.data_sources,
        ok_uri: format!(
            "postgresql://postgres@{}:{}/postgres?ssl=false",
            opts.pg_host, opts.pg_port
        ),
        refused_uri: format!("postgresql://load:pw@127.0.0.1:{closed_port}/db?ssl=false"),
        completed: AtomicU64::new(0),
        server_errors: AtomicU64::new(0),
    });

    // Seed the data set (not measured), and check both tests answer as expected.
    let mut seed_stats = OpStats::default();
    for _ in 0..opts.data_sources {
        one(&shared, &mut rng, Op::Create, &mut seed_stats).await;
    }
    for op in [Op::TestOk, Op::TestRefused] {
        one(&shared, &mut rng, op, &mut seed_stats).await;
    }
    if seed_stats.unexpected + seed_stats.transport_errors > 0 {
        return Err(format!("seeding failed: {}", seed_stats.samples.join("; ")).into());
    }
    shared.completed.store(0, Ordering::Relaxed);

    let duration = Duration::from_secs_f64(opts.minutes * 60.0);
    eprintln!(
        "load: {} workers for {:.1} min against pid {pid}, {} data sources, closed port {closed_port}",
        opts.workers, opts.minutes, opts.data_sources
    );
    let started = Instant::now();
    let end = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..opts.workers {
        workers.spawn(worker(shared.clone(), rng.fork(), end));
    }

    // Sample /proc every sample_secs, on the time grid from the start.
    let sample = |at: Duration| -> Option<Sample> {
        let p = proc_sample(pid)?;
        Some(Sample {
            at,
            rss_kib: p.rss_kib,
            threads: p.threads,
            fds: p.fds,
            requests: shared.completed.load(Ordering::Relaxed),
            server_errors: shared.server_errors.load(Ordering::Relaxed),
            load: load_average(),
        })
    };
    let mut samples: Vec<Sample> = sample(Duration::ZERO).into_iter().collect();
    let step = Duration::from_secs(opts.sample_secs);
    let mut next = started + step;
    while next < end {
        tokio::time::sleep_until(next.into()).await;
        if !server.is_running() {
            return Err("jackal exited during the load test".into());
        }
        match sample(next - started) {
            Some(s) => {
                if s.at.as_secs() % 60 == 0 {
                    eprintln!(
                        "  {:>4} s: {} requests, {} 5xx, RSS {:.1} MiB, load {}",
                        s.at.as_secs(),
                        s.requests,
                        s.server_errors,
                        mib(s.rss_kib),
                        s.load
                    );
                }
                samples.push(s);
            }
            None => return Err(format!("cannot read /proc/{pid}/status").into()),
        }
        next += step;
    }
    let mut merged: BTreeMap<Op, OpStats> = BTreeMap::new();
    while let Some(joined) = workers.join_next().await {
        for (op, stats) in joined? {
            merged.entry(op).or_default().merge(stats);
        }
    }
    let elapsed = started.elapsed();
    if let Some(last) = sample(elapsed) {
        samples.push(last);
    }
    let load_end = load_average();

    // The data set the server holds must be the one the workers built.
    let check_client = reqwest::Client::new();
    let (status, body) = send(shared.api.request(
        &check_client,
        reqwest::Method::GET,
        "/data-source",
    ))
    .await?;
    let listed: HashSet<String> = serde_json::from_slice::<Value>(&body)?
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|ds| ds["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let expected: HashSet<String> = shared.pool().ids.iter().cloned().collect();
    let consistent = status == 200 && listed == expected;
    let log_lines = server.logs().lines.load(Ordering::Relaxed);
    let log_warnings = server.logs().warnings.load(Ordering::Relaxed);
    let log_errors = server.logs().errors.load(Ordering::Relaxed);
    server.kill();

    // ---- Report ---------------------------------------------------------------------------
    let total: u64 = merged
        .values()
        .map(|s| s.latencies.len() as u64 + s.transport_errors)
        .sum();
    let secs = elapsed.as_secs_f64();
    let server_errors: u64 = merged
        .values()
        .flat_map(|s| s.statuses.iter())
        .filter(|(status, _)| **status >= 500)
        .map(|(_, n)| n)
        .sum();
    let transport: u64 = merged.values().map(|s| s.transport_errors).sum();

    println!("# Jackal load test\n");
    println!("Command: `{}`\n", command.join(" "));
    println!("| machine | |\n|---|---|");
    for (k, v) in &facts {
        println!("| {k} | {v} |");
    }
    println!("| load average at end | {load_end} |");
    println!("| seed | {} |", opts.seed);
    println!(
        "| config | `[test] timeout = {}, max_concurrent = {}`; {} |",
        launch.test_timeout_secs,
        launch.max_concurrent,
        launch.limits.describe(launch.tests_per_minute)
    );
    println!();
    println!(
        "{} workers, each sending its next request as soon as the last is answered, for {:.1} s \
         over loopback; {} data sources seeded, kept within ±10%. Failing tests go to \
         127.0.0.1:{closed_port} (closed). {total} requests, {:.0} requests/s.\n",
        opts.workers,
        secs,
        opts.data_sources,
        total as f64 / secs
    );
    println!("| class | operation | count | share | p50 ms | p99 ms | max ms | statuses | notes |");
    println!("|---|---|---:|---:|---:|---:|---:|---|---|");
    let mut classes: Vec<(Class, Vec<Duration>, u64)> = Vec::new();
    for op in OPS {
        let Some(s) = merged.get(&op) else { continue };
        let count = s.latencies.len() as u64 + s.transport_errors;
        match classes.iter_mut().find(|(c, _, _)| *c == op.class()) {
            Some((_, lat, n)) => {
                lat.extend(&s.latencies);
                *n += count;
            }
            None => classes.push((op.class(), s.latencies.clone(), count)),
        }
        let lat = sorted(s.latencies.clone());
        let statuses: Vec<String> = s
            .statuses
            .iter()
            .map(|(status, n)| format!("{status}×{n}"))
            .collect();
        let mut notes = Vec::new();
        if s.raced_404 > 0 {
            notes.push(format!("{} 404 raced a delete", s.raced_404));
        }
        if s.unexpected > 0 {
            notes.push(format!("{} UNEXPECTED", s.unexpected));
        }
        if s.transport_errors > 0 {
            notes.push(format!("{} TRANSPORT ERRORS", s.transport_errors));
        }
        if !s.server_ms.is_empty() {
            let d = sortedf(s.server_ms.clone());
            let phases: Vec<String> = s
                .phase_ms
                .iter()
                .map(|(name, v)| format!("{name} {:.1}", pctf(&sortedf(v.clone()), 50.0)))
                .collect();
            notes.push(format!(
                "server `durationMs` p50 {:.1}, p99 {:.1}; phase p50s: {}",
                pctf(&d, 50.0),
                pctf(&d, 99.0),
                phases.join(", ")
            ));
        }
        println!(
            "| {} | {} | {count} | {:.1}% | {:.2} | {:.2} | {:.2} | {} | {} |",
            op.class().label(),
            op.label(),
            100.0 * count as f64 / total as f64,
            pct(&lat, 50.0),
            pct(&lat, 99.0),
            pct(&lat, 100.0),
            statuses.join(", "),
            notes.join("; ")
        );
    }
    for (class, lat, count) in classes {
        let lat = sorted(lat);
        println!(
            "| **{}** | all | {count} | {:.1}% | {:.2} | {:.2} | {:.2} | | |",
            class.label(),
            100.0 * count as f64 / total as f64,
            pct(&lat, 50.0),
            pct(&lat, 99.0),
            pct(&lat, 100.0),
        );
    }
    println!();
    for (op, s) in &merged {
        for sample in &s.samples {
            println!("- {}: {sample}", op.label());
        }
    }

    // Memory.
    let warm_at = Duration::from_secs(opts.warmup_secs);
    let warm = samples
        .iter()
        .find(|s| s.at >= warm_at)
        .or(samples.last())
        .cloned()
        .ok_or("no memory sample")?;
    let last = samples.last().cloned().ok_or("no memory sample")?;
    let max = samples
        .iter()
        .max_by_key(|s| s.rss_kib)
        .cloned()
        .ok_or("no memory sample")?;
    let flat = last.rss_kib as f64 <= warm.rss_kib as f64 * 1.10;
    println!();
    println!(
        "Server memory (VmRSS of pid {pid}, every {} s): at start {:.1} MiB; warm-up \
         (t = {} s) {:.1} MiB; end (t = {} s) {:.1} MiB ({:+.1}% vs warm-up); max {:.1} MiB \
         at t = {} s. **{}** (end ≤ warm-up + 10%).\n",
        opts.sample_secs,
        mib(samples[0].rss_kib),
        warm.at.as_secs(),
        mib(warm.rss_kib),
        last.at.as_secs(),
        mib(last.rss_kib),
        100.0 * (last.rss_kib as f64 / warm.rss_kib as f64 - 1.0),
        mib(max.rss_kib),
        max.at.as_secs(),
        if flat { "Flat" } else { "NOT flat" }
    );
    println!("| t s | RSS MiB | threads | open fds | requests/s since last row | 5xx so far | load average |");
    println!("|---:|---:|---:|---:|---:|---:|---|");
    let mut previous: Option<&Sample> = None;
    for (i, s) in samples.iter().enumerate() {
        // Every minute, plus the first and the last.
        let minute = s.at.as_secs() % 60 == 0;
        if !(minute || i == 0 || i + 1 == samples.len()) {
            continue;
        }
        let rate = previous.map_or(String::new(), |p| {
            let dt = (s.at - p.at).as_secs_f64();
            format!("{:.0}", (s.requests - p.requests) as f64 / dt)
        });
        println!(
            "| {} | {:.1} | {} | {} | {rate} | {} | {} |",
            s.at.as_secs(),
            mib(s.rss_kib),
            s.threads,
            s.fds,
            s.server_errors,
            s.load
        );
        previous = Some(s);
    }
    println!();
    println!(
        "All RSS samples, MiB: {}\n",
        samples
            .iter()
            .map(|s| format!("{:.1}", mib(s.rss_kib)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "Data set after the run: the server lists {} data sources, the workers expect {}: {}. \
         Server log: {log_lines} lines, {log_warnings} warnings, {log_errors} errors.\n",
        listed.len(),
        expected.len(),
        if consistent { "identical" } else { "DIFFERENT" }
    );
    let ok = server_errors == 0 && transport == 0;
    println!(
        "Verdict: {} — {server_errors} 5xx and {transport} transport errors in {total} requests; \
         {} unexpected answers; memory {}.",
        if ok { "PASS" } else { "FAIL" },
        merged.values().map(|s| s.unexpected).sum::<u64>(),
        if flat { "flat" } else { "NOT flat" }
    );
    Ok(ok)
}
