//! The real `jackal` binary: `api-key create/list/revoke`, and `serve` as a process. Under
//! JACKAL_TEST_STORE each test's processes share a fresh PostgreSQL database of their own.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{store_env, USER_AGENT};

pub(crate) fn jackal(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jackal"));
    cmd.current_dir(dir)
        .env("JACKAL_LISTEN", "127.0.0.1:0")
        .env_remove("JACKDB_API_KEY_ID")
        .env_remove("JACKDB_API_KEY_SECRET")
        .env("RUST_LOG", "info");
    // The SQLite file `dir/jackal.db`, or under JACKAL_TEST_STORE the PostgreSQL database of
    // `dir` with the key file `dir/jackal.db.key`.
    store_env(&mut cmd, dir);
    cmd
}

/// [`jackal`] with the API key `id` / `secret` supplied through the environment.
pub(crate) fn jackal_with_key(dir: &Path, id: &str, secret: &str) -> Command {
    let mut cmd = jackal(dir);
    cmd.env("JACKDB_API_KEY_ID", id)
        .env("JACKDB_API_KEY_SECRET", secret);
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Kills the server when the test ends, pass or fail. Holds its port and the file its log
/// (stderr) goes to.
pub(crate) struct Server(Child, pub(crate) u16, pub(crate) PathBuf);

impl Server {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends SIGTERM, as `docker stop` and a load balancer's drain do.
    pub(crate) fn terminate(&self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
    }

    /// Stops the server with SIGTERM, waits for it to exit successfully, and returns its whole
    /// log. Lines are written by a thread of the server's own (src/telemetry.rs): a log read
    /// while it runs may still lack the last requests' lines, and a check that a secret or an
    /// ERROR line is absent would then pass for nothing.
    pub(crate) fn stop_and_read_log(&mut self) -> String {
        self.terminate();
        let status = self.0.wait().unwrap();
        let log = std::fs::read_to_string(&self.2).unwrap();
        assert!(status.success(), "exit {status}; log: {log}");
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `jackal serve` on port 0, reads the bound port from its log, and returns what it
/// printed on stdout before serving (the first-key banner, if any).
pub(crate) fn serve(mut cmd: Command, dir: &Path) -> (Server, String) {
    let run_id = uuid::Uuid::new_v4();
    let stdout_path = dir.join(format!("stdout-{run_id}.txt"));
    let log_path = dir.join(format!("stderr-{run_id}.txt"));
    let stdout = File::create(&stdout_path).unwrap();
    let stderr = File::create(&log_path).unwrap();
    let child = cmd.stdout(stdout).stderr(stderr).spawn().unwrap();
    let mut server = Server(child, 0, log_path);
    let started = Instant::now();
    while server.1 == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server never logged its address"
        );
        let log = std::fs::read_to_string(&server.2).unwrap();
        if let Some(rest) = log
            .split("serving the JackDB v2 API at http://127.0.0.1:")
            .nth(1)
        {
            server.1 = rest.split('/').next().unwrap().parse().unwrap();
        } else {
            assert!(
                server.0.try_wait().unwrap().is_none(),
                "the server exited: {log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    (server, std::fs::read_to_string(stdout_path).unwrap())
}

async fn whoami(port: u16, id: &str, secret: &str) -> reqwest::Response {
    whoami_with(&reqwest::Client::new(), port, id, secret).await
}

/// `GET /whoami` as `id`; `client` kept across calls where the time of each matters.
pub(crate) async fn whoami_with(
    client: &reqwest::Client,
    port: u16,
    id: &str,
    secret: &str,
) -> reqwest::Response {
    client
        .get(format!("http://127.0.0.1:{port}/api/v2/whoami"))
        .header("User-Agent", USER_AGENT)
        .basic_auth(format!("{id}@api"), Some(secret))
        .send()
        .await
        .unwrap()
}

pub(crate) fn field(output: &str, name: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {output}"))
        .trim()
        .to_owned()
}

#[tokio::test]
async fn api_key_commands_and_a_served_process() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(jackal(dir.path()).args(["api-key", "create", "--name", "deploy bot"]));
    let id = field(&created, "id:");
    let secret = field(&created, "secret:");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(secret.len(), 32);
    assert!(secret.chars().all(|c| c.is_ascii_alphanumeric()));

    let listed = run(jackal(dir.path()).args(["api-key", "list"]));
    assert!(
        listed.contains(&id) && listed.contains("deploy bot"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "list never shows a secret");

    let (server, banner) = serve(jackal(dir.path()), dir.path());
    assert!(
        !banner.contains("first API key"),
        "a key existed, so none is created"
    );
    let me: serde_json::Value = whoami(server.1, &id, &secret).await.json().await.unwrap();
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["name"], "deploy bot");

    run(jackal(dir.path()).args(["api-key", "revoke", &id]));
    // The server hears of it within 100 ms (tests/api/key_revocation.rs measures it).
    let revoked = Instant::now();
    while whoami(server.1, &id, &secret).await.status() != 401 {
        assert!(revoked.elapsed() < Duration::from_millis(100));
    }
    let again = jackal(dir.path())
        .args(["api-key", "revoke", &id])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no active API key"));
}

#[tokio::test]
async fn serve_prints_a_first_key_on_an_empty_store_and_honours_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = jackal(dir.path());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("JACKDB_API_KEY_SECRET=") {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "server printed: {printed}"
        );
        printed.push_str(&line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let id = field(&printed, "  export JACKDB_API_KEY_ID=");
    let secret = field(&printed, "  export JACKDB_API_KEY_SECRET=");
    assert!(printed.contains("shown only now"), "{printed}");

    // The printed key works on the next start, which prints nothing new.
    let (server, banner) = serve(jackal(dir.path()), dir.path());
    assert!(!banner.contains("first API key"), "{banner}");
    assert_eq!(whoami(server.1, &id, &secret).await.status(), 200);
    drop(server);

    // A key from the environment is ensured on start.
    let env_id = uuid::Uuid::new_v4().to_string();
    let env_secret = "compose-stack-secret-0123456789";
    let cmd = jackal_with_key(dir.path(), &env_id, env_secret);
    let (server, _) = serve(cmd, dir.path());
    assert_eq!(whoami(server.1, &env_id, env_secret).await.status(), 200);
    assert_eq!(
        whoami(server.1, &env_id, "wrong-secret-0123456789")
            .await
            .status(),
        401
    );
}

/// SIGTERM (what `docker stop` and a load balancer's drain send) lets a request in flight
/// finish with its real answer, then the process exits successfully on its own.
#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let secret = "sigterm-test-secret-0123456789ab";
    let (mut server, _) = serve(jackal_with_key(dir.path(), &id, secret), dir.path());

    // Accepts TCP and never says a word, so the test below hangs until its connectTimeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{}/api/v2/connection-test", server.1);
    let secret_owned = secret.to_owned();
    let key = format!("{id}@api");
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .header("User-Agent", USER_AGENT)
            .basic_auth(key, Some(secret_owned))
            .form(&[(
                "configUri",
                format!("postgresql://u:p@127.0.0.1:{silent_port}/db?ssl=false&connectTimeout=2"),
            )])
            .send()
            .await
    });
    // The request is in flight once the probe has dialled the silent listener.
    let (_held, _) = tokio::task::spawn_blocking(move || silent.accept())
        .await
        .unwrap()
        .unwrap();
    server.terminate();

    let res = in_flight
        .await
        .unwrap()
        .expect("the request in flight was answered");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["errorCode"], "timeout", "{body}");

    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = std::fs::read_to_string(&server.2).unwrap();
    assert!(status.success(), "exit {status}; log: {log}");
}

