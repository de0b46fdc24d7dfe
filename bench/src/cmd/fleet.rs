//! `jackal-bench fleet`: the fleet test at scale (issue 20): 1,000 data sources, a third on the
//! local PostgreSQL, a third on closed ports, a third on a silent listener with
//! `connectTimeout=2`, tested by one `POST /test-run` with `[test] max_concurrent = 64`.
//!
//! The floor is the ideal schedule: each data source's own test time, measured in the same run
//! by testing a sample of each kind one at a time, laid out on the 64 slots in the order the
//! run starts them (each test to the first slot free). The run's wall time is set beside it,
//! and the server's resident memory is sampled every 20 ms during the run.
//!
//! `jackal-bench fleet --jackal target/release/jackal [--count 1000] [--slots 64]
//! [--sample 15]`; needs the local PostgreSQL (postgres@127.0.0.1:5432, trust).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jackal_bench::server::{proc_sample, Launch};
use jackal_bench::{load_average, Result};
use reqwest::Method;
use serde_json::Value;

const PG: &str = "postgresql://postgres@127.0.0.1:5432/postgres?ssl=false";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Postgres,
    Closed,
    Silent,
}

impl Kind {
    fn expected(self) -> Option<&'static str> {
        match self {
            Kind::Postgres => None,
            Kind::Closed => Some("refused"),
            Kind::Silent => Some("timeout"),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The jackal binary to measure.
    #[arg(long, value_name = "PATH", default_value = "target/release/jackal")]
    jackal: PathBuf,
    /// Data sources in the fleet, a third of each kind.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// `[test] max_concurrent` of the server, and the slots of the ideal schedule.
    #[arg(long, default_value_t = 64)]
    slots: usize,
    /// Data sources of each kind tested one at a time for the ideal schedule.
    #[arg(long, default_value_t = 15)]
    sample: usize,
}

/// Accepts connections and never says a word; holds them until the run ends.
async fn silent_listener() -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(port)
}

/// Ports nobody listens on: bound, then closed.
fn closed_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()?)
}

