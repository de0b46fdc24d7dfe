//! `GET /ui/permissions`: every permission, who holds it on what and when, with a Revoke
//! button (the API's own `DELETE /permission/{id}`, as the signed-in key).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::report::when;
use super::{html, session, Chrome};
use crate::api::error::ApiError;
use crate::app::{data_sources, people, permissions, AppState};
use crate::store::{Page, PermissionRow};

/// One permission as a page lists it.
pub struct PermissionLine {
    pub id: i64,
    pub person: String,
    pub data_source_id: String,
    pub data_source: String,
    pub starts: String,
    pub expires: String,
    /// `active`, `expired` or `future`, at the time of the page.
    pub state: &'static str,
}

impl PermissionLine {
    /// `row` with its person's and data source's names (its ids, when a name is not known).
    pub fn of(
        row: &PermissionRow,
        people: &HashMap<String, String>,
        data_sources: &HashMap<String, String>,
        now: i64,
    ) -> PermissionLine {
        let person = row.person_id.to_string();
        let data_source_id = row.data_source_id.to_string();
        PermissionLine {
            id: row.id,
            person: people.get(&person).cloned().unwrap_or(person),
            data_source: data_sources
                .get(&data_source_id)
                .cloned()
                .unwrap_or_else(|| data_source_id.clone()),
            data_source_id,
            starts: when(row.starts_at),
            expires: when(row.expires_at),
            state: if now < row.starts_at {
                "future"
            } else if now < row.expires_at {
                "active"
            } else {
                "expired"
            },
        }
    }
}

/// Every person's label by id.
pub async fn people_by_id(state: &AppState) -> Result<HashMap<String, String>, ApiError> {
    Ok(people::list(state, Page::ALL)
        .await?
        .iter()
        .map(|(_, p)| (p.id.to_string(), super::people::label(p)))
        .collect())
}

#[derive(Template)]
#[template(path = "permissions.html")]
struct PermissionsPage {
    chrome: Chrome,
    permissions: Vec<PermissionLine>,
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    let people = people_by_id(&state).await?;
    let data_sources: HashMap<String, String> = data_sources::list(&state, Page::ALL)
        .await?
        .into_iter()
        .map(|d| (d.id.to_string(), d.name))
        .collect();
    let now = state.clock.now_millis();
    let permissions = permissions::list(&state, Page::ALL)
        .await?
        .iter()
        .map(|row| PermissionLine::of(row, &people, &data_sources, now))
        .collect();
    html(
        StatusCode::OK,
        &PermissionsPage {
            chrome: Chrome::of(&session, "Permissions", "permissions"),
            permissions,
        },
    )
}
