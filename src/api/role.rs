//! `/api/v2/role`: roles and their members (data sources and people).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::args::{required, Body};
use super::data_source::DataSourceView;
use super::docs::{
    Conflict, DataSourceKey, NotFound, PayloadTooLarge, PersonKey, RoleKey, UnsupportedMediaType,
};
use super::error::ApiError;
use super::list_stream;
use super::member_views::{people_json, PersonView, RoleView};
use super::reply::{json_ok, EmptyObject};
use crate::app::roles;
use crate::app::AppState;
use crate::domain::role;
use crate::store::{AuditContext, Member, Page};

/// The argument of `POST /role`, form-encoded or as a JSON object.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// The role's name, unique; it names the role in paths.
    #[schema(schema_with = super::docs::role_name_schema, required = true)]
    name: Option<String>,
}

/// Creates a role.
#[utoipa::path(
    post,
    path = "/role",
    operation_id = "createRole",
    tag = "roles",
    request_body(content(
        (CreateRole = "application/x-www-form-urlencoded"),
        (CreateRole = "application/json"),
    )),
    responses(
        (status = 200, body = RoleView, description = "The new role"),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    ctx: AuditContext,
    Body(body): Body<CreateRole>,
) -> Result<HttpResponse, ApiError> {
    let name = role::parse_name(&required(body.name, "name", "the role's name")?)?;
    json_ok(&RoleView::from(&roles::create(&state, &ctx, name).await?))
}

/// Lists every role, oldest first.
#[utoipa::path(
    get,
    path = "/role",
    operation_id = "listRoles",
    tag = "roles",
    params(super::page::PageQuery),
    responses((status = 200, body = [RoleView], description = "Every role, oldest first"))
)]
pub async fn list(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, ApiError> {
    list_stream::page_of(
        state,
        page,
        |state, page| async move { roles::list(&state, page).await },
        |(seq, _)| *seq,
        |(_, row)| Ok(RoleView::from(row)),
    )
    .await
}

/// One role.
#[utoipa::path(
    get,
    path = "/role/{role}",
    operation_id = "getRole",
    tag = "roles",
    params(RoleKey),
    responses(
        (status = 200, body = RoleView, description = "The role"),
        (status = 404, response = NotFound),
    )
)]
pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<RoleKey>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&RoleView::from(&roles::find(&state, &key).await?))
}

/// Deletes a role with its memberships.
#[utoipa::path(
    delete,
    path = "/role/{role}",
    operation_id = "deleteRole",
    tag = "roles",
    params(RoleKey),
    responses(
        (status = 200, body = EmptyObject, description = "Deleted: `{}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<RoleKey>,
) -> Result<HttpResponse, ApiError> {
    roles::delete(&state, &ctx, &key).await?;
    json_ok(&EmptyObject {})
}

/// The data sources in a role.
#[utoipa::path(
    get,
    path = "/role/{role}/data-source",
    operation_id = "listRoleDataSources",
    tag = "roles",
    params(RoleKey),
    responses(
        (status = 200, body = [DataSourceView], description = "The role's data sources, password removed"),
        (status = 404, response = NotFound),
    )
)]
pub async fn data_sources(
    state: web::Data<AppState>,
    key: web::Path<RoleKey>,
) -> Result<HttpResponse, ApiError> {
    let rows = roles::data_sources(&state, &key).await?;
    json_ok(
        &rows
            .iter()
            .map(DataSourceView::redacted)
            .collect::<Vec<_>>(),
    )
}

/// The people in a role.
#[utoipa::path(
    get,
    path = "/role/{role}/person",
    operation_id = "listRolePeople",
    tag = "roles",
    params(RoleKey),
    responses(
        (status = 200, body = [PersonView], description = "The role's people"),
        (status = 404, response = NotFound),
    )
)]
pub async fn people(
    state: web::Data<AppState>,
    key: web::Path<RoleKey>,
) -> Result<HttpResponse, ApiError> {
    people_json(&roles::people(&state, &key).await?)
}

async fn set_member(
    state: &AppState,
    ctx: AuditContext,
    path: (String, String),
    kind: Member,
    member: bool,
) -> Result<HttpResponse, ApiError> {
    let (role_key, member_key) = path;
    roles::set_member(state, &ctx, &role_key, kind, &member_key, member).await?;
    json_ok(&EmptyObject {})
}

/// Adds a data source to a role (idempotent).
#[utoipa::path(
    put,
    path = "/role/{role}/data-source/{data_source}",
    operation_id = "addRoleDataSource",
    tag = "roles",
    params(RoleKey, DataSourceKey),
    responses(
        (status = 200, body = EmptyObject, description = "A member: `{}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn add_data_source(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_member(&state, ctx, path.into_inner(), Member::DataSource, true).await
}

/// Removes a data source from a role (idempotent).
#[utoipa::path(
    delete,
    path = "/role/{role}/data-source/{data_source}",
    operation_id = "removeRoleDataSource",
    tag = "roles",
    params(RoleKey, DataSourceKey),
    responses(
        (status = 200, body = EmptyObject, description = "Not a member: `{}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn remove_data_source(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_member(&state, ctx, path.into_inner(), Member::DataSource, false).await
}

/// Adds a person to a role (idempotent).
#[utoipa::path(
    put,
    path = "/role/{role}/person/{person}",
    operation_id = "addRolePerson",
    tag = "roles",
    params(RoleKey, PersonKey),
    responses(
        (status = 200, body = EmptyObject, description = "A member: `{}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn add_person(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_member(&state, ctx, path.into_inner(), Member::Person, true).await
}

/// Removes a person from a role (idempotent).
#[utoipa::path(
    delete,
    path = "/role/{role}/person/{person}",
    operation_id = "removeRolePerson",
    tag = "roles",
    params(RoleKey, PersonKey),
    responses(
        (status = 200, body = EmptyObject, description = "Not a member: `{}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn remove_person(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_member(&state, ctx, path.into_inner(), Member::Person, false).await
}

/// `GET /data-source/:ds/role`: the roles containing a data source, with `assignedAt`.
#[utoipa::path(
    get,
    path = "/data-source/{data_source}/role",
    operation_id = "listDataSourceRoles",
    tag = "data sources",
    params(DataSourceKey),
    responses(
        (status = 200, body = [RoleView], description = "The roles containing the data source, each with assignedAt"),
        (status = 404, response = NotFound),
    )
)]
pub async fn of_data_source(
    state: web::Data<AppState>,
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    let rows = roles::of_data_source(&state, &key).await?;
    json_ok(&rows.iter().map(RoleView::from).collect::<Vec<_>>())
}
