//! The HTTP API: routes, one module per resource, and the shared conventions.

pub mod args;
pub mod connection_test;
pub mod conventions;
pub mod data_source;
pub mod error;
pub mod request_log;
pub mod whoami;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, Route};
use serde::Serialize;

use error::{ApiError, JSON_CONTENT_TYPE};

pub fn json_ok(value: &impl Serialize) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, JSON_CONTENT_TYPE))
        .body(body))
}

/// A resource whose other methods answer 405 with the contract's body and an `Allow` header.
fn resource(path: &str, allow: &'static str, routes: Vec<Route>) -> actix_web::Resource {
    let mut resource = web::resource(path);
    for route in routes {
        resource = resource.route(route);
    }
    resource.default_service(web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
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
    Err(ApiError::not_found(
        "route_not_found",
        format!(
            "no such endpoint: {} {}; API paths start with /api/v2 (for example /api/v2/data-source)",
            req.method(),
            req.path()
        ),
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(conventions::API_PREFIX)
            .service(resource(
                "/whoami",
                "GET",
                vec![web::get().to(whoami::whoami)],
            ))
            .service(resource(
                "/data-source",
                "GET, POST",
                vec![
                    web::get().to(data_source::list),
                    web::post().to(data_source::create),
                ],
            ))
            .service(resource(
                "/connection-test",
                "POST",
                vec![web::post().to(connection_test::test_unsaved)],
            ))
            .service(resource(
                "/data-source/{data_source}/test",
                "POST",
                vec![web::post().to(connection_test::test_data_source)],
            ))
            .service(resource(
                "/data-source/{data_source}/detail",
                "GET",
                vec![web::get().to(data_source::detail)],
            ))
            .service(resource(
                "/data-source/{data_source}",
                "GET, POST, PUT, PATCH, DELETE",
                vec![
                    web::get().to(data_source::retrieve),
                    web::post().to(data_source::update),
                    web::put().to(data_source::update),
                    web::patch().to(data_source::update),
                    web::delete().to(data_source::delete),
                ],
            )),
    );
}
