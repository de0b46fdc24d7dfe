//! `jackal-bench crash`: kills Jackal with SIGKILL in the middle of a stream of creates, restarts
//! it on the same store and key file, and checks that every create answered 200 survived.
//!
//! Each round: a fresh store; `--clients` tasks create data sources as fast as they can, each
//! with a unique name and a password in its configUri; after a random `--min-ms`..`--max-ms`
//! Jackal gets SIGKILL; it is restarted on the same files; `GET /data-source` must answer 200
//! and list every answered create under its name, `/detail` must give back its configUri with
//! the password, `PRAGMA integrity_check` (read-only, next to the running server) must say
//! `ok`, and one more create must succeed. Exits 1 on any loss or failed check.
//!
//! Usage: `jackal-bench crash --jackal target/release/jackal [--rounds 20] [--clients 8]
//! [--min-ms 500] [--max-ms 2000] [--seed N]`

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jackal_bench::server::{Api, Launch};
use jackal_bench::stats::ms;
use jackal_bench::{at_least, load_average, machine_facts, Result, Rng};
use serde_json::Value;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The jackal binary to kill and restart.
    #[arg(long, value_name = "PATH")]
    jackal: PathBuf,
    /// Rounds, each on a fresh store.
    #[arg(long, default_value_t = 20, value_parser = at_least(1))]
    rounds: usize,
    /// Tasks creating data sources as fast as they can.
    #[arg(long, default_value_t = 8, value_parser = at_least(1))]
    clients: usize,
    /// The earliest SIGKILL after the creates start, in ms.
    #[arg(long, default_value_t = 500)]
    min_ms: u64,
    /// The latest SIGKILL after the creates start, in ms (at least --min-ms).
    #[arg(long, default_value_t = 2000)]
    max_ms: u64,
    /// The seed of the kill times (default: a random one, printed in the report).
    #[arg(long, default_value_t = Rng::random_seed(), hide_default_value = true)]
    seed: u64,
}

/// A create answered 200, as the client saw it.
#[derive(Debug, Clone)]
struct Created {
    id: String,
    name: String,
    /// The configUri the create answered with (password included).
    config_uri: String,
    password: String,
}

/// What one client task saw.
#[derive(Default)]
struct ClientOutcome {
    sent: u64,
    /// Statuses other than 200, answered before the kill.
    other_status: BTreeMap<u16, u64>,
    /// Transport errors before the kill was sent (after it they are expected).
    errors_before_kill: Vec<String>,
    /// Whether the task ended on a request the kill cut off.
    cut_off: bool,
}

#[derive(Default)]
struct RoundResult {
    kill_after: Duration,
    sent: u64,
    answered: usize,
    cut_off: usize,
    found: usize,
    lost: usize,
    mismatched: usize,
    /// Rows present whose create was never answered (in flight at the kill).
    unanswered_rows: usize,
    restart: Option<Duration>,
    /// From spawning the restarted server to its first `GET /data-source` answer.
    first_list: Option<Duration>,
    integrity: String,
    problems: Vec<String>,
    kept: Option<PathBuf>,
}

async fn client_task(
    api: Api,
    client: reqwest::Client,
    round: usize,
    index: usize,
    mut rng: Rng,
    records: Arc<Mutex<Vec<Created>>>,
    killing: Arc<AtomicBool>,
) -> ClientOutcome {
    let mut out = ClientOutcome::default();
    for n in 0u64.. {
        if killing.load(Ordering::Relaxed) {
            break;
        }
        let name = format!("crash r{round} c{index} #{n}");
        let password = format!("pw-{round}-{index}-{n}-{:016x}", rng.next_u64());
        let uri =
            format!("postgresql://crash:{password}@127.0.0.1:5432/round{round}_c{index}?ssl=false");
        out.sent += 1;
        let result = async {
            let response = api
                .request(&client, reqwest::Method::POST, "/data-source")
                .form(&[("name", name.as_str()), ("configUri", uri.as_str())])
                .send()
                .await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        match result {
            Ok((200, body)) => {
                let json: Value = match serde_json::from_slice(&body) {
                    Ok(json) => json,
                    Err(e) => {
                        out.errors_before_kill
                            .push(format!("200 with a body that is not JSON: {e}"));
                        continue;
                    }
                };
                let (Some(id), Some(config_uri)) =
                    (json["id"].as_str(), json["configUri"].as_str())
                else {
                    out.errors_before_kill
                        .push(format!("200 without id or configUri: {json}"));
                    continue;
                };
                records
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Created {
                        id: id.to_owned(),
                        name: json["name"].as_str().unwrap_or_default().to_owned(),
                        config_uri: config_uri.to_owned(),
                        password,
                    });
                if json["name"].as_str() != Some(name.as_str()) {
                    out.errors_before_kill.push(format!(
                        "create of {name:?} answered with name {}",
                        json["name"]
                    ));
                }
            }
            Ok((status, _)) => *out.other_status.entry(status).or_default() += 1,
            Err(e) => {
                if killing.load(Ordering::Relaxed) {
                    out.cut_off = true;
                } else {
                    out.errors_before_kill.push(e.to_string());
                }
                break;
            }
        }
    }
    out
}

