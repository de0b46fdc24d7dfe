//! Files a configUri names on the Jackal server (the SQLite file, `sslRootCert`), against the
//! tricks that used to work: a link out plus a trailing `/.`, a link flipped between the check
//! and the open, FIFOs and devices that block a reader or never end, and a "read-only" test
//! that left `-wal`/`-shm` files behind. No live database server is needed: every connection
//! here goes to a loopback listener of the test's own.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jackal_drivers::{
    introspect, probe, ConnectionSpec, EgressPolicy, ErrorCode, ProbeContext, StaticResolver,
};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The deadline of every test here; a blocked read would hold it to the end, or forever.
const DEADLINE: Duration = Duration::from_secs(2);

fn context(sqlite: &[&Path], roots: &[&Path]) -> ProbeContext {
    ProbeContext {
        resolver: Arc::new(StaticResolver::new().answer("localhost", &[LOOPBACK])),
        egress: EgressPolicy::allow_all(),
        sqlite_allowed_dirs: sqlite.iter().map(|p| p.to_path_buf()).collect(),
        ssl_root_cert_dirs: roots.iter().map(|p| p.to_path_buf()).collect(),
        default_timeout: DEADLINE,
        ssh_resolves_names: false,
    }
}

fn spec(uri: &str) -> ConnectionSpec {
    ConnectionSpec::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

fn sqlite_db(path: &Path, table: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(&format!("CREATE TABLE {table} (a INTEGER)"))
        .unwrap();
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_link_out_of_the_allowed_directory_is_refused_with_or_without_a_trailing_dot() {
    let allowed = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.db");
    sqlite_db(&secret, "secret_table");
    std::os::unix::fs::symlink(&secret, allowed.path().join("link.db")).unwrap();
    let ctx = context(&[allowed.path()], &[]);
    // The lexical check used to drop the `.` of `link.db/.` and let SQLite open the target.
    for name in ["link.db", "link.db/."] {
        let uri = format!("sqlite://{}/{name}", allowed.path().display());
        let report = introspect(&spec(&uri), &ctx).await;
        let failure = report.outcome.expect_err(name);
        assert_eq!(
            failure.code,
            ErrorCode::UnknownDatabase,
            "{name}: {}",
            failure.message
        );
        assert!(!failure.message.contains("secret_table"));
    }
}

/// The answer to a test of `path`, with `path` itself taken out of the message.
async fn answer(path: &Path, ctx: &ProbeContext) -> (ErrorCode, String) {
    let report = probe(&spec(&format!("sqlite://{}", path.display())), ctx).await;
    let failure = report.outcome.expect_err("refused");
    let shown = path.display().to_string();
    (failure.code, failure.message.replace(&shown, "PATH"))
}

#[tokio::test]
async fn every_path_out_of_the_allowed_directory_answers_alike_whether_or_not_its_target_exists() {
    let allowed = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let existing = outside.path().join("exists.db");
    sqlite_db(&existing, "t");
    let locked = outside.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    mkfifo(&outside.path().join("fifo"));
    let links = [
        ("to-a-file.db", existing.clone()),
        ("to-nothing.db", outside.path().join("missing.db")),
        ("to-a-directory.db", outside.path().to_owned()),
        ("to-a-fifo.db", outside.path().join("fifo")),
        ("to-a-device.db", PathBuf::from("/dev/null")),
        ("under-a-file.db", existing.join("x.db")),
        (
            "through-a-missing-dir.db",
            outside.path().join("no/such.db"),
        ),
        ("to-a-loop.db", allowed.path().join("to-a-loop.db")),
    ];
    for (name, target) in &links {
        std::os::unix::fs::symlink(target, allowed.path().join(name)).unwrap();
    }
    let ctx = context(&[allowed.path()], &[]);
    let mut answers = Vec::new();
    for (name, _) in &links {
        answers.push(answer(&allowed.path().join(name), &ctx).await);
    }
    // A missing file inside answers the same: nothing tells the two apart.
    answers.push(answer(&allowed.path().join("missing.db"), &ctx).await);
    let first = answers[0].clone();
    assert_eq!(first.0, ErrorCode::UnknownDatabase, "{}", first.1);
    for (i, other) in answers.iter().enumerate() {
        assert_eq!(*other, first, "{:?}", links.get(i).map(|l| l.0));
    }
}

#[tokio::test]
async fn fifos_devices_and_directories_as_the_sqlite_file_answer_at_once() {
    let allowed = tempfile::tempdir().unwrap();
    mkfifo(&allowed.path().join("fifo.db"));
    std::os::unix::fs::symlink("/dev/zero", allowed.path().join("zero.db")).unwrap();
    std::os::unix::fs::symlink("/dev/urandom", allowed.path().join("urandom.db")).unwrap();
    std::fs::create_dir(allowed.path().join("dir.db")).unwrap();
    let ctx = context(&[allowed.path(), Path::new("/dev")], &[]);
    // Many at once, more than the blocking threads a reader stuck on a FIFO used to hold.
    let mut tests = Vec::new();
    for round in 0..20 {
        for name in ["fifo.db", "zero.db", "urandom.db", "dir.db"] {
            let uri = format!("sqlite://{}/{name}", allowed.path().display());
            let ctx = ctx.clone();
            tests.push(tokio::spawn(async move {
                let started = Instant::now();
                let report = probe(&spec(&uri), &ctx).await;
                (round, name, report, started.elapsed())
            }));
        }
    }
    for test in tests {
        let (round, name, report, took) = test.await.unwrap();
        let failure = report.outcome.expect_err(name);
        assert_eq!(
            failure.code,
            ErrorCode::ServerError,
            "{name}: {}",
            failure.message
        );
        assert!(
            failure.message.contains("not a regular file"),
            "{name}: {}",
            failure.message
        );
        assert!(took < Duration::from_secs(1), "{round} {name}: {took:?}");
    }
    // Named directly under an allowed /dev, a device is refused the same way.
    let report = probe(&spec("sqlite:///dev/zero"), &ctx).await;
    assert_eq!(report.outcome.unwrap_err().code, ErrorCode::ServerError);
}

#[tokio::test]
async fn a_wal_database_is_tested_and_listed_without_creating_anything_beside_it() {
    let allowed = tempfile::tempdir().unwrap();
    let file = allowed.path().join("wal.db");
    {
        let conn = rusqlite::Connection::open(&file).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("CREATE TABLE kept (a INTEGER); INSERT INTO kept VALUES (1);")
            .unwrap();
    }
    // Closing the last connection checkpoints and removes -wal and -shm.
    assert_eq!(listing(allowed.path()), ["wal.db"]);
    let ctx = context(&[allowed.path()], &[]);
    let uri = format!("sqlite://{}", file.display());
    let report = probe(&spec(&uri), &ctx).await;
    assert_eq!(report.outcome.unwrap().product_name, "SQLite");
    let listed = introspect(&spec(&uri), &ctx).await;
    let (_, snapshot) = listed.outcome.unwrap();
    assert_eq!(snapshot.schemas[0].tables[0].name, "kept");
    assert_eq!(listing(allowed.path()), ["wal.db"], "nothing created");
}

/// A link in an allowed directory flips between a database inside and one outside while tests
/// run: no test may ever read the outside one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_flipped_during_tests_never_leads_to_the_outside_file() {
    let allowed = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let inside = allowed.path().join("inside.db");
    let secret = outside.path().join("secret.db");
    sqlite_db(&inside, "inside_table");
    sqlite_db(&secret, "secret_table");
    let link = allowed.path().join("flip.db");
    std::os::unix::fs::symlink(&inside, &link).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        let (allowed, link) = (allowed.path().to_owned(), link.clone());
        std::thread::spawn(move || {
            let mut flips = 0u64;
            let staged = allowed.join("staged.db");
            while !stop.load(Ordering::Relaxed) {
                let target: &PathBuf = if flips.is_multiple_of(2) {
                    &secret
                } else {
                    &inside
                };
                let _ = std::fs::remove_file(&staged);
                std::os::unix::fs::symlink(target, &staged).unwrap();
                // rename(2) swaps the link atomically: the name always exists.
                std::fs::rename(&staged, &link).unwrap();
                flips += 1;
            }
            flips
        })
    };

    let ctx = context(&[allowed.path()], &[]);
    let uri = format!("sqlite://{}", link.display());
    let (mut listed_inside, mut refused) = (0, 0);
    for _ in 0..3_000 {
        let report = introspect(&spec(&uri), &ctx).await;
        match report.outcome {
            Ok((_, snapshot)) => {
                let names: Vec<&str> = snapshot.schemas[0]
                    .tables
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect();
                assert_eq!(names, ["inside_table"], "the outside file was read");
                listed_inside += 1;
            }
            Err(failure) => {
                assert_eq!(
                    failure.code,
                    ErrorCode::UnknownDatabase,
                    "{}",
                    failure.message
                );
                assert!(!failure.message.contains("secret_table"));
                refused += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    println!("{flips} flips; {listed_inside} listings of the inside file, {refused} refusals");
    assert!(flips > 1_000, "the link flipped only {flips} times");
    assert!(
        listed_inside > 0 && refused > 0,
        "{listed_inside} / {refused}"
    );
}

/// What a test with `validateSsl=true` and this `sslRootCert` says, and how long it took. The
/// server behind it is a silent listener: the bundle is read before anything is sent.
async fn with_root_cert(path: &Path, ctx: &ProbeContext) -> (ErrorCode, String, Duration) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let uri = format!(
        "mysql://u@127.0.0.1:{port}/x?validateSsl=true&sslRootCert={}",
        path.display()
    );
    let started = Instant::now();
    let report = probe(&spec(&uri), ctx).await;
    let failure = report.outcome.expect_err("no usable bundle");
    (failure.code, failure.message, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_root_cert_is_read_only_under_its_directories_and_answers_alike_for_every_bad_file() {
    let roots = tempfile::tempdir().unwrap();
    let dir = roots.path();
    mkfifo(&dir.join("fifo.pem"));
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.pem")).unwrap();
    std::os::unix::fs::symlink("/dev/urandom", dir.join("urandom.pem")).unwrap();
    std::fs::create_dir(dir.join("dir.pem")).unwrap();
    std::fs::write(
        dir.join("not-pem.pem"),
        "-----BEGIN SECRET DATA-----\nc2VjcmV0LWNvbnRlbnQ=\n-----END SECRET DATA-----\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("garbage.pem"),
        "-----BEGIN CERT\x01\x02 leaked-line\n",
    )
    .unwrap();
    let big = std::fs::File::create(dir.join("big.pem")).unwrap();
    big.set_len(jackal_drivers::MAX_ROOT_BUNDLE_BYTES + 1)
        .unwrap();
    let ctx = context(&[], &[dir]);

    let mut messages = Vec::new();
    for name in [
        "fifo.pem",
        "zero.pem",
        "urandom.pem",
        "dir.pem",
        "missing.pem",
        "not-pem.pem",
        "garbage.pem",
        "big.pem",
    ] {
        let path = dir.join(name);
        // Twice each: a read stuck on a FIFO or an endless device used to hold a worker.
        for _ in 0..2 {
            let (code, message, took) = with_root_cert(&path, &ctx).await;
            assert_eq!(code, ErrorCode::TlsFailed, "{name}: {message}");
            assert!(took < Duration::from_secs(1), "{name}: {took:?}");
            assert!(
                !message.contains("c2VjcmV0") && !message.contains("leaked-line"),
                "{name}: {message}"
            );
            messages.push(message.replace(name, "NAME"));
        }
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "one answer for every bad file: {messages:#?}"
    );

    // Outside the configured directories nothing is opened, whatever the file.
    for outside in ["/dev/zero", "/etc/hostname"] {
        let (code, message, _) = with_root_cert(Path::new(outside), &ctx).await;
        assert_eq!(code, ErrorCode::DeniedByPolicy, "{outside}: {message}");
        assert!(message.contains("root_cert_dirs"), "{message}");
    }
    let (code, _, _) = with_root_cert(&dir.join("missing.pem"), &context(&[], &[])).await;
    assert_eq!(
        code,
        ErrorCode::DeniedByPolicy,
        "no directory configured: none allowed"
    );
}
