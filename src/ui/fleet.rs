//! `GET /ui/`: every data source with its status, failing ones first.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::report::{millis, status, when, Report};
use super::{charts, html, session, Chrome};
use crate::api::error::ApiError;
use crate::app::status_page::{self, current_report};
use crate::app::AppState;

/// Longest error message a fleet row shows; the data source's page has all of it.
const MESSAGE_CHARS: usize = 160;

pub struct Row {
    pub id: String,
    pub name: String,
    pub alias: Option<String>,
    pub kind: String,
    /// `down`, `never` or `up`: the row's class and its sort order.
    pub status: &'static str,
    pub label: &'static str,
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

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    chrome: Chrome,
    counts: Counts,
    rows: Vec<Row>,
}

fn shortened(message: &str) -> String {
    match message.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    let fleet = status_page::fleet(&state).await?;
    let mut rows: Vec<Row> = fleet
        .rows
        .iter()
        .map(|row| {
            let report = current_report(row, fleet.reports.get(&row.id))
                .and_then(|r| Report::parse(&r.report));
            let (status, label) = status(row.last_test_ok);
            let recent = fleet.recent.get(&row.id);
            let durations: Vec<i64> = recent
                .map(|tests| tests.iter().map(|t| t.duration_us).collect())
                .unwrap_or_default();
            Row {
                id: row.id.to_string(),
                name: row.name.clone(),
                alias: row.alias.clone(),
                kind: row.kind.as_str().to_owned(),
                status,
                label,
                tested_at: row.last_tested_at.map(when).unwrap_or_default(),
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
        })
        .collect();
    // Failing first, then never tested, then up; by name within each.
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
    html(
        StatusCode::OK,
        &FleetPage {
            chrome: Chrome::of(&session, "Fleet", "fleet"),
            counts,
            rows,
        },
    )
}
