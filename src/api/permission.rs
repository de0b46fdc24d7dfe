//! Permissions: grant a person a data source for a while, list, retrieve and revoke.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;

use super::args::Args;
use super::error::ApiError;
use super::json_ok;
use crate::domain::{permission, time};
use crate::startup::AppState;
use crate::store::{Entity, PermissionRow, PermissionScope};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionView {
    /// An integer, rendered as a string as JackDB does.
    pub id: String,
    pub person_id: String,
    pub data_source_id: String,
    pub starts_at: String,
    pub expires_at: String,
    pub created_at: String,
}

impl From<&PermissionRow> for PermissionView {
    fn from(row: &PermissionRow) -> Self {
        Self {
            id: row.id.to_string(),
            person_id: row.person_id.clone(),
            data_source_id: row.data_source_id.clone(),
            starts_at: time::render_millis(row.starts_at),
            expires_at: time::render_millis(row.expires_at),
            created_at: time::render_millis(row.created_at),
        }
    }
}

fn permissions_json(rows: &[PermissionRow]) -> Result<HttpResponse, ApiError> {
    json_ok(&rows.iter().map(PermissionView::from).collect::<Vec<_>>())
}

/// Permission ids are integers; anything else names no permission.
fn permission_id(key: &str) -> Result<i64, ApiError> {
    key.parse::<i64>()
        .map_err(|_| ApiError::not_found(Entity::Permission, key))
}

pub async fn grant(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    args: Args,
) -> Result<HttpResponse, ApiError> {
    let (ds_key, person_key) = path.into_inner();
    let mut args = args.only(&["duration", "startsAt"])?;
    let duration = permission::parse_duration(&args.required(
        "duration",
        "how long the permission lasts, in seconds (e.g. 3600)",
    )?)?;
    let now = state.clock.now_millis();
    let starts_at = match args.take("startsAt") {
        Some(raw) => permission::parse_starts_at(&raw)?,
        None => now,
    };
    let expires_at = starts_at + duration * 1000;
    let row = state
        .store
        .insert_permission(&ds_key, &person_key, starts_at, expires_at, now)
        .await?;
    json_ok(&PermissionView::from(&row))
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    permissions_json(&state.store.list_permissions().await?)
}

pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = state.store.find_permission(permission_id(&key)?).await?;
    json_ok(&PermissionView::from(&row))
}

pub async fn delete(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_permission(permission_id(&key)?).await?;
    json_ok(&json!({}))
}

pub async fn of_data_source(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = PermissionScope::DataSource(key.into_inner());
    permissions_json(&state.store.scoped_permissions(scope).await?)
}

pub async fn delete_of_data_source(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = PermissionScope::DataSource(key.into_inner());
    let count = state.store.delete_scoped_permissions(scope).await?;
    json_ok(&json!({ "count": count }))
}

fn pair(path: web::Path<(String, String)>) -> PermissionScope {
    let (data_source, person) = path.into_inner();
    PermissionScope::Pair {
        data_source,
        person,
    }
}

pub async fn of_pair(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    permissions_json(&state.store.scoped_permissions(pair(path)).await?)
}

pub async fn delete_of_pair(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let count = state.store.delete_scoped_permissions(pair(path)).await?;
    json_ok(&json!({ "count": count }))
}
