//! `jackal-bench lists`: memory while a long list is answered (issue 20): a store of 100,000
//! data sources, then `GET /data-source` on a freshly started server, its peak resident memory
//! (`VmHWM`, which includes start-up) and its answer's bytes. With `--compare OLD_JACKAL` an older build lists
//! a copy of the same store in the same run, alternating, and the two answers are compared
//! byte for byte. On SQLite, then on a database of the local PostgreSQL.
//!
//! `jackal-bench lists --jackal target/release/jackal [--compare OLD]
//! [--count 100000] [--rounds 3] [--postgres ADMIN_URL|none]`
//!
//! With `--compare`, the store is made by the older build (a newer build migrates an older
//! store, never the reverse), and each start gets its own copy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use jackal_bench::server::{proc_sample, Launch};
use jackal_bench::{load_average, Result};
use reqwest::Method;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The jackal binary to measure.
    #[arg(long, value_name = "PATH", default_value = "target/release/jackal")]
    jackal: PathBuf,
    /// An older jackal build that lists a copy of the same store, alternating; the answers are
    /// compared byte for byte.
    #[arg(long, value_name = "OLD_JACKAL")]
    compare: Option<PathBuf>,
    /// Data sources in the store.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Fresh starts listing the store, per build and store.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// A superuser (or CREATEDB) connection URL for the PostgreSQL store's database; `none`
    /// skips it.
    #[arg(long = "postgres", value_name = "ADMIN_URL|none", default_value = DEFAULT_POSTGRES)]
    postgres_arg: String,
}

const DEFAULT_POSTGRES: &str = "postgresql://postgres@127.0.0.1:5432/postgres";

impl Args {
    fn postgres(&self) -> Option<&String> {
        (self.postgres_arg != "none").then_some(&self.postgres_arg)
    }
}

/// Where a round's store is: a copy of the seeded one.
enum Seed {
    Sqlite,
    Postgres { admin: String, db: String },
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("jackal") {
            std::fs::copy(entry.path(), to.join(name))?;
        }
    }
    Ok(())
}

async fn admin_execute(admin: &str, sql: &str) -> Result<()> {
    let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client.batch_execute(sql).await?;
    Ok(())
}

fn db_url(admin: &str, db: &str) -> String {
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{db}")
}

/// Creates the store with `count` data sources through the API of `binary`.
async fn seed(
    binary: &Path,
    dir: &Path,
    store_url: Option<String>,
    count: usize,
) -> Result<String> {
    let mut launch = Launch::new(binary, dir);
    launch.store_url = store_url;
    let server = launch.start()?;
    let api = server.api().clone();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut next = 0;
    while next < count {
        let batch: Vec<_> = (next..(next + 64).min(count))
            .map(|i| {
                let (api, client) = (api.clone(), client.clone());
                tokio::spawn(async move {
                    api.request(&client, Method::POST, "/data-source")
                        .form(&[
                            ("name", format!("Data source {i:06}")),
                            (
                                "configUri",
                                format!(
                                    "postgresql://user{i}@db{}.example.internal:5432/app",
                                    i % 97
                                ),
                            ),
                            ("description", "made by jackal-bench-lists".to_owned()),
                        ])
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                })
            })
            .collect();
        for task in batch {
            if !task.await?? {
                return Err("a create failed".into());
            }
        }
        next += 64;
    }
    eprintln!("seeded {count} data sources in {:?}", started.elapsed());
    Ok(launch.key_id.clone())
}

struct Listed {
    peak_kib: u64,
    took: Duration,
    body: Vec<u8>,
}

async fn list_once(
    binary: &Path,
    dir: &Path,
    store_url: Option<String>,
    key_id: &str,
) -> Result<Listed> {
    let mut launch = Launch::new(binary, dir);
    launch.store_url = store_url;
    launch.key_id = key_id.to_owned();
    let server = launch.start()?;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let res = server
        .api()
        .request(&client, Method::GET, "/data-source")
        .send()
        .await?;
    if !res.status().is_success() {
        return Err(format!("list: {}", res.status()).into());
    }
    let body = res.bytes().await?.to_vec();
    let took = started.elapsed();
    let peak_kib = proc_sample(server.pid())
        .ok_or("no /proc status")?
        .peak_rss_kib;
    Ok(Listed {
        peak_kib,
        took,
        body,
    })
}

