//! `jackal-bench run`: measures a real `jackal` process against floors measured in the same run.
//!
//! 1. `POST /data-source/{id}/test` (the contract's test of a stored data source) and
//!    `POST /connection-test` (the unsaved extension) against PostgreSQL, `ssl=false` and
//!    `ssl=true`, interleaved with the same connect + `SELECT version()` + close done directly
//!    with tokio-postgres (the floor), and with that floor run in the handler of a bare
//!    actix-web server, `jackal-bench floor` (the HTTP floor: what answering over HTTP adds on
//!    this machine, whatever the server does).
//! 2. `GET /data-source/{id}` latency while 500 connection tests hang on a silent listener,
//!    against the same GETs measured before the flood.
//!
//! Usage: `jackal-bench run --jackal target/release/jackal [--iterations 300] [--warmup 20]
//! [--gets 1000] [--flood 500] [--pg-host 127.0.0.1] [--pg-port 5432] [--compare OTHER_JACKAL]`
//!
//! `--compare` runs a second build beside the first and interleaves its
//! `POST /data-source/{id}/test` with the other sides, so two builds are compared in one run
//! (on this machine, runs minutes apart differ by more than most changes do).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jackal_bench::floor::Floor;
use jackal_bench::pg_floor::{floor_once, floor_tls, FloorSample};
use jackal_bench::server::{Api, Server};
use jackal_bench::stats::{ms, pct, pctf, sorted, sortedf};
use jackal_bench::{at_least, machine_facts, Result};
use serde_json::Value;

/// Targets stated in the brief.
const TEST_P50_RATIO_TARGET: f64 = 1.15;
const CRUD_P99_TARGET_MS: f64 = 20.0;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The jackal binary to measure.
    #[arg(long, value_name = "PATH")]
    jackal: PathBuf,
    /// A second jackal build whose `POST /data-source/{id}/test` is interleaved with the others.
    #[arg(long, value_name = "PATH")]
    compare: Option<PathBuf>,
    /// Measured iterations of part 1 (each side, each ssl mode).
    #[arg(long, default_value_t = 300, value_parser = at_least(1))]
    iterations: usize,
    /// Warm-up iterations of part 1, not measured.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Sequential GETs of part 2, before the flood and during it.
    #[arg(long, default_value_t = 1000, value_parser = at_least(1))]
    gets: usize,
    /// Connection tests that hang on a silent listener during part 2.
    #[arg(long, default_value_t = 500)]
    flood: usize,
    /// The flood's tests go through an SSH tunnel whose bastion (the silent listener) never
    /// sends its banner.
    #[arg(long)]
    flood_through_ssh: bool,
    /// The flood is sent with this many API keys, round robin: one key may hold only its share
    /// of the test slots (`[test] key_share`, half by default).
    #[arg(long, default_value_t = 1)]
    flood_keys: usize,
    /// The PostgreSQL host of the tests and of the floor (user postgres, trust).
    #[arg(long, default_value = "127.0.0.1")]
    pg_host: String,
    /// The PostgreSQL port.
    #[arg(long, default_value_t = 5432)]
    pg_port: u16,
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

// ---------------------------------------------------------------------------------------------
// Part 1: /connection-test against the direct tokio-postgres floor

/// One Jackal sample: the HTTP round trip, and the server's own report of the test.
struct JackalSample {
    rtt: Duration,
    duration_ms: f64,
    phases: Vec<(String, f64)>,
}