/// `PRAGMA integrity_check` and the row count, on a read-only connection of our own.
fn integrity_check(store: &Path) -> std::result::Result<(String, i64), rusqlite::Error> {
    let conn = rusqlite::Connection::open_with_flags(
        store,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let lines = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let rows: i64 = conn.query_row("SELECT count(*) FROM data_source", [], |r| r.get(0))?;
    Ok((lines.join("; "), rows))
}

async fn get_json(api: &Api, client: &reqwest::Client, path: &str) -> Result<Value> {
    let response = api
        .request(client, reqwest::Method::GET, path)
        .send()
        .await?;
    let status = response.status();
    let body = response.bytes().await?;
    if status != reqwest::StatusCode::OK {
        return Err(format!(
            "GET {path}: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Lists, then reads `/detail` of every answered create, `clients` at a time.
async fn verify(
    api: &Api,
    records: &[Created],
    clients: usize,
    restarted: Instant,
    result: &mut RoundResult,
) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let list = get_json(api, &client, "/data-source").await?;
    result.first_list = Some(restarted.elapsed());
    let listed: HashMap<String, String> = list
        .as_array()
        .ok_or("GET /data-source did not answer a JSON array")?
        .iter()
        .map(|ds| {
            (
                ds["id"].as_str().unwrap_or_default().to_owned(),
                ds["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut present = Vec::new();
    for rec in records {
        match listed.get(&rec.id) {
            None => {
                result.lost += 1;
                if result.problems.len() < 10 {
                    result
                        .problems
                        .push(format!("lost: {} ({:?})", rec.id, rec.name));
                }
            }
            Some(name) if *name != rec.name => {
                result.mismatched += 1;
                result.problems.push(format!(
                    "{} listed as {name:?}, created as {:?}",
                    rec.id, rec.name
                ));
            }
            Some(_) => present.push(rec.clone()),
        }
    }
    result.unanswered_rows = listed.len().saturating_sub(
        records
            .iter()
            .filter(|r| listed.contains_key(&r.id))
            .count(),
    );

    // Every present record's /detail, `clients` tasks each taking every n-th record.
    let present = Arc::new(present);
    let mut tasks = tokio::task::JoinSet::new();
    for start in 0..clients {
        let (api, client, present) = (api.clone(), client.clone(), present.clone());
        tasks.spawn(async move {
            let mut bad = Vec::new();
            let mut ok = 0usize;
            for rec in present.iter().skip(start).step_by(clients) {
                let path = format!("/data-source/{}/detail", rec.id);
                match get_json(&api, &client, &path).await {
                    Ok(detail) => {
                        let uri = detail["configUri"].as_str().unwrap_or_default();
                        if uri == rec.config_uri && uri.contains(&rec.password) {
                            ok += 1;
                        } else {
                            bad.push(format!(
                                "{}: /detail configUri {uri:?}, created with {:?}",
                                rec.id, rec.config_uri
                            ));
                        }
                    }
                    Err(e) => bad.push(format!("{}: {e}", rec.id)),
                }
            }
            (ok, bad)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (ok, bad) = joined?;
        result.found += ok;
        result.mismatched += bad.len();
        result.problems.extend(bad.into_iter().take(10));
    }

    // The store still takes writes.
    let response = api
        .request(&client, reqwest::Method::POST, "/data-source")
        .form(&[
            ("name", "after restart"),
            (
                "configUri",
                "postgresql://crash:pw@127.0.0.1:5432/after?ssl=false",
            ),
        ])
        .send()
        .await?;
    if response.status() != reqwest::StatusCode::OK {
        let status = response.status();
        result.problems.push(format!(
            "create after restart: HTTP {status}: {}",
            response.text().await.unwrap_or_default()
        ));
    }
    Ok(())
}

async fn round(
    opts: &Args,
    template: &mut Launch,
    number: usize,
    rng: &mut Rng,
) -> Result<RoundResult> {
    let dir = tempfile::Builder::new().prefix("jackal-crash-").tempdir()?;
    let mut launch = template.clone();
    launch.dir = dir.path().to_owned();
    launch.key_id = uuid::Uuid::new_v4().to_string();
    let mut result = RoundResult {
        kill_after: Duration::from_millis(opts.min_ms + rng.below(opts.max_ms - opts.min_ms + 1)),
        ..RoundResult::default()
    };

    let mut server = launch.start()?;
    template.limits = launch.limits;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let records = Arc::new(Mutex::new(Vec::new()));
    let killing = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..opts.clients {
        tasks.spawn(client_task(
            server.api().clone(),
            client.clone(),
            number,
            index,
            rng.fork(),
            records.clone(),
            killing.clone(),
        ));
    }
    tokio::time::sleep(result.kill_after).await;
    killing.store(true, Ordering::Relaxed);
    // SIGKILL, then reap.
    server.kill();
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined?;
        result.sent += outcome.sent;
        result.cut_off += usize::from(outcome.cut_off);
        for (status, count) in outcome.other_status {
            result.problems.push(format!(
                "{count} creates answered HTTP {status} before the kill"
            ));
        }
        result.problems.extend(
            outcome
                .errors_before_kill
                .into_iter()
                .take(3)
                .map(|e| format!("before the kill: {e}")),
        );
    }
    drop(server);
    let records = std::mem::take(&mut *records.lock().unwrap_or_else(|e| e.into_inner()));
    result.answered = records.len();

    // Restart on the same store and key file.
    let restarted = Instant::now();
    match launch.start() {
        Ok(mut server) => {
            result.restart = Some(server.startup_time());
            if let Err(e) =
                verify(server.api(), &records, opts.clients, restarted, &mut result).await
            {
                result.problems.push(format!("after restart: {e}"));
            }
            let store = launch.store();
            match tokio::task::spawn_blocking(move || integrity_check(&store)).await? {
                Ok((check, rows)) => {
                    if check != "ok" {
                        result.problems.push(format!("integrity_check: {check}"));
                    }
                    result.integrity = check;
                    // Rows: the answered ones, the unanswered ones that committed, plus the
                    // create after restart.
                    let expected =
                        (result.found + result.mismatched + result.unanswered_rows + 1) as i64;
                    if rows != expected {
                        result.problems.push(format!(
                            "data_source holds {rows} rows, the API showed {expected}"
                        ));
                    }
                }
                Err(e) => {
                    result.integrity = format!("cannot run: {e}");
                    result.problems.push(format!("integrity_check: {e}"));
                }
            }
            server.kill();
        }
        Err(e) => {
            result.integrity = "not run".to_owned();
            result.problems.push(format!(
                "restart failed after {:.0} ms: {e}",
                ms(restarted.elapsed())
            ));
        }
    }
    if result.lost > 0 || !result.problems.is_empty() {
        result.kept = Some(dir.keep());
    }
    Ok(result)
}

#[tokio::main]
pub async fn run(opts: Args) -> ExitCode {
    match bench(&opts).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("jackal-bench crash: error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn bench(opts: &Args) -> Result<bool> {
    if opts.min_ms > opts.max_ms {
        return Err("--min-ms must not exceed --max-ms".into());
    }
    let command: Vec<String> = std::env::args().collect();
    let facts = machine_facts();
    let mut rng = Rng::new(opts.seed);
    let mut template = Launch::new(&opts.jackal, Path::new("."));
    let mut results = Vec::new();
    for number in 1..=opts.rounds {
        // An error here is a set-up failure (a fresh store that does not start), not a finding:
        // what the crash does is recorded in the round's result.
        let result = round(opts, &mut template, number, &mut rng)
            .await
            .map_err(|e| format!("round {number}: {e}"))?;
        eprintln!(
            "round {number}/{}: killed after {} ms, {} answered, {} found, {} lost{}",
            opts.rounds,
            result.kill_after.as_millis(),
            result.answered,
            result.found,
            result.lost,
            if result.problems.is_empty() {
                String::new()
            } else {
                format!(", problems: {}", result.problems.join(" | "))
            }
        );
        results.push(result);
    }

    println!("# Jackal crash test\n");
    println!("Command: `{}`\n", command.join(" "));
    println!("| machine | |\n|---|---|");
    for (k, v) in &facts {
        println!("| {k} | {v} |");
    }
    println!("| load average at end | {} |", load_average());
    println!(
        "| store file system | {} |",
        jackal_bench::filesystem_of(&std::env::temp_dir())
    );
    println!("| seed | {} |", opts.seed);
    println!(
        "| config | `[test] timeout = {}, max_concurrent = {}`; {} |",
        template.test_timeout_secs,
        template.max_concurrent,
        template.limits.describe(template.tests_per_minute)
    );
    println!();
    println!(
        "{} clients create data sources as fast as they can; SIGKILL after a random {}–{} ms; \
         restart on the same store and key file. *restart ms*: spawn to the line naming the \
         address; *first list ms*: spawn to the first `GET /data-source` answer; \
         *cut off by the kill*: clients whose request was in flight; *committed, unanswered*: \
         rows whose create was cut off after its commit.\n",
        opts.clients, opts.min_ms, opts.max_ms
    );
    println!(
        "| round | killed after ms | creates sent | answered 200 | found | lost | mismatched | \
         cut off by the kill | committed, unanswered | restart ms | first list ms | \
         integrity_check |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut restarts = Vec::new();
    for (i, r) in results.iter().enumerate() {
        if let Some(d) = r.restart {
            restarts.push(ms(d));
        }
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            r.kill_after.as_millis(),
            r.sent,
            r.answered,
            r.found,
            r.lost,
            r.mismatched,
            r.cut_off,
            r.unanswered_rows,
            r.restart
                .map_or("failed".to_owned(), |d| format!("{:.0}", ms(d))),
            r.first_list
                .map_or("-".to_owned(), |d| format!("{:.0}", ms(d))),
            r.integrity
        );
    }
    let sum = |f: fn(&RoundResult) -> usize| results.iter().map(f).sum::<usize>();
    let (answered, found, lost, mismatched) = (
        sum(|r| r.answered),
        sum(|r| r.found),
        sum(|r| r.lost),
        sum(|r| r.mismatched),
    );
    let restarts = jackal_bench::stats::sortedf(restarts);
    println!(
        "| **all** | | {} | {answered} | {found} | {lost} | {mismatched} | {} | {} | \
         median {:.0}, max {:.0} | | |",
        results.iter().map(|r| r.sent).sum::<u64>(),
        sum(|r| r.cut_off),
        sum(|r| r.unanswered_rows),
        jackal_bench::stats::pctf(&restarts, 50.0),
        restarts.last().copied().unwrap_or(f64::NAN)
    );
    println!();
    let failed: Vec<(usize, &RoundResult)> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.lost > 0 || r.mismatched > 0 || !r.problems.is_empty())
        .map(|(i, r)| (i + 1, r))
        .collect();
    for (number, r) in &failed {
        println!("Round {number} problems: {}", r.problems.join("; "));
        if let Some(dir) = &r.kept {
            println!("  store kept in {}", dir.display());
        }
    }
    let ok = failed.is_empty() && lost == 0 && answered == found;
    println!(
        "Verdict: {}",
        if ok {
            format!(
                "PASS: all {answered} creates answered 200 survived SIGKILL with their names and \
                 passwords, in {} rounds; every restart opened the store and integrity_check \
                 said ok.",
                results.len()
            )
        } else {
            format!(
                "FAIL: {lost} lost, {mismatched} mismatched of {answered} answered; {} round(s) \
                 with problems.",
                failed.len()
            )
        }
    );
    Ok(ok)
}
