//! `jackal test`: a fleet test from the command line, for cron jobs and pipelines. It asks a
//! running server (`POST /api/v2/test-run`, streamed), with the API key curl users already
//! export (`JACKDB_API_KEY_ID`, `JACKDB_API_KEY_SECRET`), shows a progress bar on a terminal
//! (none otherwise), and ends with a table, failures first, or one JSON object.
//!
//! Exit status: 0 when every data source tested succeeded, 1 when any failed or was skipped, 2
//! for a usage error or when the server could not be asked.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::cli_client;

/// What `jackal test` was asked.
#[derive(Debug, Clone)]
pub struct FleetArgs {
    /// Data sources by id or alias; empty with `all` or `role`.
    pub data_sources: Vec<String>,
    pub all: bool,
    pub role: Option<String>,
    /// The server, e.g. `http://127.0.0.1:8080`, or its API, `http://127.0.0.1:8080/api/v2`.
    pub url: String,
    pub json: bool,
    /// A PEM CA bundle to trust for an `https` URL, beside the system's roots.
    pub ca_cert: Option<PathBuf>,
}

/// The exit statuses.
pub const ALL_PASSED: u8 = 0;
pub const SOME_FAILED: u8 = 1;
pub const USAGE_OR_CONNECTION: u8 = 2;

/// Why the run could not be done; printed, then the exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(String);

fn error(message: impl Into<String>) -> CliError {
    CliError(message.into())
}

/// Runs the fleet test `args` asks with the key from `env`; the exit status.
pub async fn run(args: FleetArgs, env: impl Fn(&str) -> Option<String>) -> u8 {
    match fleet(args, env).await {
        Ok(status) => status,
        Err(e) => {
            eprintln!("jackal test: {e}");
            USAGE_OR_CONNECTION
        }
    }
}

fn query(args: &FleetArgs) -> Result<String, CliError> {
    let chosen = usize::from(args.all)
        + usize::from(args.role.is_some())
        + usize::from(!args.data_sources.is_empty());
    if chosen != 1 {
        return Err(error(
            "say what to test: --all, --role NAME, or data sources by id or alias (one of them)",
        ));
    }
    let mut pairs: Vec<(&str, &str)> = args
        .data_sources
        .iter()
        .map(|d| ("dataSource", d.as_str()))
        .collect();
    if let Some(role) = &args.role {
        pairs.push(("role", role));
    }
    let query = serde_urlencoded::to_string(pairs).map_err(|e| error(e.to_string()))?;
    Ok(if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    })
}

async fn fleet(args: FleetArgs, env: impl Fn(&str) -> Option<String>) -> Result<u8, CliError> {
    let query = query(&args)?;
    let (Some(id), Some(secret)) = (
        env("JACKDB_API_KEY_ID").filter(|v| !v.is_empty()),
        env("JACKDB_API_KEY_SECRET").filter(|v| !v.is_empty()),
    ) else {
        return Err(error(
            "export JACKDB_API_KEY_ID and JACKDB_API_KEY_SECRET (an API key of the server) first",
        ));
    };
    let base = cli_client::api_base(&args.url).map_err(error)?;
    let mut url = cli_client::endpoint(&base, "/test-run");
    url.set_query(query.strip_prefix('?'));
    let user_agent = concat!("jackal-test/", env!("CARGO_PKG_VERSION"));
    let response = cli_client::client(user_agent, args.ca_cert.as_deref())
        .map_err(error)?
        .post(url)
        .header("Accept", "application/x-ndjson")
        .basic_auth(format!("{id}@api"), Some(secret))
        .send()
        .await
        .map_err(|e| error(cli_client::explain_send_error(&e, &base)))?;
    let status = response.status();
    if !status.is_success() {
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body["error"]["message"].as_str();
        return Err(error(cli_client::explain_status(status, message, &base)));
    }
    let progress = progress_bar();
    let (mut lines, mut summary, mut pending) = (Vec::new(), None, Vec::new());
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| error(format!("the answer broke off: {e}")))?;
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = pending.drain(..=end).collect();
            let line: Value = serde_json::from_slice(&raw)
                .map_err(|e| error(format!("the server sent a line that is not JSON: {e}")))?;
            if let Some(s) = line.get("summary") {
                summary = Some(s.clone());
                continue;
            }
            if let Some(bar) = &progress {
                bar.inc(1);
                bar.set_message(name(&line));
            }
            lines.push(line);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let summary = summary.ok_or_else(|| error("the answer ended without its summary line"))?;
    let failures =
        summary["failed"].as_u64().unwrap_or(0) + summary["skipped"].as_u64().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        writeln!(out, "{}", json!({"results": lines, "summary": summary}))
    } else {
        write!(out, "{}", table(&mut lines, &summary))
    };
    written.map_err(|e| error(format!("writing the result: {e}")))?;
    Ok(if failures == 0 {
        ALL_PASSED
    } else {
        SOME_FAILED
    })
}

