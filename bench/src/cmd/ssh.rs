//! `jackal-bench ssh`: a connection test through an SSH tunnel, three ways, interleaved in one
//! run against the same bastion and the same PostgreSQL:
//!
//! - **jackal**: `POST /data-source/{id}/test` of a stored data source whose configUri goes
//!   through the bastion (ed25519 key, pinned host key), on a real `jackal` process;
//! - **floor**: the same steps done directly in this process with the same crates and versions:
//!   TCP to the bastion, russh handshake (Jackal's own `client_config`) with the host key
//!   checked against the pin, public-key
//!   login, a `direct-tcpip` channel to PostgreSQL, tokio-postgres `connect_raw` over it,
//!   `SELECT version()` (simple query), close;
//! - **openssh**, twice (with OpenSSH's default key exchange, and with the one russh
//!   negotiates): the same PostgreSQL steps over OpenSSH's own client, `ssh -W host:port` run as
//!   a child process whose stdin/stdout is the stream (as a ProxyCommand would be), with the host
//!   key checked against a known_hosts file. It includes starting the `ssh` process, which is
//!   what using OpenSSH for a test would cost.
//!
//! Usage: `jackal-bench ssh --jackal target/release/jackal [--iterations 200] [--warmup 20]
//! [--bastion 127.0.0.1:52222] [--ssh-dir /var/lib/jackal-test/ssh] [--ssh-user jackal_ssh]
//! [--pg 127.0.0.1:5432]`; the bastion, user and keys are the ones `scripts/test-databases`
//! sets up.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jackal_bench::pg_floor::select_version;
use jackal_bench::server::Server;
use jackal_bench::stats::{pct, sorted};
use jackal_bench::{at_least, machine_facts, Result};
use russh::client::{self, AuthResult};
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_postgres::config::SslMode;
use tokio_postgres::NoTls;

/// The target for the tunnelled test against the floor.
const P50_RATIO_TARGET: f64 = 1.15;

/// The key exchange russh 0.65 negotiates with OpenSSH 9.2's sshd (its debug log says so).
const RUSSH_KEX: &str = "curve25519-sha256";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The jackal binary to measure.
    #[arg(long, value_name = "PATH", default_value = "target/release/jackal")]
    jackal: PathBuf,
    /// Measured iterations, each side.
    #[arg(long, default_value_t = 200, value_parser = at_least(1))]
    iterations: usize,
    /// Warm-up iterations, not measured.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// The SSH bastion, `HOST:PORT`.
    #[arg(long, default_value = "127.0.0.1:52222")]
    bastion: String,
    /// The directory of the client key and the bastion's fingerprint.
    #[arg(long, default_value = "/var/lib/jackal-test/ssh")]
    ssh_dir: PathBuf,
    /// The user the client logs in as on the bastion.
    #[arg(long, default_value = "jackal_ssh")]
    ssh_user: String,
    /// The PostgreSQL the tunnel reaches, `HOST:PORT` as the bastion sees it.
    #[arg(long, default_value = "127.0.0.1:5432")]
    pg: String,
}

/// Accepts exactly the pinned host key, as Jackal's check does.
struct Pinned(String);

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        Ok(match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => {
                key.fingerprint(HashAlg::Sha256).to_string() == self.0
            }
            _ => false,
        })
    }
}

fn pg_config() -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .user("postgres")
        .dbname("postgres")
        .application_name("jackal-bench-ssh")
        .ssl_mode(SslMode::Disable);
    config
}

/// Logs in over `stream`, runs `SELECT version()` as one simple query, closes.
async fn postgres_over<S>(stream: S) -> Result<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = pg_config().connect_raw(stream, NoTls).await?;
    let task = tokio::spawn(connection);
    let version = select_version(&client).await?;
    drop(client);
    task.await??;
    Ok(version)
}

/// The floor: the tunnelled test done directly with russh and tokio-postgres.
async fn floor_once(opts: &Args, key: &Arc<PrivateKey>, pin: &str) -> Result<Duration> {
    let (pg_host, pg_port) = opts.pg.rsplit_once(':').ok_or("--pg HOST:PORT")?;
    let start = Instant::now();
    let tcp = TcpStream::connect(&opts.bastion).await?;
    tcp.set_nodelay(true)?;
    let mut session = client::connect_stream(
        jackal_drivers::ssh::client_config(),
        tcp,
        Pinned(pin.to_owned()),
    )
    .await?;
    let auth = session
        .authenticate_publickey(
            &opts.ssh_user,
            PrivateKeyWithHashAlg::new(key.clone(), None),
        )
        .await?;
    if !matches!(auth, AuthResult::Success) {
        return Err("the bastion refused the key".into());
    }
    let channel = session
        .channel_open_direct_tcpip(pg_host, pg_port.parse()?, "127.0.0.1", 0)
        .await?;
    postgres_over(channel.into_stream()).await?;
    drop(session);
    Ok(start.elapsed())
}

