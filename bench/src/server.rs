//! A real `jackal` process: started from the release binary with a config file and the API key
//! in its environment, its stderr drained for its whole life, killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Result;

pub const ACCEPT: &str = "application/vnd.jackdb.v2+json";
pub const SECRET: &str = "jackal-bench-secret-0123456789";
const USER_AGENT: &str = "jackal-bench";
const ADDRESS_LINE: &str = "serving the JackDB v2 API at http://";
/// Warnings and errors echoed to our stderr; the rest are only counted.
const ECHOED_LINES: usize = 20;

/// Whether the server took the `[limits]` section (it is being added to Jackal; a build without
/// it refuses unknown sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    Untried,
    Accepted,
    Refused,
}

impl Limits {
    pub fn describe(self, per_minute: u64) -> String {
        match self {
            Limits::Untried => "not tried".to_owned(),
            Limits::Accepted => format!(
                "`[limits] tests_per_minute = {per_minute}, tests_burst = {per_minute}` accepted"
            ),
            Limits::Refused => {
                "`[limits]` refused by this build, so left out (no test rate limit to lift)"
                    .to_owned()
            }
        }
    }
}

/// Everything needed to start Jackal, again and again, on the same store and key file.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    /// Holds `jackal.db` (and its `-wal`/`-shm`), `jackal.db.key` and `config.toml`; with a
    /// PostgreSQL store, `jackal.key` and `config.toml`.
    pub dir: PathBuf,
    /// A `postgresql://` store (an existing database) instead of the SQLite file in `dir`.
    pub store_url: Option<String>,
    pub key_id: String,
    /// `[test] timeout`, seconds.
    pub test_timeout_secs: u32,
    /// `[test] max_concurrent`.
    pub max_concurrent: usize,
    /// `[test] key_share`, when set (Jackal's default otherwise: one key holds half the slots).
    pub key_share: Option<f64>,
    /// `[limits] tests_per_minute` and `tests_burst`, when the server accepts the section.
    pub tests_per_minute: u64,
    /// What the last start learned about `[limits]`; copy it into a new `Launch` to skip the probe.
    pub limits: Limits,
}

impl Launch {
    pub fn new(binary: &Path, dir: &Path) -> Self {
        Self {
            // Absolute, since the process runs in `dir`.
            binary: std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_owned()),
            dir: dir.to_owned(),
            store_url: None,
            key_id: uuid::Uuid::new_v4().to_string(),
            test_timeout_secs: 10,
            max_concurrent: 64,
            key_share: None,
            tests_per_minute: 1_000_000,
            limits: Limits::Untried,
        }
    }

    /// The SQLite store file; unused when `store_url` is set.
    pub fn store(&self) -> PathBuf {
        self.dir.join("jackal.db")
    }

    /// What `JACKAL_STORE` is set to: the URL when there is one, else the file.
    fn store_env(&self) -> std::ffi::OsString {
        self.store_url
            .as_ref()
            .map_or_else(|| self.store().into_os_string(), Into::into)
    }

    /// Starts Jackal and waits for the line naming its address. The first start tries the
    /// `[limits]` section and, if the server refuses it, every later start leaves it out.
    pub fn start(&mut self) -> Result<Server> {
        if self.limits != Limits::Refused {
            match self.spawn(true) {
                Ok(server) => {
                    self.limits = Limits::Accepted;
                    return Ok(server);
                }
                Err(StartError::Exited(log))
                    if self.limits == Limits::Untried && log.contains("limits") =>
                {
                    eprintln!(
                        "jackal refused the [limits] section, starting it without: {}",
                        log.lines().last().unwrap_or("")
                    );
                    self.limits = Limits::Refused;
                }
                Err(e) => return Err(e.to_string().into()),
            }
        }
        self.spawn(false).map_err(|e| e.to_string().into())
    }

    /// `[store] path` is always written: with a PostgreSQL store, `JACKAL_STORE` sets the URL,
    /// which replaces the path, and the key file defaults to `./jackal.key` in `dir`.
    fn write_config(&self, limits: bool) -> std::io::Result<PathBuf> {
        let path = self.dir.join("config.toml");
        let mut text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[store]\npath = {:?}\n\n\
             [test]\ntimeout = {}\nmax_concurrent = {}\n",
            self.store().display().to_string(),
            self.test_timeout_secs,
            self.max_concurrent
        );
        if let Some(share) = self.key_share {
            text.push_str(&format!("key_share = {share:?}\n"));
        }
        if limits {
            text.push_str(&format!(
                "\n[limits]\ntests_per_minute = {0}\ntests_burst = {0}\n",
                self.tests_per_minute
            ));
        }
        std::fs::write(&path, text)?;
        Ok(path)
    }

    fn spawn(&self, limits: bool) -> std::result::Result<Server, StartError> {
        let config = self.write_config(limits).map_err(StartError::other)?;
        let spawned = Instant::now();
        let mut child = Command::new(&self.binary)
            .arg("--config")
            .arg(&config)
            .current_dir(&self.dir)
            .env("JACKAL_STORE", self.store_env())
            .env("JACKAL_LISTEN", "127.0.0.1:0")
            .env("JACKDB_API_KEY_ID", &self.key_id)
            .env("JACKDB_API_KEY_SECRET", SECRET)
            .env("RUST_LOG", "warn,jackal=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                StartError::Other(format!("cannot start {}: {e}", self.binary.display()))
            })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(LogStats::default());
        let (tx, rx) = mpsc::channel::<String>();
        // Reads stderr for the whole life of the process, so jackal never writes to a full or
        // closed pipe. Lines up to the one naming the address are sent back; later ones are
        // counted, and the first few warnings and errors echoed.
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    logs.lines.fetch_add(1, Ordering::Relaxed);
                    if let Some(sender) = &tx {
                        let announce = line.contains(ADDRESS_LINE);
                        let _ = sender.send(line.clone());
                        if announce {
                            tx = None;
                        }
                    }
                    logs.note(&line);
                }
            });
        }
        let deadline = spawned + Duration::from_secs(30);
        let mut early = Vec::new();
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(ADDRESS_LINE) => {
                    let rest = line
                        .split("serving the JackDB v2 API at http://127.0.0.1:")
                        .nth(1)
                        .ok_or_else(|| {
                            StartError::Other(format!("unexpected address line: {line}"))
                        })?;
                    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                    break digits.parse::<u16>().map_err(StartError::other)?;
                }
                Ok(line) => early.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().map_err(StartError::other)?;
                    return Err(StartError::Exited(format!(
                        "jackal exited ({status}) before reporting its address; its stderr:\n{}",
                        early.join("\n")
                    )));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(StartError::Other(format!(
                        "jackal did not report its address within 30 s; its stderr:\n{}",
                        early.join("\n")
                    )));
                }
            }
        };
        Ok(Server {
            startup: spawned.elapsed(),
            child,
            api: Api {
                base: format!("http://127.0.0.1:{port}/api/v2"),
                key_id: self.key_id.clone(),
                secret: SECRET.to_owned(),
            },
            logs,
            launch: self.clone(),
            _dir: None,
        })
    }
}

