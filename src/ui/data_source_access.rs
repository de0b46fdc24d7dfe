//! `GET /ui/data-source/{id}/access`: who may reach a data source, and the buttons that change
//! it: add it to a role or take it out, grant a person a permission for a while, revoke one.
//! The buttons call the API's own role and permission handlers as the signed-in key.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::permissions::{people_by_id, PermissionLine};
use super::{html, session, Chrome};
use crate::api::error::ApiError;
use crate::app::{roles, status_page, AppState};
use crate::store::Page;

/// A choice in a list: its key (an id) and what it shows.
pub struct Choice {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "data_source_access.html")]
struct AccessPage {
    chrome: Chrome,
    id: String,
    name: String,
    /// The roles it is in.
    member_of: Vec<Choice>,
    /// The roles it is not in.
    other_roles: Vec<Choice>,
    people: Vec<Choice>,
    permissions: Vec<PermissionLine>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    let found = status_page::data_source(&state, &key, 0).await?;
    let id = found.row.id.to_string();
    let choice = |id: String, label: String| Choice { id, label };
    let member_of: Vec<Choice> = found
        .roles
        .iter()
        .map(|r| choice(r.id.to_string(), r.name.clone()))
        .collect();
    let other_roles = roles::list(&state, Page::ALL)
        .await?
        .into_iter()
        .map(|(_, r)| choice(r.id.to_string(), r.name))
        .filter(|r| member_of.iter().all(|m| m.id != r.id))
        .collect();
    let people = people_by_id(&state).await?;
    let names = [(id.clone(), found.row.name.clone())].into_iter().collect();
    let now = state.clock.now_millis();
    let permissions = found
        .permissions
        .iter()
        .map(|row| PermissionLine::of(row, &people, &names, now))
        .collect();
    let mut people: Vec<Choice> = people
        .into_iter()
        .map(|(id, label)| choice(id, label))
        .collect();
    people.sort_by(|a, b| a.label.cmp(&b.label));
    html(
        StatusCode::OK,
        &AccessPage {
            chrome: Chrome::of(&session, format!("Access to {}", found.row.name), ""),
            id,
            name: found.row.name,
            member_of,
            other_roles,
            people,
            permissions,
        },
    )
}
