//! `/api/v2/person`: people, their lock, two-factor reset, roles, permissions and the data
//! sources they can reach now.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::args::{required, Body};
use super::data_source::DataSourceView;
use super::docs::{Conflict, NotFound, PayloadTooLarge, PersonKey, UnsupportedMediaType};
use super::error::ApiError;
use super::list_stream;
use super::member_views::{PersonView, RoleView};
use super::permission::PermissionView;
use super::reply::{json_ok, Count, EmptyObject};
use crate::app::people::{self, NewPerson};
use crate::app::AppState;
use crate::domain::person;
use crate::store::{AuditContext, Page};

/// The arguments of `POST /person`, form-encoded or as a JSON object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePerson {
    /// The full name.
    #[schema(schema_with = super::docs::name_schema, required = true)]
    name: Option<String>,
    /// The email address, unique ignoring case.
    #[schema(schema_with = super::docs::email_schema, required = true)]
    email: Option<String>,
    /// The login name, unique; it names the person in paths.
    #[schema(schema_with = super::docs::username_schema, required = true)]
    username: Option<String>,
}

/// Creates a person (not locked).
#[utoipa::path(
    post,
    path = "/person",
    operation_id = "createPerson",
    tag = "people",
    request_body(content(
        (CreatePerson = "application/x-www-form-urlencoded"),
        (CreatePerson = "application/json"),
    )),
    responses(
        (status = 200, body = PersonView, description = "The new person, `isLocked: false`"),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    ctx: AuditContext,
    Body(body): Body<CreatePerson>,
) -> Result<HttpResponse, ApiError> {
    let name = person::parse_name(&required(body.name, "name", "the person's full name")?)?;
    let email = person::parse_email(&required(
        body.email,
        "email",
        "the person's email address",
    )?)?;
    let username = person::parse_username(&required(
        body.username,
        "username",
        "the person's login name",
    )?)?;
    let new = NewPerson {
        name,
        email,
        username,
    };
    json_ok(&PersonView::from(&people::create(&state, &ctx, new).await?))
}

/// Lists every person, oldest first.
#[utoipa::path(
    get,
    path = "/person",
    operation_id = "listPeople",
    tag = "people",
    params(super::page::PageQuery),
    responses((status = 200, body = [PersonView], description = "Every person, oldest first"))
)]
pub async fn list(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, ApiError> {
    list_stream::page_of(
        state,
        page,
        |state, page| async move { people::list(&state, page).await },
        |(seq, _)| *seq,
        |(_, row)| Ok(PersonView::from(row)),
    )
    .await
}

/// One person.
#[utoipa::path(
    get,
    path = "/person/{person}",
    operation_id = "getPerson",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = PersonView, description = "The person"),
        (status = 404, response = NotFound),
    )
)]
pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&PersonView::from(&people::find(&state, &key).await?))
}

/// Locks a person (idempotent); a locked person reaches nothing.
#[utoipa::path(
    method(post, put),
    path = "/person/{person}/lock",
    operation_id = "lockPerson",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = PersonView, description = "The person, `isLocked: true`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn lock(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&PersonView::from(
        &people::set_locked(&state, &ctx, &key, true).await?,
    ))
}

/// Unlocks a person (idempotent).
#[utoipa::path(
    post,
    path = "/person/{person}/unlock",
    operation_id = "unlockPerson",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = PersonView, description = "The person, `isLocked: false`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn unlock(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&PersonView::from(
        &people::set_locked(&state, &ctx, &key, false).await?,
    ))
}

/// `DELETE /person/:person/lock`: the same as `POST /person/:person/unlock`.
#[utoipa::path(
    delete,
    path = "/person/{person}/lock",
    operation_id = "unlockPersonByDelete",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = PersonView, description = "The person, `isLocked: false`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn unlock_by_delete(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    unlock(state, ctx, key).await
}

/// Deletes a locked person with their permissions and role memberships.
#[utoipa::path(
    delete,
    path = "/person/{person}",
    operation_id = "deletePerson",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = EmptyObject, description = "Deleted: `{}`"),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    people::delete(&state, &ctx, &key).await?;
    json_ok(&EmptyObject {})
}

/// Resets a person's two-factor authentication (idempotent).
#[utoipa::path(
    delete,
    path = "/person/{person}/two-factor",
    operation_id = "resetTwoFactor",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = EmptyObject, description = "Reset: `{}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn reset_two_factor(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    people::reset_two_factor(&state, &ctx, &key).await?;
    json_ok(&EmptyObject {})
}

/// The roles a person belongs to.
#[utoipa::path(
    get,
    path = "/person/{person}/role",
    operation_id = "listPersonRoles",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = [RoleView], description = "The person's roles"),
        (status = 404, response = NotFound),
    )
)]
pub async fn roles(
    state: web::Data<AppState>,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    let rows = people::roles(&state, &key).await?;
    json_ok(&rows.iter().map(RoleView::from).collect::<Vec<_>>())
}

/// A person's permissions, expired ones included.
#[utoipa::path(
    get,
    path = "/person/{person}/permission",
    operation_id = "listPersonPermissions",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = [PermissionView], description = "The person's permissions"),
        (status = 404, response = NotFound),
    )
)]
pub async fn permissions(
    state: web::Data<AppState>,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    let rows = people::permissions(&state, &key).await?;
    json_ok(&rows.iter().map(PermissionView::from).collect::<Vec<_>>())
}

/// Deletes all of a person's permissions.
#[utoipa::path(
    delete,
    path = "/person/{person}/permission",
    operation_id = "deletePersonPermissions",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = Count, description = "How many were deleted: `{\"count\": n}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete_permissions(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    let count = people::delete_permissions(&state, &ctx, &key).await?;
    json_ok(&Count { count })
}

/// The data sources a person can reach now: through a role, or an active permission.
#[utoipa::path(
    get,
    path = "/person/{person}/data-source",
    operation_id = "listPersonDataSources",
    tag = "people",
    params(PersonKey),
    responses(
        (status = 200, body = [DataSourceView],
            description = "Each reachable data source once, password removed; none when locked"),
        (status = 404, response = NotFound),
    )
)]
pub async fn data_sources(
    state: web::Data<AppState>,
    key: web::Path<PersonKey>,
) -> Result<HttpResponse, ApiError> {
    let rows = people::reachable_data_sources(&state, &key, state.clock.now_millis()).await?;
    json_ok(
        &rows
            .iter()
            .map(DataSourceView::redacted)
            .collect::<Vec<_>>(),
    )
}
