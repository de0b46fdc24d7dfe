//! `GET /ui/`: every data source with its status, failing ones first, optionally only those
//! failing with one error code (`?code=`); and `GET /ui/fleet`: the same counts and rows alone,
//! which the page fetches every 30 seconds to refresh itself without a reload.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::report::{millis, status, when, Report};
use super::{charts, html, session, Chrome};
use crate::api::error::{ApiError, ErrorCode};
use crate::app::data_sources::stored_spec;
use crate::app::status_page::{self, current_report, down_since, Fleet};
use crate::app::AppState;
use crate::store::DataSourceRow;

/// Longest error message a fleet row shows; the data source's page has all of it. 120
/// characters keep 2,000 rows with their host and down since under 1 MB.
const MESSAGE_CHARS: usize = 120;
/// Seconds between two refreshes of the page, unless `?refresh=` asks otherwise.
const REFRESH_SECONDS: u32 = 30;
/// The shortest and longest refresh `?refresh=` may ask for.
const REFRESH_RANGE: std::ops::RangeInclusive<u32> = 1..=3600;

pub struct Row {
    pub id: String,
    pub name: String,
    pub alias: Option<String>,
    pub kind: String,
    /// `host:port`, or the file of an SQLite data source.
    pub destination: String,
    /// `down`, `never` or `up`: the row's class and its sort order.
    pub status: &'static str,
    pub label: &'static str,
    /// When its current run of failures began; empty unless it is down.
    pub down_since: String,
    /// The history kept holds only failures: the run began then or earlier.
    pub down_at_least: bool,
    pub tested_at: String,
    pub code: String,
    pub message: String,
    pub duration: String,
    pub spark: Option<String>,
}

pub struct Counts {
    pub total: usize,
    pub up: usize,
    pub down: usize,
    pub never: usize,
}

/// An error code of the fleet and how many data sources fail with it now.
pub struct CodeCount {
    pub code: String,
    pub count: usize,
}

/// What the fleet shows: the counts of all of it, the codes to filter by, and its rows (only
/// those failing with `code` when one is asked for).
struct Shown {
    counts: Counts,
    codes: Vec<CodeCount>,
    code: String,
    /// The code asked for fails nowhere now: the list offers it still, with a count of 0.
    code_gone: bool,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    chrome: Chrome,
    shown: Shown,
    refresh: u32,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "fleet_live.html")]
struct FleetLive {
    shown: Shown,
}

/// The page's query: `code` (an error code to show alone) and `refresh` (seconds between
/// refreshes).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Query {
    code: String,
    refresh: Option<u32>,
}

impl Query {
    /// The query of `req`, or what is wrong with it.
    fn of(req: &HttpRequest) -> Result<Query, String> {
        let query: Query = serde_urlencoded::from_str(req.query_string()).map_err(|_| {
            "the query did not parse: code is an error code (once), refresh a number of seconds"
                .to_owned()
        })?;
        match query.refresh {
            Some(seconds) if !REFRESH_RANGE.contains(&seconds) => Err(format!(
                "refresh={seconds}: refresh every {} to {} seconds",
                REFRESH_RANGE.start(),
                REFRESH_RANGE.end()
            )),
            _ => Ok(query),
        }
    }
}

fn shortened(message: &str) -> String {
    match message.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

/// Where `row` connects: `host:port` (IPv6 in brackets), or the SQLite file.
fn destination(row: &DataSourceRow) -> String {
    let Ok(spec) = stored_spec(row) else {
        return String::new();
    };
    match (spec.host(), spec.effective_port()) {
        (Some(host), Some(port)) if host.contains(':') => format!("[{host}]:{port}"),
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => spec
            .sqlite_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    }
}

fn row(fleet: &Fleet, data_source: &DataSourceRow) -> Row {
    let report = current_report(data_source, fleet.reports.get(&data_source.id))
        .and_then(|r| Report::parse(&r.report));
    let (status, label) = status(data_source.last_test_ok);
    let durations: Vec<i64> = fleet
        .recent
        .get(&data_source.id)
        .map(|tests| tests.iter().map(|t| t.duration_us).collect())
        .unwrap_or_default();
    let down = down_since(data_source, fleet.failing.get(&data_source.id), fleet.kept);
    Row {
        id: data_source.id.to_string(),
        name: data_source.name.clone(),
        alias: data_source.alias.clone(),
        kind: data_source.kind.as_str().to_owned(),
        destination: destination(data_source),
        status,
        label,
        down_since: down.map(|d| when(d.at)).unwrap_or_default(),
        down_at_least: down.is_some_and(|d| d.at_least),
        tested_at: data_source.last_tested_at.map(when).unwrap_or_default(),
        code: report
            .as_ref()
            .and_then(|r| r.error_code.clone())
            .unwrap_or_default(),
        message: report
            .as_ref()
            .and_then(|r| r.message.as_deref())
            .map(shortened)
            .unwrap_or_default(),
        duration: report
            .as_ref()
            .map(|r| millis(r.duration_ms))
            .unwrap_or_default(),
        spark: charts::sparkline(&durations),
    }
}

/// The fleet's rows, failing first, then never tested, then up, by name within each; only
/// those failing with `code` when it is not empty.
async fn shown(state: &AppState, code: &str) -> Result<Shown, ApiError> {
    let fleet = status_page::fleet(state).await?;
    let mut rows: Vec<Row> = fleet.rows.iter().map(|r| row(&fleet, r)).collect();
    let rank = |status: &str| match status {
        "down" => 0,
        "never" => 1,
        _ => 2,
    };
    rows.sort_by(|a, b| {
        rank(a.status)
            .cmp(&rank(b.status))
            .then_with(|| a.name.cmp(&b.name))
    });
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
    let counts = Counts {
        total: rows.len(),
        up: count("up"),
        down: count("down"),
        never: count("never"),
    };
    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.status == "down" && !r.code.is_empty())
    {
        *by_code.entry(&r.code).or_default() += 1;
    }
    let codes: Vec<CodeCount> = by_code
        .into_iter()
        .map(|(code, count)| CodeCount {
            code: code.to_owned(),
            count,
        })
        .collect();
    let code_gone = !code.is_empty() && !codes.iter().any(|c| c.code == code);
    if !code.is_empty() {
        rows.retain(|r| r.status == "down" && r.code == code);
    }
    Ok(Shown {
        counts,
        codes,
        code: code.to_owned(),
        code_gone,
        rows,
    })
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    // A query that does not parse is the whole fleet with a message, as a 400.
    let (status, error, query) = match Query::of(&req) {
        Ok(query) => (StatusCode::OK, None, query),
        Err(message) => (StatusCode::BAD_REQUEST, Some(message), Query::default()),
    };
    html(
        status,
        &FleetPage {
            chrome: Chrome::of(&session, "Fleet", "fleet"),
            shown: shown(&state, &query.code).await?,
            refresh: query.refresh.unwrap_or(REFRESH_SECONDS),
            error,
        },
    )
}

pub async fn live(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let query =
        Query::of(&req).map_err(|message| ApiError::new(ErrorCode::InvalidArgument, message))?;
    html(
        StatusCode::OK,
        &FleetLive {
            shown: shown(&state, &query.code).await?,
        },
    )
}
