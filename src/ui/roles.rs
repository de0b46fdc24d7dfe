//! `GET /ui/roles`: every role with its data sources and people.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::report::when;
use super::{html, session, Chrome};
use crate::api::error::ApiError;
use crate::app::{roles, AppState};
use crate::store::Page;

/// A data source a page links to.
pub struct Linked {
    pub id: String,
    pub name: String,
}

pub struct RoleLine {
    pub name: String,
    pub updated: String,
    pub data_sources: Vec<Linked>,
    pub people: Vec<String>,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    chrome: Chrome,
    roles: Vec<RoleLine>,
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    let mut lines = Vec::new();
    for (_, role) in roles::list(&state, Page::ALL).await? {
        let key = role.id.to_string();
        lines.push(RoleLine {
            data_sources: roles::data_sources(&state, &key)
                .await?
                .into_iter()
                .map(|d| Linked {
                    id: d.id.to_string(),
                    name: d.name,
                })
                .collect(),
            people: roles::people(&state, &key)
                .await?
                .iter()
                .map(super::people::label)
                .collect(),
            name: role.name,
            updated: when(role.updated_at),
        });
    }
    html(
        StatusCode::OK,
        &RolesPage {
            chrome: Chrome::of(&session, "Roles", "roles"),
            roles: lines,
        },
    )
}