/// OpenSSH's client as the stream: `ssh -W`, stdin/stdout joined. The time until PostgreSQL's
/// connection is closed (comparable with the floor), and until `ssh` has exited.
/// `kex`: OpenSSH's choice (`None`: its default order, which picks the post-quantum hybrid
/// sntrup761x25519-sha512 against this sshd) or the one russh negotiates.
async fn openssh_once(
    opts: &Args,
    key_file: &std::path::Path,
    kex: Option<&str>,
) -> Result<(Duration, Duration)> {
    let (host, port) = opts.bastion.rsplit_once(':').ok_or("--bastion HOST:PORT")?;
    let known_hosts = opts.ssh_dir.join("known_hosts_bastion");
    let start = Instant::now();
    let mut command = tokio::process::Command::new("ssh");
    if let Some(kex) = kex {
        command.arg("-o").arg(format!("KexAlgorithms={kex}"));
    }
    let mut child = command
        .args(["-q", "-F", "/dev/null", "-i"])
        .arg(key_file)
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "IdentitiesOnly=yes", "-p", port, "-W", &opts.pg])
        .arg(format!("{}@{host}", opts.ssh_user))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stream = tokio::io::join(
        child.stdout.take().ok_or("no stdout")?,
        child.stdin.take().ok_or("no stdin")?,
    );
    postgres_over(stream).await?;
    let answered = start.elapsed();
    // The stream's end closed ssh's stdin: it exits on its own once the channel closes.
    child.wait().await?;
    Ok((answered, start.elapsed()))
}

async fn jackal_once(
    server: &Server,
    client: &reqwest::Client,
    id: &str,
) -> Result<(Duration, f64)> {
    let start = Instant::now();
    let response = server
        .request(
            client,
            reqwest::Method::POST,
            &format!("/data-source/{id}/test"),
        )
        .send()
        .await?;
    let body = response.bytes().await?;
    let rtt = start.elapsed();
    let json: Value = serde_json::from_slice(&body)?;
    if json["success"] != Value::Bool(true) {
        return Err(format!("the tunnelled test failed: {json}").into());
    }
    Ok((rtt, json["durationMs"].as_f64().unwrap_or(f64::NAN)))
}

#[tokio::main(flavor = "current_thread")]
pub async fn run(opts: Args) -> ExitCode {
    match bench(&opts).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("jackal-bench ssh: {e}");
            ExitCode::from(2)
        }
    }
}

