//! The docs' walk-throughs run as printed: the shell blocks under the headings in
//! [`WALK_THROUGHS`] are extracted and run with bash, in order, in one shell per file, against a
//! fresh server on a loopback port, with the key exported as the docs assume
//! (`JACKDB_API_KEY_ID`, `JACKDB_API_KEY_SECRET`). A request the server refuses (4xx, 5xx) or a
//! command that fails stops the run and fails the test, naming the command.
//!
//! Two things differ from a reader's terminal, both said here: the docs' `127.0.0.1:8080` is
//! the test server's address (the default port may be taken), and `cargo run --release --` is
//! the binary under test (no build inside a test). Every host a block names in a URL must be
//! loopback, so nothing dials or resolves an outside name.
//!
//! Not run: docs/api.md's other blocks show answers inline (`test-run`, `test-history`), need a
//! PostgreSQL database to introspect (`schema`), run forever (`jackal audit tail --follow`) or
//! another tool (schemathesis); docs/operations.md's are about deployment (HTTPS certificates,
//! docker compose, key rotation on a server's files).

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{spawn_app_with, test_key, TestApp};

/// The walk-throughs that run: a file of the repository, and the headings whose shell blocks
/// run, in this order, in one shell.
const WALK_THROUGHS: &[(&str, &[&str])] = &[
    ("README.md", &["A walk-through with curl"]),
    (
        "docs/api.md",
        &[
            "A walk-through with curl",
            "People, roles and permissions",
            "The Mode dialect",
        ],
    ),
];

/// What runs before the blocks: stop at the first failure and name it; a refused request is a
/// failure (curl's `--fail-with-body` exits 22 on a 4xx or 5xx and still shows the body);
/// `cargo run --release --` is the binary under test, and its exit status 2 (a usage or
/// connection error) ends the run even where the docs go on after a failed fleet test (1).
const PRELUDE: &str = r#"set -eEuo pipefail
trap 'echo "doc example failed (exit $?): $BASH_COMMAND" >&2' ERR
curl() { command curl --fail-with-body "$@"; }
cargo() {
  if [ "${1-} ${2-} ${3-}" != "run --release --" ]; then
    echo "cargo $* is not a command the doc examples may run" >&2
    return 99
  fi
  shift 3
  local status=0
  "$JACKAL_BIN" "$@" || status=$?
  if [ "$status" -ge 2 ]; then
    echo "doc example failed (exit $status): cargo run --release -- $*" >&2
    exit "$status"
  fi
  return "$status"
}
"#;