pub fn run(o: Args) -> ExitCode {
    match bench(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jackal-bench lists: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn bench(o: &Args) -> Result<()> {
    let seeder = o.compare.clone().unwrap_or_else(|| o.jackal.clone());
    let mut builds = vec![("this build", o.jackal.clone())];
    if let Some(old) = &o.compare {
        builds.push(("older build", old.clone()));
    }
    println!(
        "# `GET /data-source` of {} data sources on a fresh server\n\nLoad average at the start: {}.\n",
        o.count,
        load_average()
    );
    let mut stores = vec!["sqlite"];
    if o.postgres().is_some() {
        stores.push("postgresql");
    }
    for store in stores {
        let work = tempfile::tempdir()?;
        let seed_dir = work.path().join("seed");
        std::fs::create_dir_all(&seed_dir)?;
        let pid = std::process::id();
        let seed_at = match (store, o.postgres()) {
            ("postgresql", Some(admin)) => {
                let db = format!("jackal_bench_lists_{pid}");
                admin_execute(admin, &format!("CREATE DATABASE {db}")).await?;
                Seed::Postgres {
                    admin: admin.clone(),
                    db,
                }
            }
            _ => Seed::Sqlite,
        };
        let seed_url = match &seed_at {
            Seed::Postgres { admin, db } => Some(db_url(admin, db)),
            Seed::Sqlite => None,
        };
        let key_id = seed(&seeder, &seed_dir, seed_url, o.count).await?;
        println!("## {store}\n");
        println!(
            "| round | build | peak RSS MiB | list took ms | bytes | same bytes as this build |"
        );
        println!("|---|---|---|---|---|---|");
        let mut made = Vec::new();
        let mut reference: Option<Vec<u8>> = None;
        for round in 0..o.rounds {
            let mut order = builds.clone();
            if round % 2 == 1 {
                order.reverse();
            }
            for (name, binary) in &order {
                let dir = work
                    .path()
                    .join(format!("r{round}-{}", name.replace(' ', "-")));
                copy_dir(&seed_dir, &dir)?;
                let url = match &seed_at {
                    Seed::Postgres { admin, db } => {
                        let copy = format!("{db}_r{round}_{}", name.replace(' ', "_"));
                        admin_execute(admin, &format!("CREATE DATABASE {copy} TEMPLATE {db}"))
                            .await?;
                        made.push(copy.clone());
                        Some(db_url(admin, &copy))
                    }
                    Seed::Sqlite => None,
                };
                let listed = list_once(binary, &dir, url, &key_id).await?;
                if *name == "this build" && reference.is_none() {
                    reference = Some(listed.body.clone());
                }
                let same = reference.as_ref().map(|b| *b == listed.body);
                println!(
                    "| {} | {name} | {:.1} | {:.0} | {} | {} |",
                    round + 1,
                    listed.peak_kib as f64 / 1024.0,
                    listed.took.as_secs_f64() * 1000.0,
                    listed.body.len(),
                    match (same, *name) {
                        (_, "this build") => "-".to_owned(),
                        (Some(true), _) => "yes".to_owned(),
                        (Some(false), _) => "**no**".to_owned(),
                        (None, _) => "(not yet listed)".to_owned(),
                    }
                );
            }
        }
        println!();
        if let Seed::Postgres { admin, db } = &seed_at {
            for copy in made.iter().chain([db]) {
                let _ = admin_execute(
                    admin,
                    &format!("DROP DATABASE IF EXISTS {copy} WITH (FORCE)"),
                )
                .await;
            }
        }
    }
    Ok(())
}
