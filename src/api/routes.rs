//! The route table, written once: every `/api/v2` path with its methods and handlers. The
//! `Allow` header of each path and [`ENDPOINTS`] (which the OpenAPI test compares with the
//! documented paths) are derived from it.

use actix_web::http::Method;
use actix_web::{web, Route};

use super::routing::{method_checked_resource, route, route_table, RoutePattern};
use super::{
    alerts, audit, connection_test, conventions, data_source, mode, openapi, operations,
    permission, person, role, schema, test_history, test_run, whoami,
};

route_table! {
    const ENDPOINTS;
    fn api_scope(scope = conventions::API_PREFIX, resource = resource);
    "/openapi.json" => [GET => openapi::document],
    "/whoami" => [GET => whoami::whoami],
    "/audit" => [GET => audit::list],
    "/alerts" => [GET => alerts::list],
    "/connection-test" => [POST => connection_test::test_unsaved],
    "/test-run" => [POST => test_run::run],
    // Data sources.
    "/data-source" => [GET => data_source::list, POST => data_source::create],
    "/data-source/{data_source}" => [
        GET => data_source::retrieve,
        POST => data_source::update,
        PUT => data_source::update,
        PATCH => data_source::update,
        DELETE => data_source::delete,
    ],
    "/data-source/{data_source}/detail" => [GET => data_source::detail],
    "/data-source/{data_source}/test" => [POST => connection_test::test_data_source],
    "/data-source/{data_source}/test-history" => [GET => test_history::list],
    "/data-source/{data_source}/incidents" => [GET => alerts::incidents],
    "/data-source/{data_source}/schema" => [GET => schema::retrieve, POST => schema::refresh],
    "/data-source/{data_source}/role" => [GET => role::of_data_source],
    "/data-source/{data_source}/permission" => [
        GET => permission::of_data_source,
        DELETE => permission::delete_of_data_source,
    ],
    "/data-source/{data_source}/permission/person/{person}" => [
        GET => permission::of_pair,
        POST => permission::grant,
        DELETE => permission::delete_of_pair,
    ],
    // People.
    "/person" => [GET => person::list, POST => person::create],
    "/person/{person}" => [GET => person::retrieve, DELETE => person::delete],
    "/person/{person}/lock" => [
        POST => person::lock,
        PUT => person::lock,
        DELETE => person::unlock_by_delete,
    ],
    "/person/{person}/unlock" => [POST => person::unlock],
    "/person/{person}/two-factor" => [DELETE => person::reset_two_factor],
    "/person/{person}/data-source" => [GET => person::data_sources],
    "/person/{person}/role" => [GET => person::roles],
    "/person/{person}/permission" => [
        GET => person::permissions,
        DELETE => person::delete_permissions,
    ],
    // Roles.
    "/role" => [GET => role::list, POST => role::create],
    "/role/{role}" => [GET => role::retrieve, DELETE => role::delete],
    "/role/{role}/data-source" => [GET => role::data_sources],
    "/role/{role}/data-source/{data_source}" => [
        PUT => role::add_data_source,
        DELETE => role::remove_data_source,
    ],
    "/role/{role}/person" => [GET => role::people],
    "/role/{role}/person/{person}" => [PUT => role::add_person, DELETE => role::remove_person],
    // Permissions.
    "/permission" => [GET => permission::list],
    "/permission/{permission}" => [GET => permission::retrieve, DELETE => permission::delete],
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(api_scope());
    // The Mode dialect, after `/api/v2` so that the JackDB API keeps every path of its own.
    cfg.service(mode::scope());
    // The status page, outside `/api/v2` and the OpenAPI document.
    cfg.service(crate::ui::scope());
    // The operations endpoints, outside `/api/v2` and the OpenAPI document.
    for (path, handler) in [
        ("/healthz", route(Method::GET).to(operations::healthz)),
        ("/readyz", route(Method::GET).to(operations::readyz)),
        ("/metrics", route(Method::GET).to(operations::metrics)),
    ] {
        cfg.service(
            method_checked_resource(path, "GET", vec![handler])
                .app_data(RoutePattern(path.to_owned())),
        );
    }
}

/// An `/api/v2` resource.
fn resource(path: &str, allow: &'static str, routes: Vec<Route>) -> actix_web::Resource {
    method_checked_resource(path, allow, routes)
        .app_data(RoutePattern(format!("{}{path}", conventions::API_PREFIX)))
}
