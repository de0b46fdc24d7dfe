//! `GET /ui/audit`: the audit trail, newest first, filtered by object and time, and
//! `GET /ui/audit/rows`: the next older rows, which the page fetches as it is scrolled. Each
//! event says who (the API key's name), what (the object's name, a data source's linked to its
//! page) and what changed, field by field, before → after.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::Value;

use super::report::when;
use super::{html, session, Chrome};
use crate::api::error::ApiError;
use crate::app::status_page::{self, Names};
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
    pub what: What,
    /// The API key's name, or `command line`.
    pub who: String,
    pub client: String,
    pub changes: Vec<Change>,
}

/// The object of an event: its kind, its name (else its id), and its page, if it has one.
pub struct What {
    pub kind: &'static str,
    pub name: String,
    /// Its id, when the name is not the id.
    pub id: Option<String>,
    pub link: Option<String>,
}

/// One field of an event's change: `before → after`, or only its value (a creation's field,
/// an outcome).
pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: String,
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

/// A JSON value as one line of text.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "none".to_owned(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| format!("{k}: {}", shown(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// An event's `changes` as a list: `{"field": {"from": a, "to": b}}` is `field: a → b`; any
/// other field is its value. Ids of data sources and people come with their names.
fn changes(value: &Value, names: &Names) -> Vec<Change> {
    let named = |field: &str, value: &Value| {
        let id = value.as_str()?;
        let name = match field {
            "dataSourceId" => names.data_sources.get(id),
            "personId" => names.people.get(id),
            _ => None,
        }?;
        Some(format!("{name} ({id})"))
    };
    match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(field, value)| match value {
                Value::Object(change)
                    if change.len() == 2
                        && change.contains_key("from")
                        && change.contains_key("to") =>
                {
                    Change {
                        field: field.clone(),
                        before: Some(shown(&change["from"])),
                        after: shown(&change["to"]),
                    }
                }
                other => Change {
                    field: field.clone(),
                    before: None,
                    after: named(field, other).unwrap_or_else(|| shown(other)),
                },
            })
            .collect(),
        Value::Null => Vec::new(),
        other => vec![Change {
            field: String::new(),
            before: None,
            after: shown(other),
        }],
    }
}

/// The object of `row`, named as far as the store still knows it.
fn what(row: &AuditRow, names: &Names) -> What {
    let id = row.object_id.clone();
    let of = |kind, name: Option<&String>| What {
        kind,
        name: name.cloned().unwrap_or_else(|| id.clone()),
        id: name.map(|_| id.clone()),
        link: None,
    };
    match row.object_type.as_str() {
        "data_source" => match names.data_sources.get(&id) {
            Some(name) => What {
                link: Some(format!("/ui/data-source/{id}")),
                ..of("data source", Some(name))
            },
            // Deleted: the name its creation or deletion recorded, if this event has it.
            None => {
                let recorded = match row.changes.get("name") {
                    Some(Value::String(name)) => Some(name.clone()),
                    Some(Value::Object(change)) => {
                        change.get("to").and_then(Value::as_str).map(str::to_owned)
                    }
                    _ => None,
                };
                of("deleted data source", recorded.as_ref())
            }
        },
        "person" => of("person", names.people.get(&id)),
        "role" => of("role", names.roles.get(&id)),
        "api_key" => of("API key", names.keys.get(&id)),
        "permission" => of("permission", None),
        "connection_test" => of("unsaved configUri", None),
        "test_run" => What {
            kind: "fleet",
            name: "every data source".to_owned(),
            id: None,
            link: None,
        },
        "secret_key" => of("key file", None),
        _ => of("object", None),
    }
}

fn line(row: AuditRow, names: &Names) -> Line {
    Line {
        id: row.id,
        at: when(row.at),
        what: what(&row, names),
        who: match &row.api_key_id {
            Some(key) => names.keys.get(key).cloned().unwrap_or_else(|| key.clone()),
            None => "command line".to_owned(),
        },
        client: row.client_addr.clone().unwrap_or_default(),
        changes: changes(&row.changes, names),
        action: row.action,
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
    let names = status_page::names(state, &rows).await?;
    let lines: Vec<Line> = rows.into_iter().rev().map(|r| line(r, &names)).collect();
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
