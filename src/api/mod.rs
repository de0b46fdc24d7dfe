//! The HTTP API: routes, one module per resource, and the shared conventions.

pub mod args;
pub mod audit;
pub mod body;
pub mod connection_test;
pub mod conventions;
pub mod data_source;
pub mod error;
pub mod gate;
pub mod limits;
pub mod mode;
pub mod openapi;
pub mod operations;
pub mod page;
pub mod path_normalize;
pub mod permission;
pub mod person;
pub mod request_log;
pub mod role;
pub mod schema;
pub mod whoami;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, Route};
use serde::Serialize;
use utoipa::ToSchema;

use error::{ApiError, ErrorCode, JSON_CONTENT_TYPE};

/// `{}`: what a deletion or a membership change answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyObject {}

/// `{"count": n}`: what a bulk deletion answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Count {
    /// How many objects were deleted.
    pub count: u64,
}

pub fn json_ok(value: &impl Serialize) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, JSON_CONTENT_TYPE))
        .body(body))
}

/// A resource whose other methods answer 405 with the contract's body and an `Allow` header.
fn resource(path: &str, allow: &'static str, routes: Vec<Route>) -> actix_web::Resource {
    #[cfg(test)]
    openapi::tests::record_route(path, allow);
    undocumented_resource(path, allow, routes)
        .app_data(RoutePattern(format!("{}{path}", conventions::API_PREFIX)))
}

/// The route pattern a request matched (`/api/v2/data-source/{data_source}`), for `/metrics`.
/// Resource data, so the request log reads it after routing instead of matching the path
/// against every pattern again (`HttpRequest::match_pattern` runs the route regexes anew).
pub struct RoutePattern(pub String);

/// `resource` for the operations endpoints, which live outside the OpenAPI document's
/// `/api/v2` server.
fn undocumented_resource(
    path: &str,
    allow: &'static str,
    routes: Vec<Route>,
) -> actix_web::Resource {
    let mut resource = web::resource(path);
    for route in routes {
        resource = resource.route(route);
    }
    resource.default_service(web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!(
                    "{} is not allowed on {}; allowed: {allow}",
                    req.method(),
                    req.path()
                ),
            )
            .with_header(header::ALLOW, allow),
        )
    }))
}

pub async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::RouteNotFound,
        format!(
            "no such endpoint: {} {}; API paths start with /api/v2 (for example /api/v2/data-source)",
            req.method(),
            req.path()
        ),
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, patch, post, put};
    let api = web::scope(conventions::API_PREFIX)
        .service(resource(
            "/openapi.json",
            "GET",
            vec![get().to(openapi::document)],
        ))
        .service(resource("/whoami", "GET", vec![get().to(whoami::whoami)]))
        .service(resource("/audit", "GET", vec![get().to(audit::list)]))
        .service(resource(
            "/connection-test",
            "POST",
            vec![post().to(connection_test::test_unsaved)],
        ))
        // Data sources.
        .service(resource(
            "/data-source",
            "GET, POST",
            vec![get().to(data_source::list), post().to(data_source::create)],
        ))
        .service(resource(
            "/data-source/{data_source}",
            "GET, POST, PUT, PATCH, DELETE",
            vec![
                get().to(data_source::retrieve),
                post().to(data_source::update),
                put().to(data_source::update),
                patch().to(data_source::update),
                delete().to(data_source::delete),
            ],
        ))
        .service(resource(
            "/data-source/{data_source}/detail",
            "GET",
            vec![get().to(data_source::detail)],
        ))
        .service(resource(
            "/data-source/{data_source}/test",
            "POST",
            vec![post().to(connection_test::test_data_source)],
        ))
        .service(resource(
            "/data-source/{data_source}/schema",
            "GET, POST",
            vec![get().to(schema::retrieve), post().to(schema::refresh)],
        ))
        .service(resource(
            "/data-source/{data_source}/role",
            "GET",
            vec![get().to(role::of_data_source)],
        ))
        .service(resource(
            "/data-source/{data_source}/permission",
            "GET, DELETE",
            vec![
                get().to(permission::of_data_source),
                delete().to(permission::delete_of_data_source),
            ],
        ))
        .service(resource(
            "/data-source/{data_source}/permission/person/{person}",
            "GET, POST, DELETE",
            vec![
                get().to(permission::of_pair),
                post().to(permission::grant),
                delete().to(permission::delete_of_pair),
            ],
        ))
        // People.
        .service(resource(
            "/person",
            "GET, POST",
            vec![get().to(person::list), post().to(person::create)],
        ))
        .service(resource(
            "/person/{person}",
            "GET, DELETE",
            vec![get().to(person::retrieve), delete().to(person::delete)],
        ))
        .service(resource(
            "/person/{person}/lock",
            "POST, PUT, DELETE",
            vec![
                post().to(person::lock),
                put().to(person::lock),
                delete().to(person::unlock_by_delete),
            ],
        ))
        .service(resource(
            "/person/{person}/unlock",
            "POST",
            vec![post().to(person::unlock)],
        ))
        .service(resource(
            "/person/{person}/two-factor",
            "DELETE",
            vec![delete().to(person::reset_two_factor)],
        ))
        .service(resource(
            "/person/{person}/data-source",
            "GET",
            vec![get().to(person::data_sources)],
        ))
        .service(resource(
            "/person/{person}/role",
            "GET",
            vec![get().to(person::roles)],
        ))
        .service(resource(
            "/person/{person}/permission",
            "GET, DELETE",
            vec![
                get().to(person::permissions),
                delete().to(person::delete_permissions),
            ],
        ))
        // Roles.
        .service(resource(
            "/role",
            "GET, POST",
            vec![get().to(role::list), post().to(role::create)],
        ))
        .service(resource(
            "/role/{role}",
            "GET, DELETE",
            vec![get().to(role::retrieve), delete().to(role::delete)],
        ))
        .service(resource(
            "/role/{role}/data-source",
            "GET",
            vec![get().to(role::data_sources)],
        ))
        .service(resource(
            "/role/{role}/data-source/{data_source}",
            "PUT, DELETE",
            vec![
                put().to(role::add_data_source),
                delete().to(role::remove_data_source),
            ],
        ))
        .service(resource(
            "/role/{role}/person",
            "GET",
            vec![get().to(role::people)],
        ))
        .service(resource(
            "/role/{role}/person/{person}",
            "PUT, DELETE",
            vec![put().to(role::add_person), delete().to(role::remove_person)],
        ))
        // Permissions.
        .service(resource(
            "/permission",
            "GET",
            vec![get().to(permission::list)],
        ))
        .service(resource(
            "/permission/{permission}",
            "GET, DELETE",
            vec![
                get().to(permission::retrieve),
                delete().to(permission::delete),
            ],
        ));
    cfg.service(api);
    // The Mode dialect, after `/api/v2` so that the JackDB API keeps every path of its own.
    cfg.service(mode::scope());
    for (path, handler) in [
        ("/healthz", get().to(operations::healthz)),
        ("/readyz", get().to(operations::readyz)),
        ("/metrics", get().to(operations::metrics)),
    ] {
        cfg.service(
            undocumented_resource(path, "GET", vec![handler])
                .app_data(RoutePattern(path.to_owned())),
        );
    }
}