/// What a Jackal sample tests.
enum Endpoint<'a> {
    /// `POST /connection-test` with this configUri (an extension: nothing stored).
    Unsaved(&'a str),
    /// `POST /data-source/{id}/test` for this stored data source (the contract's endpoint).
    Saved(&'a str),
    /// `jackal-bench floor`'s `POST /pg-floor/{plain|tls}`: the floor run in an HTTP handler.
    HttpFloor(&'a str),
}

async fn jackal_once(
    server: &Api,
    client: &reqwest::Client,
    endpoint: &Endpoint<'_>,
) -> Result<JackalSample> {
    let start = Instant::now();
    let request = match endpoint {
        Endpoint::Unsaved(config_uri) => server
            .request(client, reqwest::Method::POST, "/connection-test")
            .form(&[("configUri", config_uri)]),
        Endpoint::Saved(id) => server.request(
            client,
            reqwest::Method::POST,
            &format!("/data-source/{id}/test"),
        ),
        Endpoint::HttpFloor(mode) => {
            server.request(client, reqwest::Method::POST, &format!("/pg-floor/{mode}"))
        }
    };
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let rtt = start.elapsed();
    let text = String::from_utf8_lossy(&body);
    let json: Value = serde_json::from_slice(&body)
        .map_err(|e| format!("HTTP {status}, body not JSON ({e}): {text}"))?;
    if !status.is_success() || json["success"] != Value::Bool(true) {
        return Err(format!(
            "{} did not succeed: HTTP {status}: {text}",
            endpoint.describe()
        )
        .into());
    }
    let phases = json["phases"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("?").to_owned(),
                        p["ms"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(JackalSample {
        rtt,
        duration_ms: json["durationMs"].as_f64().unwrap_or(f64::NAN),
        phases,
    })
}

impl Endpoint<'_> {
    fn describe(&self) -> String {
        match self {
            Endpoint::Unsaved(uri) => format!("POST /connection-test with configUri={uri}"),
            Endpoint::Saved(id) => format!("POST /data-source/{id}/test"),
            Endpoint::HttpFloor(mode) => format!("jackal-bench floor POST /pg-floor/{mode}"),
        }
    }
}

/// Creates a data source through the API; its id.
async fn create_data_source(
    server: &Server,
    api: &reqwest::Client,
    name: &str,
    config_uri: &str,
) -> Result<String> {
    let created = server
        .request(api, reqwest::Method::POST, "/data-source")
        .form(&[("name", name), ("configUri", config_uri)])
        .send()
        .await?;
    let status = created.status();
    let body = created.text().await?;
    let json: Value = serde_json::from_str(&body)
        .map_err(|e| format!("POST /data-source: HTTP {status}, body not JSON ({e}): {body}"))?;
    Ok(json["id"]
        .as_str()
        .ok_or_else(|| format!("POST /data-source: HTTP {status}, no id: {body}"))?
        .to_owned())
}

#[derive(Default)]
struct Series {
    /// `POST /connection-test`.
    jackal: Vec<JackalSample>,
    /// `POST /data-source/{id}/test`.
    saved: Vec<JackalSample>,
    /// `POST /data-source/{id}/test` on the `--compare` build.
    compared: Vec<JackalSample>,
    /// The floor run in `jackal-bench floor`'s HTTP handler.
    http_floor: Vec<JackalSample>,
    floor: Vec<FloorSample>,
}

/// The round trips of `samples`, sorted for percentiles.
fn sorted_rtts(samples: &[JackalSample]) -> Vec<Duration> {
    sorted(samples.iter().map(|x| x.rtt).collect())
}

/// The order of the sides in iteration `i`: rotated by one each iteration and reversed every
/// other cycle, so over `2 × sides` iterations each side takes each position equally often.
fn side_order(i: usize, sides: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sides).map(|k| (i + k) % sides).collect();
    if (i / sides) % 2 == 1 {
        order.reverse();
    }
    order
}

/// Median of each Jackal phase, in the order the phases appear.
fn phase_medians(samples: &[JackalSample]) -> Vec<(String, f64)> {
    let mut names: Vec<String> = Vec::new();
    for s in samples {
        for (name, _) in &s.phases {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let values = sortedf(
                samples
                    .iter()
                    .filter_map(|s| s.phases.iter().find(|(n, _)| *n == name).map(|p| p.1))
                    .collect(),
            );
            let median = pctf(&values, 50.0);
            (name, median)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Part 2: CRUD latency during a flood of hanging tests

/// What the flood tests: the silent listener as the database, or as an SSH bastion that never
/// sends its banner (`--flood-through-ssh`).
fn hang_uri(opts: &Args, silent_port: u16) -> String {
    if opts.flood_through_ssh {
        format!(
            "postgresql://u:pw@db.internal:5432/db?ssl=false&connectTimeout=30\
             &sshHost=127.0.0.1&sshPort={silent_port}&sshUser=bench"
        )
    } else {
        format!("postgresql://u:pw@127.0.0.1:{silent_port}/db?ssl=false&connectTimeout=30")
    }
}

async fn get_latencies(
    server: &Server,
    client: &reqwest::Client,
    id: &str,
    count: usize,
) -> Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(count);
    let path = format!("/data-source/{id}");
    for _ in 0..count {
        let start = Instant::now();
        let response = server
            .request(client, reqwest::Method::GET, &path)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = start.elapsed();
        if !status.is_success() {
            return Err(format!(
                "GET {path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        out.push(elapsed);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

#[tokio::main(flavor = "current_thread")]
pub async fn run(opts: Args) -> ExitCode {
    match bench(&opts).await {
        // Every figure was printed; a missed target is reported in the table, not an error.
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jackal-bench run: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(opts: &Args) -> Result<bool> {
    let command: Vec<String> = std::env::args().collect();
    let facts = machine_facts();

    let mut server = Server::start_temp(&opts.jackal)?;
    let api = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .timeout(Duration::from_secs(60))
        .build()?;
    let tls = floor_tls()?;

    let uri = |ssl: bool| {
        format!(
            "postgresql://postgres@{}:{}/postgres?ssl={ssl}&validateSsl=false",
            opts.pg_host, opts.pg_port
        )
    };
    let uris = [uri(false), uri(true)];
    let saved_ids = [
        create_data_source(&server, &api, "bench-test-plain", &uris[0]).await?,
        create_data_source(&server, &api, "bench-test-tls", &uris[1]).await?,
    ];
    // The HTTP floor: the direct floor run inside a bare actix-web handler, with the same
    // credentials checked byte for byte.
    let authorization = server
        .request(&api, reqwest::Method::GET, "/whoami")
        .build()?
        .headers()[reqwest::header::AUTHORIZATION]
        .to_str()?
        .to_owned();
    let http_floor = Floor::start(
        &authorization,
        &[
            "--pg".into(),
            format!("{}:{}", opts.pg_host, opts.pg_port).into(),
        ],
    )?;
    let http_floor_api = server.api().with_base(http_floor.base.clone());
    let compared = match &opts.compare {
        Some(binary) => {
            let other = Server::start_temp(binary)?;
            let ids = [
                create_data_source(&other, &api, "bench-test-plain", &uris[0]).await?,
                create_data_source(&other, &api, "bench-test-tls", &uris[1]).await?,
            ];
            Some((other, ids))
        }
        None => None,
    };

    // ---- Part 1 -------------------------------------------------------------------------
    eprintln!(
        "part 1: warm-up {} + {} interleaved iterations \
         (connection-test / floor / data-source test / HTTP floor [/ --compare build] \
         × ssl=false/true)",
        opts.warmup, opts.iterations
    );
    let mut series = [Series::default(), Series::default()];
    let mut pg_version = String::new();
    let part1_start = Instant::now();
    let sides = if compared.is_some() { 5 } else { 4 };
    for i in 0..opts.warmup + opts.iterations {
        let measured = i >= opts.warmup;
        // Alternate the order of the sides and of the ssl modes, so drift and ordering
        // effects fall on every side equally.
        let ssl_order: [usize; 2] = if (i / 6) % 2 == 0 { [0, 1] } else { [1, 0] };
        for &mode in &ssl_order {
            let tls_opt = (mode == 1).then_some(&tls);
            for side in side_order(i, sides) {
                if side == 1 {
                    let (s, version) = floor_once(&opts.pg_host, opts.pg_port, tls_opt)
                        .await
                        .map_err(|e| format!("floor (ssl={}) failed: {e}", mode == 1))?;
                    pg_version = version;
                    if measured {
                        series[mode].floor.push(s);
                    }
                    continue;
                }
                let to = &mut series[mode];
                let (on, endpoint, to) = match (side, &compared) {
                    (0, _) => (server.api(), Endpoint::Unsaved(&uris[mode]), &mut to.jackal),
                    (2, _) => (
                        server.api(),
                        Endpoint::Saved(&saved_ids[mode]),
                        &mut to.saved,
                    ),
                    (3, _) => (
                        &http_floor_api,
                        Endpoint::HttpFloor(if mode == 1 { "tls" } else { "plain" }),
                        &mut to.http_floor,
                    ),
                    (_, Some((other, other_ids))) => (
                        other.api(),
                        Endpoint::Saved(&other_ids[mode]),
                        &mut to.compared,
                    ),
                    (_, None) => unreachable!("side 4 only with --compare"),
                };
                let s = jackal_once(on, &api, &endpoint).await?;
                if measured {
                    to.push(s);
                }
            }
        }
        if measured && (i - opts.warmup + 1).is_multiple_of(50) {
            eprintln!("  {} / {}", i - opts.warmup + 1, opts.iterations);
        }
    }
    let part1_secs = part1_start.elapsed().as_secs_f64();
    if let Some((mut other, _)) = compared {
        other.kill();
    }
    drop(http_floor);

    // ---- Part 2 -------------------------------------------------------------------------
    eprintln!(
        "part 2: {} GETs baseline, then {} hanging tests + {} GETs",
        opts.gets, opts.flood, opts.gets
    );
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let silent_port = silent.local_addr()?.port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let holder = {
        let accepted = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = silent.accept().await {
                accepted.fetch_add(1, Ordering::Relaxed);
                held.push(stream);
            }
        })
    };

    let id = create_data_source(&server, &api, "bench", &uris[0]).await?;

    // Warm the GET path (and the pooled connection) before either measurement.
    get_latencies(&server, &api, &id, 50).await?;
    let baseline = sorted(get_latencies(&server, &api, &id, opts.gets).await?);

    let flood_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let hang_uri = hang_uri(opts, silent_port);
    let finished_early = Arc::new(AtomicUsize::new(0));
    let mut flood_apis = vec![server.api().clone()];
    for k in 1..opts.flood_keys.max(1) {
        flood_apis.push(server.create_key(&format!("flood-{k}"))?);
    }
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..opts.flood {
        let req = flood_apis[i % flood_apis.len()]
            .request(&flood_client, reqwest::Method::POST, "/connection-test")
            .form(&[("configUri", hang_uri.as_str())]);
        let finished_early = finished_early.clone();
        flood.spawn(async move {
            let _ = req.send().await;
            finished_early.fetch_add(1, Ordering::Relaxed);
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted_before_gets = accepted.load(Ordering::Relaxed);
    let during_start = Instant::now();
    let during = sorted(get_latencies(&server, &api, &id, opts.gets).await?);
    let during_secs = during_start.elapsed().as_secs_f64();
    let flood_done = finished_early.load(Ordering::Relaxed);
    let accepted_after_gets = accepted.load(Ordering::Relaxed);
    server.kill();
    flood.abort_all();
    holder.abort();

    // ---- Report -------------------------------------------------------------------------
    println!("# Jackal benchmark\n");
    println!("Command: `{}`\n", command.join(" "));
    println!("| machine | |\n|---|---|");
    for (k, v) in &facts {
        println!("| {k} | {v} |");
    }
    println!("| PostgreSQL | {pg_version} |");
    println!();

    println!(
        "## 1. Connection tests vs direct tokio-postgres floor \
         ({} interleaved iterations after {} warm-up, {:.1} s)\n",
        opts.iterations, opts.warmup, part1_secs
    );
    println!(
        "Floor: tokio-postgres connect + `SELECT version()` (simple query, one round trip, as Jackal asks it) + close, in this process \
         (ssl=true: sslmode=require, rustls/ring, any certificate accepted, no session resumption). \
         Jackal: HTTP round trip of a keep-alive client. \
         HTTP floor: the same client calling `jackal-bench floor`, a bare actix-web server that \
         checks the Authorization header and runs the floor in its handler (no store, no audit, \
         no separate test runtime): what any HTTP service adds to the floor on this machine.\n"
    );
    println!("| ssl | Jackal endpoint | jackal p50 ms | floor p50 ms | p50 ratio | jackal p95 ms | floor p95 ms | p95 ratio | target p50 ratio ≤ {TEST_P50_RATIO_TARGET} |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---|");
    let mut all_ok = true;
    for (mode, s) in series.iter().enumerate() {
        let f = sorted(s.floor.iter().map(|x| x.total).collect());
        // The last two rows are for comparison; the verdict is this build's.
        for (label, samples, counted) in [
            ("`POST /data-source/{id}/test`", &s.saved, true),
            ("`POST /connection-test`", &s.jackal, true),
            (
                "`POST /data-source/{id}/test`, `--compare` build",
                &s.compared,
                false,
            ),
            (
                "HTTP floor: `jackal-bench floor` running the floor in its handler",
                &s.http_floor,
                false,
            ),
        ] {
            if samples.is_empty() {
                continue;
            }
            let j = sorted_rtts(samples);
            let (j50, f50, j95, f95) = (pct(&j, 50.0), pct(&f, 50.0), pct(&j, 95.0), pct(&f, 95.0));
            let ok = j50 / f50 <= TEST_P50_RATIO_TARGET;
            if counted {
                all_ok &= ok;
            }
            println!(
                "| {} | {label} | {j50:.2} | {f50:.2} | {:.2} | {j95:.2} | {f95:.2} | {:.2} | {} |",
                mode == 1,
                j50 / f50,
                j95 / f95,
                if counted { verdict(ok) } else { "(reference)" }
            );
        }
    }
    println!();
    // Beside the target: how far Jackal is from what any HTTP service costs here.
    let p50 = |samples: &[JackalSample]| pct(&sorted_rtts(samples), 50.0);
    let against_http_floor: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(mode, s)| {
            let h = p50(&s.http_floor);
            format!(
                "ssl={}: `/data-source/{{id}}/test` {:.2}, `/connection-test` {:.2}",
                mode == 1,
                p50(&s.saved) / h,
                p50(&s.jackal) / h
            )
        })
        .collect();
    println!(
        "Jackal p50 / HTTP floor p50 (for reference, not the target): {}.\n",
        against_http_floor.join("; ")
    );
    println!("Where the time goes (medians in ms; all rows measured interleaved in this run):\n");
    println!("| ssl | measured | p50 ms | p95 ms | `/connection-test` p50 / this p50 | median breakdown, ms |");
    println!("|---|---|---:|---:|---:|---|");
    for (mode, s) in series.iter().enumerate() {
        let ssl = mode == 1;
        let j50 = pct(&sorted_rtts(&s.jackal), 50.0);
        for (label, samples) in [
            ("Jackal `POST /connection-test`", &s.jackal),
            ("Jackal `POST /data-source/{id}/test`", &s.saved),
            (
                "`--compare` build `POST /data-source/{id}/test`",
                &s.compared,
            ),
            ("HTTP floor (`jackal-bench floor`)", &s.http_floor),
        ] {
            if samples.is_empty() {
                continue;
            }
            let j = sorted_rtts(samples);
            let dur = pctf(
                &sortedf(samples.iter().map(|x| x.duration_ms).collect()),
                50.0,
            );
            let overhead = pctf(
                &sortedf(samples.iter().map(|x| ms(x.rtt) - x.duration_ms).collect()),
                50.0,
            );
            let phases: Vec<String> = phase_medians(samples)
                .into_iter()
                .map(|(n, v)| format!("{n} {v:.1}"))
                .collect();
            // The HTTP floor reports no phases: print none rather than an empty "()".
            let phases = if phases.is_empty() {
                String::new()
            } else {
                format!(" ({})", phases.join(", "))
            };
            println!(
                "| {ssl} | {label} | {:.2} | {:.2} | {:.2} | server durationMs {dur:.1}{phases}; HTTP + handler (RTT − durationMs) {overhead:.2} |",
                pct(&j, 50.0),
                pct(&j, 95.0),
                j50 / pct(&j, 50.0),
            );
        }
        let samples = &s.floor;
        let total = sorted(samples.iter().map(|x| x.total).collect());
        let part =
            |f: fn(&FloorSample) -> Duration| pct(&sorted(samples.iter().map(f).collect()), 50.0);
        let t50 = pct(&total, 50.0);
        println!(
            "| {ssl} | floor: tokio-postgres `connect` (TCP_NODELAY on) | {t50:.2} | {:.2} | {:.2} | connect (TCP{} + startup/auth) {:.2}, query {:.2}, close {:.2} |",
            pct(&total, 95.0),
            j50 / t50,
            if ssl { " + TLS" } else { "" },
            part(|x| x.connect),
            part(|x| x.query),
            part(|x| x.close),
        );
    }
    println!();

    println!(
        "## 2. `GET /data-source/{{id}}` while {} connection tests hang on a silent listener\n",
        opts.flood
    );
    println!(
        "{} sequential GETs on one keep-alive connection, before the flood (baseline) and \
         from 300 ms after firing {} concurrent `POST /connection-test` to `{}` with {} API \
         key(s), round robin (config: `[test] timeout = 10, max_concurrent = 64`; one key may \
         hold half the slots).\n",
        opts.gets,
        opts.flood,
        hang_uri,
        opts.flood_keys.max(1)
    );
    let (b50, b99, bmax) = (
        pct(&baseline, 50.0),
        pct(&baseline, 99.0),
        pct(&baseline, 100.0),
    );
    let (d50, d99, dmax) = (pct(&during, 50.0), pct(&during, 99.0), pct(&during, 100.0));
    let crud_ok = d99 < CRUD_P99_TARGET_MS;
    all_ok &= crud_ok;
    println!("| GETs | p50 ms | p99 ms | max ms | target p99 < {CRUD_P99_TARGET_MS} ms |");
    println!("|---|---:|---:|---:|---|");
    println!("| baseline (no flood) | {b50:.2} | {b99:.2} | {bmax:.2} | |");
    println!(
        "| during flood | {d50:.2} | {d99:.2} | {dmax:.2} | {} |",
        verdict(crud_ok)
    );
    println!(
        "| ratio during / baseline | {:.2} | {:.2} | {:.2} | |",
        d50 / b50,
        d99 / b99,
        dmax / bmax
    );
    println!();
    println!(
        "Flood check: {accepted_before_gets} connections held by the silent listener 300 ms after \
         firing, {accepted_after_gets} after the GETs ({during_secs:.2} s); {flood_done} of {} \
         tests had answered by then (expected 0: all hang until connectTimeout=30). \
         Jackal was then killed.",
        opts.flood
    );
    println!();
    println!(
        "Targets: {}.",
        if all_ok { "all met" } else { "NOT all met" }
    );
    Ok(all_ok)
}