/// The shell blocks (```sh, ```bash, ```shell) under the heading `heading` of `markdown`, up
/// to the next heading of the same or a higher level. A `#` line inside a block is a comment,
/// not a heading.
fn shell_blocks(markdown: &str, heading: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut level: Option<usize> = None;
    let mut block: Option<String> = None;
    let mut in_other_fence = false;
    for line in markdown.lines() {
        let fence = line.trim_start().starts_with("```");
        if let Some(text) = block.as_mut() {
            if fence {
                blocks.push(block.take().unwrap());
            } else {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        if in_other_fence {
            in_other_fence = !fence;
            continue;
        }
        if fence {
            let info = line.trim_start().trim_start_matches('`').trim();
            if level.is_some() && matches!(info, "sh" | "bash" | "shell") {
                block = Some(String::new());
            } else {
                in_other_fence = true;
            }
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if hashes > 0 && line[hashes..].starts_with(' ') {
            let title = line[hashes..].trim();
            match level {
                Some(open) if hashes <= open => level = None,
                _ => {}
            }
            if title == heading {
                level = Some(hashes);
            }
        }
    }
    blocks
}

/// The host of every URL (`scheme://[user[:password]@]host[:port]…`) in `script`.
fn url_hosts(script: &str) -> Vec<String> {
    script
        .match_indices("://")
        .map(|(at, _)| {
            let rest = &script[at + 3..];
            let end = rest
                .find(|c: char| "/?#\"' \\\n".contains(c))
                .unwrap_or(rest.len());
            let authority = &rest[..end];
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if host_port.starts_with('[') {
                host_port
                    .split_once(']')
                    .map_or(host_port.to_owned(), |(h, _)| format!("{h}]"))
            } else {
                host_port.split(':').next().unwrap_or("").to_owned()
            }
        })
        .collect()
}

/// The hosts of `script` that are not this machine's: any would be resolved or dialled.
fn outside_hosts(script: &str) -> Vec<String> {
    url_hosts(script)
        .into_iter()
        .filter(|host| !matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]"))
        .collect()
}

/// The script of `file`'s walk-through for a server at `address` (`127.0.0.1:PORT`).
fn script_of(file: &str, headings: &[&str], address: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let markdown = std::fs::read_to_string(&path).unwrap();
    let mut script = String::new();
    for heading in headings {
        let blocks = shell_blocks(&markdown, heading);
        assert!(
            !blocks.is_empty(),
            "{file} has no shell block under the heading {heading:?}: renamed? update WALK_THROUGHS"
        );
        for block in blocks {
            script.push_str(&block);
        }
    }
    let outside = outside_hosts(&script);
    assert!(
        outside.is_empty(),
        "{file}'s walk-through names hosts that are not this machine's: {outside:?}"
    );
    script.replace("127.0.0.1:8080", address)
}

/// Runs `script` with bash after the prelude, with `app`'s key exported; its output.
async fn run_script(app: &TestApp, script: &str) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("{PRELUDE}{script}"))
        .current_dir(app.dir.path())
        .env("JACKDB_API_KEY_ID", &app.key.id)
        .env("JACKDB_API_KEY_SECRET", &app.key.secret)
        .env("JACKAL_BIN", env!("CARGO_BIN_EXE_jackal"))
        .env_remove("JACKAL_URL")
        .env_remove("JACKDB_API_URL")
        .env_remove("MODE_API_URL");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

async fn fresh_server() -> TestApp {
    // The README tests two data sources, then the whole fleet, within a minute.
    spawn_app_with(tempfile::tempdir().unwrap(), test_key(), |s| {
        s.limits.tests_burst = 100;
    })
    .await
}

fn address_of(app: &TestApp) -> &str {
    app.address.trim_start_matches("http://")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn every_walk_through_runs_as_printed_against_a_fresh_server() {
    for (file, headings) in WALK_THROUGHS {
        let app = fresh_server().await;
        let script = script_of(file, headings, address_of(&app));
        let out = run_script(&app, &script).await;
        assert!(
            out.status.success(),
            "{file}: {}\n--- output:\n{}",
            text(&out.stderr),
            text(&out.stdout)
        );
        let printed = text(&out.stdout);
        // The first answer is whoami's, and the data source the walk-through made is there.
        assert!(printed.contains(&app.key.id), "{file}: {printed}");
        assert!(
            printed.contains("\"alias\":\"some-db\""),
            "{file}: {printed}"
        );
    }
}

#[tokio::test]
async fn a_broken_example_fails_the_run_and_is_named() {
    let app = fresh_server().await;
    let broken = r#"export JACKDB_API_URL=http://127.0.0.1:8080/api/v2
J() { curl -sS -H "Accept: application/vnd.jackdb.v2+json" \
        -u "${JACKDB_API_KEY_ID}@api:${JACKDB_API_KEY_SECRET}" "$@"; echo; }
J "$JACKDB_API_URL/whoami"
J "$JACKDB_API_URL/data-source/no-such-alias"
echo "never reached"
"#;
    let out = run_script(&app, &broken.replace("127.0.0.1:8080", address_of(&app))).await;
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("doc example failed") && stderr.contains("curl"),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains("never reached"));

    // A `cargo` command other than the binary's is refused rather than run.
    let out = run_script(&app, "cargo build\n").await;
    assert_eq!(out.status.code(), Some(99), "{}", text(&out.stderr));

    // A fleet test that cannot ask the server fails the run, though the docs go on after a
    // fleet test whose data sources failed.
    let out = run_script(
        &app,
        "export JACKDB_API_URL=localhost:1\ncargo run --release -- test --all || echo \"exit status $?\"\necho \"never reached\"\n",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("never reached"));
}

#[test]
fn blocks_are_taken_under_their_heading_only_and_comments_are_not_headings() {
    let markdown = "\
# Title
```sh
echo title
```
## Walk
Text.
```sh
# Who am I?
echo one
```
```json
{\"not\": \"shell\"}
```
### Deeper
```bash
echo two
```
## Next
```sh
echo three
```
";
    assert_eq!(
        shell_blocks(markdown, "Walk"),
        vec!["# Who am I?\necho one\n", "echo two\n"]
    );
    assert_eq!(shell_blocks(markdown, "Deeper"), vec!["echo two\n"]);
    assert!(shell_blocks(markdown, "Missing").is_empty());
}

#[test]
fn only_loopback_hosts_may_be_named() {
    let script = r#"J -d "configUri=postgresql://u:p@127.0.0.1:5432/db" \
  --data-urlencode "configUri=mysql://u@localhost:3306/x?ssl=true"
curl http://[::1]:8080/api/v2 -d "email=ann@example.com"
J -d "configUri=postgresql://u:t0p@somedb.example.com:5432/db"
"#;
    assert_eq!(
        url_hosts(script),
        vec!["127.0.0.1", "localhost", "[::1]", "somedb.example.com"]
    );
    assert_eq!(outside_hosts(script), vec!["somedb.example.com"]);
}
