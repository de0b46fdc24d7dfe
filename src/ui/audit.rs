//! `GET /ui/audit`: the audit trail, newest first, filtered by object and time, and
//! `GET /ui/audit/rows`: the next older rows, which the page fetches as it is scrolled.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::report::when;
use super::{html, session, Chrome};
use crate::api::error::ApiError;
use crate::app::{audit, AppState};
use crate::store::{AuditFilter, AuditRow};

/// Events per page and per fetch while scrolling.
const PAGE: usize = 100;
/// The header naming the next older rows' URL, absent at the end.
pub const NEXT: &str = "x-next-page";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Query {
    object: String,
    since: String,
    until: String,
    before: Option<i64>,
}

pub struct Line {
    pub id: i64,
    pub at: String,
    pub action: String,
    pub object: String,
    pub key: String,
    pub client: String,
    pub changes: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    object: String,
    since: String,
    until: String,
    error: Option<String>,
    lines: Vec<Line>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "audit_rows.html")]
struct AuditRows {
    lines: Vec<Line>,
}

/// A time from the form: a `datetime-local` value, read as UTC, or an RFC 3339 timestamp.
fn instant(name: &str, raw: &str) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(Some(t.and_utc().timestamp_millis()));
        }
    }
    crate::domain::permission::parse_starts_at(raw)
        .map(Some)
        .map_err(|_| {
            format!(
                "{name}: {raw:?} is not a time; pick one, or write it as 2030-01-01T00:00 (UTC)"
            )
        })
}

impl Query {
    /// The query string of `req`; one that does not parse is a message for the page.
    fn of(req: &HttpRequest) -> Result<Query, String> {
        serde_urlencoded::from_str(req.query_string()).map_err(|_| {
            "the filter did not parse: object is text, from and until are times, before is an event id".to_owned()
        })
    }

    fn filter(&self) -> Result<AuditFilter, String> {
        let object = self.object.trim();
        Ok(AuditFilter {
            since: instant("From", &self.since)?,
            until: instant("Until", &self.until)?,
            object_id: (!object.is_empty()).then(|| object.to_owned()),
            before_id: self.before,
            limit: PAGE,
            newest: true,
            ..AuditFilter::default()
        })
    }

    /// The URL of the rows older than `oldest`, with the same filter.
    fn next(&self, oldest: i64) -> String {
        let query = serde_urlencoded::to_string([
            ("object", self.object.as_str()),
            ("since", self.since.as_str()),
            ("until", self.until.as_str()),
            ("before", oldest.to_string().as_str()),
        ])
        .unwrap_or_default();
        format!("/ui/audit/rows?{query}")
    }
}

fn line(row: AuditRow) -> Line {
    Line {
        id: row.id,
        at: when(row.at),
        action: row.action,
        object: format!("{} {}", row.object_type, row.object_id),
        key: row.api_key_id.unwrap_or_else(|| "command line".to_owned()),
        client: row.client_addr.unwrap_or_default(),
        changes: row.changes.to_string(),
    }
}

/// The query of `req` and the filter it asks for, or what is wrong with it (for the page).
fn asked(req: &HttpRequest) -> (Query, Result<AuditFilter, String>) {
    match Query::of(req) {
        Ok(query) => {
            let filter = query.filter();
            (query, filter)
        }
        Err(message) => (Query::default(), Err(message)),
    }
}

/// Newest first (the store lists the newest `PAGE` oldest first); and the next page's URL
/// when this one is full.
async fn read(
    state: &AppState,
    query: &Query,
    filter: AuditFilter,
) -> Result<(Vec<Line>, Option<String>), ApiError> {
    let rows = audit::read(state, filter).await?;
    let full = rows.len() == PAGE;
    let lines: Vec<Line> = rows.into_iter().rev().map(line).collect();
    let next = lines
        .last()
        .filter(|_| full)
        .map(|oldest| query.next(oldest.id));
    Ok((lines, next))
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    let (query, filter) = asked(&req);
    // A filter that does not parse is the page with a message; a store that fails, a 500.
    let (status, error, lines, next) = match filter {
        Ok(filter) => {
            let (lines, next) = read(&state, &query, filter).await?;
            (StatusCode::OK, None, lines, next)
        }
        Err(message) => (StatusCode::BAD_REQUEST, Some(message), Vec::new(), None),
    };
    let Query {
        object,
        since,
        until,
        ..
    } = query;
    html(
        status,
        &AuditPage {
            chrome: Chrome::of(&session, "Audit trail", "audit"),
            object,
            since,
            until,
            error,
            lines,
            next,
        },
    )
}

pub async fn rows(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (query, filter) = asked(&req);
    let filter = filter
        .map_err(|message| ApiError::new(crate::api::error::ErrorCode::InvalidArgument, message))?;
    let (lines, next) = read(&state, &query, filter).await?;
    let mut response = html(StatusCode::OK, &AuditRows { lines })?;
    if let Some(next) = next {
        if let Ok(value) = header::HeaderValue::from_str(&next) {
            response
                .headers_mut()
                .insert(header::HeaderName::from_static(NEXT), value);
        }
    }
    Ok(response)
}