/// A progress bar on stderr when it is a terminal; its length is not known up front (the
/// server streams), so it counts.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} tested, {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    Some(bar)
}

/// The data source a line is about: its alias, else its name.
fn name(line: &Value) -> String {
    let ds = &line["dataSource"];
    ds["alias"]
        .as_str()
        .or_else(|| ds["name"].as_str())
        .unwrap_or("?")
        .to_owned()
}

/// The table: failures (and skipped) first, then successes, each by name; then the summary.
fn table(lines: &mut [Value], summary: &Value) -> String {
    let failed = |line: &Value| line["result"]["success"] != true;
    lines.sort_by_key(|line| (!failed(line), name(line)));
    let rows: Vec<[String; 4]> = lines
        .iter()
        .map(|line| {
            let result = &line["result"];
            let (status, what) = match (line.get("skipped"), result["success"].as_bool()) {
                (Some(why), _) => ("SKIPPED".to_owned(), why.as_str().unwrap_or("").to_owned()),
                (None, Some(true)) => (
                    "ok".to_owned(),
                    format!(
                        "{} {}",
                        result["version"]["productName"].as_str().unwrap_or(""),
                        result["version"]["productVersion"].as_str().unwrap_or("")
                    ),
                ),
                _ => (
                    result["errorCode"].as_str().unwrap_or("failed").to_owned(),
                    result["message"].as_str().unwrap_or("").to_owned(),
                ),
            };
            let ms = result["durationMs"]
                .as_f64()
                .map(|ms| format!("{ms:.0} ms"))
                .unwrap_or_default();
            [name(line), status, ms, what]
        })
        .collect();
    let width = |i: usize, title: &str| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (
        width(0, "DATA SOURCE"),
        width(1, "STATUS"),
        width(2, "TIME"),
    );
    let mut out = format!(
        "{:w0$}  {:w1$}  {:>w2$}  DETAIL\n",
        "DATA SOURCE", "STATUS", "TIME"
    );
    for [n, status, ms, what] in &rows {
        out.push_str(&format!("{n:w0$}  {status:w1$}  {ms:>w2$}  {what}\n"));
    }
    out.push_str(&format!(
        "\n{} tested: {} succeeded, {} failed, {} skipped, in {:.1} s\n",
        summary["total"],
        summary["succeeded"],
        summary["failed"],
        summary["skipped"],
        summary["durationMs"].as_f64().unwrap_or(0.0) / 1000.0
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> FleetArgs {
        FleetArgs {
            data_sources: Vec::new(),
            all: false,
            role: None,
            url: "http://127.0.0.1:1".to_owned(),
            json: false,
            ca_cert: None,
        }
    }

    #[test]
    fn exactly_one_selection_is_a_query() {
        assert!(query(&args()).is_err());
        let all = FleetArgs {
            all: true,
            ..args()
        };
        assert_eq!(query(&all).unwrap(), "");
        let named = FleetArgs {
            data_sources: vec!["a b".into(), "D1".into()],
            ..args()
        };
        assert_eq!(query(&named).unwrap(), "?dataSource=a+b&dataSource=D1");
        let both = FleetArgs {
            role: Some("ops".into()),
            ..all
        };
        assert!(query(&both).is_err());
    }

    #[test]
    fn the_table_lists_failures_first() {
        let mut lines = vec![
            json!({"dataSource": {"alias": "a"}, "result": {"success": true, "durationMs": 3.0,
                "version": {"productName": "PostgreSQL", "productVersion": "15.2"}}}),
            json!({"dataSource": {"alias": "b"}, "result": {"success": false, "durationMs": 1.0,
                "errorCode": "refused", "message": "nothing is listening"}}),
        ];
        let summary =
            json!({"total": 2, "succeeded": 1, "failed": 1, "skipped": 0, "durationMs": 1500});
        let text = table(&mut lines, &summary);
        let rows: Vec<&str> = text.lines().collect();
        assert!(
            rows[1].starts_with("b ") && rows[1].contains("refused"),
            "{text}"
        );
        assert!(
            rows[2].starts_with("a ") && rows[2].contains("PostgreSQL 15.2"),
            "{text}"
        );
        assert!(
            text.ends_with("2 tested: 1 succeeded, 1 failed, 0 skipped, in 1.5 s\n"),
            "{text}"
        );
    }
}
