//! `GET /ui/people`: everyone permissions can name, with how many permissions each holds.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::report::when;
use super::{html, session, Chrome};
use crate::api::error::ApiError;
use crate::app::{people, permissions, AppState};
use crate::store::{Page, PersonRow};

pub struct PersonLine {
    pub id: String,
    pub name: String,
    pub username: String,
    pub email: String,
    pub locked: bool,
    pub created: String,
    pub permissions: usize,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    chrome: Chrome,
    people: Vec<PersonLine>,
}

/// How a person is named on the console's pages: their name and username.
pub fn label(person: &PersonRow) -> String {
    format!("{} ({})", person.name, person.username)
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    let mut held: HashMap<String, usize> = HashMap::new();
    for permission in permissions::list(&state, Page::ALL).await? {
        *held.entry(permission.person_id.to_string()).or_default() += 1;
    }
    let people = people::list(&state, Page::ALL)
        .await?
        .into_iter()
        .map(|(_, p)| {
            let id = p.id.to_string();
            PersonLine {
                permissions: held.get(&id).copied().unwrap_or(0),
                id,
                name: p.name,
                username: p.username,
                email: p.email,
                locked: p.is_locked,
                created: when(p.created_at),
            }
        })
        .collect();
    html(
        StatusCode::OK,
        &PeoplePage {
            chrome: Chrome::of(&session, "People", "people"),
            people,
        },
    )
}