/// The names of the threads of process `pid`, from `/proc`.
#[cfg(target_os = "linux")]
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// `serve` allocates with jemalloc, whose background threads return freed memory to the system
/// (glibc's malloc kept it, and the load test's memory crept: see src/main.rs).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn serve_runs_jemalloc_with_its_background_purging_threads() {
    let dir = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let secret = "allocator-test-secret-0123456789";
    let (server, _) = serve(jackal_with_key(dir.path(), &id, secret), dir.path());
    assert_eq!(whoami(server.1, &id, secret).await.status(), 200);
    let names = thread_names(server.0.id());
    assert!(
        names.iter().any(|n| n.starts_with("jemalloc_bg_thd")),
        "no jemalloc background thread among {names:?}"
    );
}

/// Log lines are written in batches by a thread of their own (src/telemetry.rs); none may be
/// lost: 2,000 requests from 8 clients at once, then SIGTERM at once, and the log holds every
/// request's line.
#[tokio::test]
async fn every_request_line_reaches_the_log_even_when_stopped_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let secret = "log-batch-test-secret-0123456789";
    let (mut server, _) = serve(jackal_with_key(dir.path(), &id, secret), dir.path());
    let client = reqwest::Client::new();
    let port = server.1;
    let mut clients = Vec::new();
    for c in 0..8 {
        let (client, id) = (client.clone(), id.clone());
        clients.push(tokio::spawn(async move {
            for i in 0..250 {
                let res = client
                    .get(format!(
                        "http://127.0.0.1:{port}/api/v2/data-source/logged-{c}-{i}"
                    ))
                    .header("User-Agent", USER_AGENT)
                    .basic_auth(format!("{id}@api"), Some(secret))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 404);
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let log = server.stop_and_read_log();
    let logged = log
        .lines()
        .filter(|line| line.contains("/api/v2/data-source/logged-") && line.contains("status=404"))
        .count();
    assert_eq!(logged, 2000, "request lines in the log");
}
