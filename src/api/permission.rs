//! Permissions: grant a person a data source for a while, list, retrieve and revoke.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::args::{required, Body};
use super::docs::{
    DataSourceKey, NotFound, PayloadTooLarge, PermissionKey, PersonKey, Timestamp,
    UnsupportedMediaType,
};
use super::error::ApiError;
use super::list_stream;
use super::reply::{json_ok, Count, EmptyObject};
use crate::app::permissions::{self, Scope};
use crate::app::AppState;
use crate::domain::{permission, time};
use crate::store::{AuditContext, Entity, Page, PermissionRow};

/// The contract's Permission object: one person may use one data source from `startsAt`
/// until `expiresAt` (active while `startsAt <= now < expiresAt`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionView {
    /// An integer, rendered as a string as JackDB does.
    #[schema(pattern = "^[0-9]+$", example = "1")]
    pub id: String,
    #[schema(pattern = "^P[0-9A-Za-z]{16}$")]
    pub person_id: String,
    #[schema(pattern = "^D[0-9A-Za-z]{16}$")]
    pub data_source_id: String,
    #[schema(value_type = Timestamp)]
    pub starts_at: String,
    /// `startsAt` + `duration`.
    #[schema(value_type = Timestamp)]
    pub expires_at: String,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
}

/// The arguments of a grant, form-encoded or as a JSON object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantPermission {
    /// How long the permission lasts, in whole seconds (at most 10 years).
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 315_576_000, example = 3600)]
    duration: Option<String>,
    /// When it starts, any RFC 3339 timestamp; default: now.
    #[schema(nullable = false, format = DateTime, example = "2030-01-01T09:00:00+01:00")]
    starts_at: Option<String>,
}

impl From<&PermissionRow> for PermissionView {
    fn from(row: &PermissionRow) -> Self {
        Self {
            id: row.id.to_string(),
            person_id: row.person_id.to_string(),
            data_source_id: row.data_source_id.to_string(),
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

/// Grants a person a data source for `duration` seconds from `startsAt`.
#[utoipa::path(
    post,
    path = "/data-source/{data_source}/permission/person/{person}",
    operation_id = "grantPermission",
    tag = "permissions",
    params(DataSourceKey, PersonKey),
    request_body(content(
        (GrantPermission = "application/x-www-form-urlencoded"),
        (GrantPermission = "application/json"),
    )),
    responses(
        (status = 200, body = PermissionView, description = "The new permission"),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn grant(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
    Body(body): Body<GrantPermission>,
) -> Result<HttpResponse, ApiError> {
    let (ds_key, person_key) = path.into_inner();
    let duration = permission::parse_duration(&required(
        body.duration,
        "duration",
        "how long the permission lasts, in seconds (e.g. 3600)",
    )?)?;
    let starts_at = match body.starts_at {
        Some(raw) => permission::parse_starts_at(&raw)?,
        None => ctx.at,
    };
    let row = permissions::grant(&state, &ctx, &ds_key, &person_key, starts_at, duration).await?;
    json_ok(&PermissionView::from(&row))
}

/// Lists every permission, oldest first, expired ones included.
#[utoipa::path(
    get,
    path = "/permission",
    operation_id = "listPermissions",
    tag = "permissions",
    params(super::page::PageQuery),
    responses((status = 200, body = [PermissionView], description = "Every permission, oldest first"))
)]
pub async fn list(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, ApiError> {
    list_stream::page_of(
        state,
        page,
        |state, page| async move { permissions::list(&state, page).await },
        |row| row.id,
        |row| Ok(PermissionView::from(row)),
    )
    .await
}

/// One permission.
#[utoipa::path(
    get,
    path = "/permission/{permission}",
    operation_id = "getPermission",
    tag = "permissions",
    params(PermissionKey),
    responses(
        (status = 200, body = PermissionView, description = "The permission"),
        (status = 404, response = NotFound),
    )
)]
pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<PermissionKey>,
) -> Result<HttpResponse, ApiError> {
    let row = permissions::find(&state, permission_id(&key)?).await?;
    json_ok(&PermissionView::from(&row))
}

/// Deletes a permission.
#[utoipa::path(
    delete,
    path = "/permission/{permission}",
    operation_id = "deletePermission",
    tag = "permissions",
    params(PermissionKey),
    responses(
        (status = 200, body = EmptyObject, description = "Deleted: `{}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<PermissionKey>,
) -> Result<HttpResponse, ApiError> {
    permissions::revoke(&state, &ctx, permission_id(&key)?).await?;
    json_ok(&EmptyObject {})
}

/// The permissions on a data source.
#[utoipa::path(
    get,
    path = "/data-source/{data_source}/permission",
    operation_id = "listDataSourcePermissions",
    tag = "permissions",
    params(DataSourceKey),
    responses(
        (status = 200, body = [PermissionView], description = "The permissions on the data source"),
        (status = 404, response = NotFound),
    )
)]
pub async fn of_data_source(
    state: web::Data<AppState>,
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    let scope = Scope::DataSource(key.into_inner().data_source);
    permissions_json(&permissions::scoped(&state, scope).await?)
}

/// Deletes every permission on a data source.
#[utoipa::path(
    delete,
    path = "/data-source/{data_source}/permission",
    operation_id = "deleteDataSourcePermissions",
    tag = "permissions",
    params(DataSourceKey),
    responses(
        (status = 200, body = Count, description = "How many were deleted: `{\"count\": n}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete_of_data_source(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    let scope = Scope::DataSource(key.into_inner().data_source);
    let count = permissions::revoke_scoped(&state, &ctx, scope).await?;
    json_ok(&Count { count })
}

fn pair(path: web::Path<(String, String)>) -> Scope {
    let (data_source, person) = path.into_inner();
    Scope::Pair {
        data_source,
        person,
    }
}

/// The permissions of one person on one data source.
#[utoipa::path(
    get,
    path = "/data-source/{data_source}/permission/person/{person}",
    operation_id = "listPairPermissions",
    tag = "permissions",
    params(DataSourceKey, PersonKey),
    responses(
        (status = 200, body = [PermissionView], description = "The person's permissions on the data source"),
        (status = 404, response = NotFound),
    )
)]
pub async fn of_pair(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    permissions_json(&permissions::scoped(&state, pair(path)).await?)
}

/// Deletes every permission of one person on one data source.
#[utoipa::path(
    delete,
    path = "/data-source/{data_source}/permission/person/{person}",
    operation_id = "deletePairPermissions",
    tag = "permissions",
    params(DataSourceKey, PersonKey),
    responses(
        (status = 200, body = Count, description = "How many were deleted: `{\"count\": n}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete_of_pair(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let count = permissions::revoke_scoped(&state, &ctx, pair(path)).await?;
    json_ok(&Count { count })
}
