//! `/api/v2/person`: people, their lock, two-factor reset, roles, permissions and the data
//! sources they can reach now.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;

use super::args::Args;
use super::data_source::DataSourceView;
use super::error::ApiError;
use super::json_ok;
use super::permission::PermissionView;
use super::role::RoleView;
use crate::domain::{ids, person, time};
use crate::startup::AppState;
use crate::store::PersonRow;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub username: String,
    pub created_at: String,
    pub is_locked: bool,
}

impl From<&PersonRow> for PersonView {
    fn from(row: &PersonRow) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            email: row.email.clone(),
            username: row.username.clone(),
            created_at: time::render_millis(row.created_at),
            is_locked: row.is_locked,
        }
    }
}

pub fn people_json(rows: &[PersonRow]) -> Result<HttpResponse, ApiError> {
    json_ok(&rows.iter().map(PersonView::from).collect::<Vec<_>>())
}

pub async fn create(state: web::Data<AppState>, args: Args) -> Result<HttpResponse, ApiError> {
    let mut args = args.only(&["name", "email", "username"])?;
    let name = person::parse_name(&args.required("name", "the person's full name")?)?;
    let email = person::parse_email(&args.required("email", "the person's email address")?)?;
    let username = person::parse_username(&args.required("username", "the person's login name")?)?;
    let row = state
        .store
        .insert_person(PersonRow {
            id: ids::new_person_id(),
            name,
            email,
            username,
            is_locked: false,
            created_at: state.clock.now_millis(),
        })
        .await?;
    json_ok(&PersonView::from(&row))
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    people_json(&state.store.list_people().await?)
}

pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&PersonView::from(&state.store.find_person(&key).await?))
}

pub async fn lock(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&PersonView::from(
        &state.store.set_person_locked(&key, true).await?,
    ))
}

pub async fn unlock(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&PersonView::from(
        &state.store.set_person_locked(&key, false).await?,
    ))
}

pub async fn delete(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_person(&key).await?;
    json_ok(&json!({}))
}

pub async fn reset_two_factor(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.store.reset_two_factor(&key).await?;
    json_ok(&json!({}))
}

pub async fn roles(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.store.person_roles(&key).await?;
    json_ok(&rows.iter().map(RoleView::from).collect::<Vec<_>>())
}

pub async fn permissions(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.store.person_permissions(&key).await?;
    json_ok(&rows.iter().map(PermissionView::from).collect::<Vec<_>>())
}

pub async fn delete_permissions(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let count = state.store.delete_person_permissions(&key).await?;
    json_ok(&json!({ "count": count }))
}

pub async fn data_sources(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = state
        .store
        .reachable_data_sources(&key, state.clock.now_millis())
        .await?;
    json_ok(
        &rows
            .iter()
            .map(DataSourceView::redacted)
            .collect::<Vec<_>>(),
    )
}
