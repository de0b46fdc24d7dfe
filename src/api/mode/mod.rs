//! The Mode dialect: Mode's data-source API (`docs/spec/mode-data-sources.txt`) at
//! `/api/{workspace}/data_sources`, over the same store and API keys as the JackDB API. Mode
//! scripts authenticate with HTTP Basic `<keyId>:<secret>` (Mode's "API key" and "API secret"),
//! get `application/hal+json` with `_links`, and see each data source as Mode's Data Source
//! object, its `token` being the JackDB id. Only the workspace of `[mode] workspace` exists.
//!
//! Failures answer `{"id": "<stable_snake_case>", "message": "<what went wrong and how to fix
//! it>"}`, the `id` being the JackDB API's error code for the same failure.

mod error;
mod hal;
mod objects;
mod schema_updates;

pub use error::{render_error, ModeError};

use actix_web::dev::ServiceRequest;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

use super::error::{ApiError, ErrorCode};
use super::routing::{method_not_allowed, route_table, RoutePattern};
use crate::app::api_keys::Caller;
use crate::app::AppState;

use objects::*;
use schema_updates::*;

pub const HAL_CONTENT_TYPE: &str = "application/hal+json; charset=utf-8";

/// Whether `path` belongs to the Mode dialect: `/api/<workspace>[/...]`, any workspace but
/// `v2`, which is the JackDB API's.
pub fn is_mode_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/") else {
        return false;
    };
    let workspace = rest.split('/').next().unwrap_or("");
    !workspace.is_empty() && workspace != "v2"
}

/// Mode's `key:secret` (the JackDB form `key@api:secret` is accepted too).
pub async fn authenticate(req: &ServiceRequest) -> Result<Caller, ApiError> {
    let (user, secret) = super::conventions::basic_user_and_password(req).ok_or_else(|| {
        ApiError::unauthorized(
            "authentication required: send HTTP Basic auth with the API key id as the user and \
             its secret as the password (curl -u \"$ID:$SECRET\")",
        )
    })?;
    let key_id = user.strip_suffix("@api").unwrap_or(&user);
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state missing"))?;
    state.keys.verify(key_id, &secret).await?.ok_or_else(|| {
        ApiError::unauthorized("the API key id or secret is not valid, or the key was revoked")
    })
}

/// A Mode resource: other methods answer 405 in Mode's shape with `Allow`.
fn resource(path: &str, allow: &'static str, routes: Vec<actix_web::Route>) -> actix_web::Resource {
    let mut resource =
        web::resource(path).app_data(RoutePattern(format!("/api/{{workspace}}{path}")));
    for route in routes {
        resource = resource.route(route);
    }
    resource.default_service(web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(ModeError::from(method_not_allowed(&req, allow)))
    }))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ModeError> {
    Err(ApiError::new(
        ErrorCode::RouteNotFound,
        format!(
            "no such endpoint: {} {}; the Mode dialect serves /api/{{workspace}}/data_sources \
             (and JackDB paths start with /api/v2)",
            req.method(),
            req.path()
        ),
    )
    .into())
}

route_table! {
    const ENDPOINTS;
    fn routed_scope(scope = "/api/{workspace}", resource = resource);
    "/data_sources" => [GET => list],
    "/data_sources/{data_source}" => [GET => retrieve, PATCH => update, PUT => update, POST => update],
    "/data_sources/{data_source}/schema_updates" => [GET => last_schema_update, POST => run_schema_update],
    "/data_sources/{data_source}/purge" => [POST => purge],
}

/// The Mode dialect's routes, under `/api/{workspace}`.
pub fn scope() -> actix_web::Scope {
    routed_scope().default_service(web::to(not_found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_paths_are_api_paths_other_than_v2() {
        for mode in [
            "/api/jackal",
            "/api/jackal/data_sources",
            "/api/other/x",
            "/api/v3",
        ] {
            assert!(is_mode_path(mode), "{mode}");
        }
        for not in [
            "/api/v2",
            "/api/v2/data-source",
            "/api",
            "/api/",
            "/healthz",
            "/apix/y",
        ] {
            assert!(!is_mode_path(not), "{not}");
        }
    }
}