#[derive(Debug)]
enum StartError {
    /// The process ended before naming its address; holds its stderr.
    Exited(String),
    Other(String),
}

impl StartError {
    fn other(e: impl std::fmt::Display) -> Self {
        StartError::Other(e.to_string())
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Exited(s) | StartError::Other(s) => f.write_str(s),
        }
    }
}

/// What the server logged after announcing its address.
#[derive(Debug, Default)]
pub struct LogStats {
    pub lines: AtomicU64,
    pub warnings: AtomicU64,
    pub errors: AtomicU64,
    pub first: Mutex<Vec<String>>,
}

impl LogStats {
    fn note(&self, line: &str) {
        let counter = if line.contains(" ERROR ") {
            &self.errors
        } else if line.contains(" WARN ") {
            &self.warnings
        } else {
            return;
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        if first.len() < ECHOED_LINES {
            eprintln!("jackal: {line}");
            first.push(line.to_owned());
        }
    }
}

/// Where a running Jackal answers, and as whom to call it: cheap to clone into tasks.
#[derive(Debug, Clone)]
pub struct Api {
    /// `http://127.0.0.1:PORT/api/v2`.
    pub base: String,
    key_id: String,
    secret: String,
}

impl Api {
    /// The same credentials sent to another server (`base` as in [`Api::base`]).
    pub fn with_base(&self, base: String) -> Api {
        Api {
            base,
            key_id: self.key_id.clone(),
            secret: self.secret.clone(),
        }
    }

    /// A request with the User-Agent, Accept and Basic auth every call needs.
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        client
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .header(reqwest::header::ACCEPT, ACCEPT)
            .basic_auth(format!("{}@api", self.key_id), Some(&self.secret))
    }
}

/// A running Jackal. Dropping it kills the process.
pub struct Server {
    child: Child,
    api: Api,
    startup: Duration,
    logs: Arc<LogStats>,
    /// How it was started: its binary, directory and store.
    launch: Launch,
    /// The temporary directory of [`Server::start_temp`], removed after the process is killed.
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts Jackal on a fresh store in a temporary directory (`[test] timeout = 10`,
    /// `max_concurrent = 64`, test rate limits lifted when the build has them).
    pub fn start_temp(binary: &Path) -> Result<Self> {
        Self::start_temp_on(binary, None)
    }

    /// As [`Server::start_temp`], on the PostgreSQL database `store_url` names when given (it
    /// must exist; Jackal creates its tables), the key file and config still in a temporary
    /// directory.
    pub fn start_temp_on(binary: &Path, store_url: Option<&str>) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut launch = Launch::new(binary, dir.path());
        launch.store_url = store_url.map(str::to_owned);
        let mut server = launch.start()?;
        server._dir = Some(dir);
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// From spawning the process to the line naming its address.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    pub fn logs(&self) -> &LogStats {
        &self.logs
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Another API key in this server's store, made by `jackal api-key create` as an admin
    /// would (another process, the same store): the same server called with that key.
    pub fn create_key(&self, name: &str) -> Result<Api> {
        let out = Command::new(&self.launch.binary)
            .arg("--config")
            .arg(self.launch.dir.join("config.toml"))
            .args(["api-key", "create", "--name", name])
            .current_dir(&self.launch.dir)
            .env("JACKAL_STORE", self.launch.store_env())
            .env_remove("JACKDB_API_KEY_ID")
            .env_remove("JACKDB_API_KEY_SECRET")
            .stdin(Stdio::null())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| {
                    format!(
                        "jackal api-key create printed no {name}: {text}{}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                })
        };
        Ok(Api {
            base: self.api.base.clone(),
            key_id: field("id:")?,
            secret: field("secret:")?,
        })
    }

    /// See [`Api::request`].
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.api.request(client, method, path)
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Resident memory, threads and open descriptors of a process, from `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    pub rss_kib: u64,
    /// The peak resident set since the process started (`VmHWM`).
    pub peak_rss_kib: u64,
    pub threads: u64,
    pub fds: u64,
}

pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Some(ProcSample {
        rss_kib: field("VmRSS:")?,
        peak_rss_kib: field("VmHWM:")?,
        threads: field("Threads:")?,
        fds,
    })
}
