//! `/api/v2/role`: roles and their members (data sources and people).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;

use super::args::Args;
use super::data_source::DataSourceView;
use super::error::ApiError;
use super::json_ok;
use super::person::people_json;
use crate::domain::{ids, role, time};
use crate::startup::AppState;
use crate::store::{Member, RoleRow};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<String>,
}

impl From<&RoleRow> for RoleView {
    fn from(row: &RoleRow) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            created_at: time::render_millis(row.created_at),
            updated_at: time::render_millis(row.updated_at),
            assigned_at: row.assigned_at.map(time::render_millis),
        }
    }
}

pub async fn create(state: web::Data<AppState>, args: Args) -> Result<HttpResponse, ApiError> {
    let mut args = args.only(&["name"])?;
    let name = role::parse_name(&args.required("name", "the role's name")?)?;
    let now = state.clock.now_millis();
    let row = state
        .store
        .insert_role(RoleRow {
            id: ids::new_role_id(),
            name,
            created_at: now,
            updated_at: now,
            assigned_at: None,
        })
        .await?;
    json_ok(&RoleView::from(&row))
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.list_roles().await?;
    json_ok(&rows.iter().map(RoleView::from).collect::<Vec<_>>())
}

pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&RoleView::from(&state.store.find_role(&key).await?))
}

pub async fn delete(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_role(&key).await?;
    json_ok(&json!({}))
}

pub async fn data_sources(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.store.role_data_sources(&key).await?;
    json_ok(
        &rows
            .iter()
            .map(DataSourceView::redacted)
            .collect::<Vec<_>>(),
    )
}

pub async fn people(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    people_json(&state.store.role_people(&key).await?)
}

async fn set_member(
    state: &AppState,
    path: (String, String),
    kind: Member,
    member: bool,
) -> Result<HttpResponse, ApiError> {
    let (role_key, member_key) = path;
    state
        .store
        .set_role_member(
            &role_key,
            kind,
            &member_key,
            member,
            state.clock.now_millis(),
        )
        .await?;
    json_ok(&json!({}))
}

pub async fn add_data_source(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_member(&state, path.into_inner(), Member::DataSource, true).await
}

pub async fn remove_data_source(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_member(&state, path.into_inner(), Member::DataSource, false).await
}

pub async fn add_person(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_member(&state, path.into_inner(), Member::Person, true).await
}

pub async fn remove_person(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_member(&state, path.into_inner(), Member::Person, false).await
}

/// `GET /data-source/:ds/role`: the roles containing a data source, with `assignedAt`.
pub async fn of_data_source(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.store.data_source_roles(&key).await?;
    json_ok(&rows.iter().map(RoleView::from).collect::<Vec<_>>())
}