async fn bench(opts: &Args) -> Result<bool> {
    let command: Vec<String> = std::env::args().collect();
    let key_path = opts.ssh_dir.join("client/id_ed25519");
    let key_text = std::fs::read_to_string(&key_path)?;
    let key = Arc::new(PrivateKey::from_openssh(&key_text)?);
    let pin = std::fs::read_to_string(opts.ssh_dir.join("bastion.fingerprint"))?
        .trim()
        .to_owned();
    // OpenSSH refuses a private key others may read: a 0600 copy.
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("id_ed25519");
    std::fs::write(&key_file, &key_text)?;
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )?;
    let public: PublicKey = key.public_key().clone();
    eprintln!(
        "client key {} (ed25519), bastion {} pinned {pin}",
        public.fingerprint(HashAlg::Sha256),
        opts.bastion
    );

    let server = Server::start_temp(&opts.jackal)?;
    let api = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .timeout(Duration::from_secs(60))
        .build()?;
    let (host, port) = opts.bastion.rsplit_once(':').ok_or("--bastion HOST:PORT")?;
    let uri = format!(
        "postgresql://postgres@{}/postgres?ssl=false&sshHost={host}&sshPort={port}&sshUser={}&sshHostKey={}",
        opts.pg,
        opts.ssh_user,
        pin.replace('+', "%2B")
    );
    let created = server
        .request(&api, reqwest::Method::POST, "/data-source")
        .form(&[
            ("name", "bench-tunnel"),
            ("configUri", uri.as_str()),
            ("sshPrivateKey", key_text.as_str()),
        ])
        .send()
        .await?;
    let created: Value = serde_json::from_str(&created.text().await?)?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| format!("POST /data-source: {created}"))?
        .to_owned();

    let mut jackal = Vec::new();
    let mut overhead = Vec::new();
    let mut floor = Vec::new();
    let mut openssh = Vec::new();
    let mut openssh_exit = Vec::new();
    let mut openssh_same_kex = Vec::new();
    let started = Instant::now();
    for i in 0..opts.warmup + opts.iterations {
        // Rotate the order each iteration, so each side runs first, second and third equally.
        for side in (0..4).map(|k| (i + k) % 4) {
            match side {
                0 => {
                    let (rtt, duration_ms) = jackal_once(&server, &api, &id).await?;
                    if i >= opts.warmup {
                        jackal.push(rtt);
                        overhead.push(rtt.as_secs_f64() * 1000.0 - duration_ms);
                    }
                }
                1 => {
                    let d = floor_once(opts, &key, &pin).await?;
                    if i >= opts.warmup {
                        floor.push(d);
                    }
                }
                2 => {
                    let (answered, exited) = openssh_once(opts, &key_file, None).await?;
                    if i >= opts.warmup {
                        openssh.push(answered);
                        openssh_exit.push(exited);
                    }
                }
                _ => {
                    let (answered, _) = openssh_once(opts, &key_file, Some(RUSSH_KEX)).await?;
                    if i >= opts.warmup {
                        openssh_same_kex.push(answered);
                    }
                }
            }
        }
        if (i + 1) % 50 == 0 {
            eprintln!("  {} / {}", i + 1, opts.warmup + opts.iterations);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let (jackal, floor, openssh) = (sorted(jackal), sorted(floor), sorted(openssh));
    let (openssh_exit, openssh_same_kex) = (sorted(openssh_exit), sorted(openssh_same_kex));
    overhead.sort_by(f64::total_cmp);
    let ratio = pct(&jackal, 50.0) / pct(&floor, 50.0);
    let floor_vs_openssh = pct(&floor, 50.0) / pct(&openssh, 50.0);
    let floor_vs_same_kex = pct(&floor, 50.0) / pct(&openssh_same_kex, 50.0);
    let ok = ratio <= P50_RATIO_TARGET;

    println!("# Jackal benchmark: connection tests through an SSH tunnel\n");
    println!("Command: `{}`\n", command.join(" "));
    println!("| machine | |\n|---|---|");
    for (k, v) in machine_facts() {
        println!("| {k} | {v} |");
    }
    println!();
    println!(
        "{} interleaved iterations after {} warm-up ({secs:.1} s), each side once per iteration \
         in rotating order. Bastion {} (OpenSSH sshd, ed25519 host key pinned), user {}, \
         ed25519 client key; PostgreSQL {} as `postgres`, `ssl=false`, `SELECT version()`.\n",
        opts.iterations, opts.warmup, opts.bastion, opts.ssh_user, opts.pg
    );
    println!("| side | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|");
    for (name, s) in [
        ("Jackal `POST /data-source/{id}/test` (HTTP round trip)", &jackal),
        ("floor: russh + tokio-postgres in-process", &floor),
        ("OpenSSH `ssh -W` child process + tokio-postgres, to the PostgreSQL close", &openssh),
        ("the same, to `ssh`'s exit", &openssh_exit),
        (
            "OpenSSH `ssh -W` with russh's key exchange (curve25519-sha256), to the PostgreSQL close",
            &openssh_same_kex,
        ),
    ] {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            pct(s, 50.0),
            pct(s, 90.0),
            pct(s, 99.0)
        );
    }
    println!();
    println!(
        "- Jackal / floor, p50: **{ratio:.2}×** (target ≤ {P50_RATIO_TARGET}×: {})",
        if ok { "met" } else { "MISSED" }
    );
    println!(
        "- floor / OpenSSH, p50: **{floor_vs_openssh:.2}×** (to the PostgreSQL close; below 1: the in-process russh tunnel is faster than starting OpenSSH's client for each test)"
    );
    println!(
        "- floor / OpenSSH with the same key exchange, p50: **{floor_vs_same_kex:.2}×** \
         (OpenSSH's default picks sntrup761x25519-sha512, a post-quantum hybrid russh 0.65 does \
         not offer; both run chacha20-poly1305)"
    );
    let mid = overhead[overhead.len() / 2];
    println!("- Jackal's HTTP round trip minus its reported durationMs, p50: {mid:.2} ms");
    Ok(ok)
}