/// Each test to the first slot free, in order: when the last one ends.
fn ideal_makespan(times: &[Duration], slots: usize) -> Duration {
    let mut free = vec![Duration::ZERO; slots];
    for t in times {
        let slot = (0..slots).min_by_key(|&i| free[i]).unwrap_or(0);
        free[slot] += *t;
    }
    free.into_iter().max().unwrap_or_default()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(o: Args) -> ExitCode {
    match bench(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jackal-bench fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn bench(o: &Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut launch = Launch::new(&o.jackal, dir.path());
    launch.max_concurrent = o.slots;
    // One admin key runs the whole fleet: let it hold every slot.
    launch.key_share = Some(1.0);
    let server = launch.start()?;
    let api = server.api().clone();
    let client = reqwest::Client::new();
    let silent = silent_listener().await?;
    let closed = closed_ports(o.count / 3)?;

    // Interleaved, so every stretch of the run holds all three kinds.
    let mut fleet: Vec<(String, Kind)> = Vec::with_capacity(o.count);
    for i in 0..o.count {
        let kind = [Kind::Postgres, Kind::Closed, Kind::Silent][i % 3];
        let uri = match kind {
            Kind::Postgres => PG.to_owned(),
            Kind::Closed => format!(
                "postgresql://u@127.0.0.1:{}/db?ssl=false",
                closed[(i / 3) % closed.len()]
            ),
            Kind::Silent => format!("postgresql://u@127.0.0.1:{silent}/db?connectTimeout=2"),
        };
        let res = api
            .request(&client, Method::POST, "/data-source")
            .form(&[("name", format!("fleet {i:04}")), ("configUri", uri)])
            .send()
            .await?;
        let created: Value = res.json().await?;
        let id = created["id"]
            .as_str()
            .ok_or(format!("not created: {created}"))?;
        fleet.push((id.to_owned(), kind));
    }

    // Single-test times of each kind, one at a time.
    let mut singles: BTreeMap<Kind, Vec<Duration>> = BTreeMap::new();
    for kind in [Kind::Postgres, Kind::Closed, Kind::Silent] {
        let ids: Vec<&String> = fleet
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(id, _)| id)
            .take(o.sample)
            .collect();
        for id in ids {
            let started = Instant::now();
            let res = api
                .request(&client, Method::POST, &format!("/data-source/{id}/test"))
                .send()
                .await?;
            let status = res.status();
            let body: Value = res.json().await?;
            if !status.is_success() {
                return Err(format!("single test: {status} {body}").into());
            }
            singles.entry(kind).or_default().push(started.elapsed());
        }
    }
    let single: BTreeMap<Kind, Duration> = singles
        .iter()
        .map(|(k, v)| (*k, median(v.clone())))
        .collect();
    let times: Vec<Duration> = fleet.iter().map(|(_, k)| single[k]).collect();
    let ideal = ideal_makespan(&times, o.slots);

    // The run, with the server's memory sampled beside it.
    let pid = server.pid();
    let before = proc_sample(pid).map_or(0, |s| s.rss_kib);
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Some(s) = proc_sample(pid) {
                    peak.fetch_max(s.rss_kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let res = api
        .request(&client, Method::POST, "/test-run")
        .header(reqwest::header::ACCEPT, "application/x-ndjson")
        .send()
        .await?;
    if !res.status().is_success() {
        return Err(format!("test-run: {}", res.status()).into());
    }
    let text = res.text().await?;
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.await?;

    let kinds: BTreeMap<&str, Kind> = fleet.iter().map(|(id, k)| (id.as_str(), *k)).collect();
    let mut wrong = Vec::new();
    let mut results = 0;
    let mut summary = Value::Null;
    for line in text.lines() {
        let value: Value = serde_json::from_str(line)?;
        if value.get("summary").is_some() {
            summary = value["summary"].clone();
            continue;
        }
        results += 1;
        let id = value["dataSource"]["id"].as_str().unwrap_or("");
        let kind = kinds.get(id).copied();
        let ok = match kind.map(Kind::expected) {
            Some(None) => value["result"]["success"] == true,
            Some(Some(code)) => value["result"]["errorCode"] == code,
            None => false,
        };
        if !ok && wrong.len() < 5 {
            wrong.push(line.to_owned());
        }
    }

    let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
    println!("# Fleet test: {} data sources, {} slots", o.count, o.slots);
    println!();
    println!(
        "Load average at the end: {}. Single-test medians of {} each, one at a time.",
        load_average(),
        o.sample
    );
    println!();
    println!("| kind | data sources | single test p50 ms |");
    println!("|---|---|---|");
    for (kind, d) in &single {
        let n = fleet.iter().filter(|(_, k)| k == kind).count();
        println!("| {kind:?} | {n} | {} |", ms(*d));
    }
    println!();
    println!("| figure | measured | target |");
    println!("|---|---|---|");
    println!(
        "| results | {results} of {}, {} wrong | every result correct |",
        o.count,
        text.lines().count().saturating_sub(results + 1) + wrong.len()
    );
    println!(
        "| wall / ideal schedule | {} ms / {} ms = **{:.3}** | ≤ 1.2 |",
        ms(wall),
        ms(ideal),
        wall.as_secs_f64() / ideal.as_secs_f64()
    );
    println!(
        "| server RSS during the run | {:.1} MiB peak (before: {:.1} MiB) | ≤ 60 MiB |",
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
        before as f64 / 1024.0
    );
    println!();
    println!("Summary line: `{summary}`");
    for line in &wrong {
        println!("wrong: {line}");
    }
    if !wrong.is_empty() || results != o.count {
        return Err("some results were wrong or missing".into());
    }
    Ok(())
}
