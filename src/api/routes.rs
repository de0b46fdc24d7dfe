//! The route table, written once: every `/api/v2` path with its methods and handlers. The
//! `Allow` header of each path and [`ENDPOINTS`] (which the OpenAPI test compares with the
//! documented paths) are derived from it.

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse, Route};

use super::error::{ApiError, ErrorCode};
use super::{
    audit, connection_test, conventions, data_source, mode, openapi, operations, permission,
    person, role, schema, test_history, test_run, whoami,
};

/// One path of the table, relative to `/api/v2`, and its methods as `Allow` lists them.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub path: &'static str,
    pub allow: &'static str,
}

/// A route table: `path => [METHOD => handler, ...]` under a scope. It defines the constant
/// `$table` (each path with its `Allow`, the methods in the order written) and the function
/// `$scope_fn`, which builds the scope with `$resource(path, allow, routes)` for each path.
macro_rules! route_table {
    (
        const $table:ident;
        fn $scope_fn:ident(scope = $prefix:expr, resource = $resource:path);
        $($path:literal => [$first:ident => $first_handler:path $(, $method:ident => $handler:path)* $(,)?],)+
    ) => {
        /// Every path of this scope and its methods.
        pub const $table: &[$crate::api::routes::Endpoint] = &[$($crate::api::routes::Endpoint {
            path: $path,
            allow: concat!(stringify!($first) $(, ", ", stringify!($method))*),
        },)+];

        fn $scope_fn() -> actix_web::Scope {
            use actix_web::http::Method;
            use $crate::api::routes::route;
            actix_web::web::scope($prefix)
                $(.service($resource(
                    $path,
                    concat!(stringify!($first) $(, ", ", stringify!($method))*),
                    vec![
                        route(Method::$first).to($first_handler),
                        $(route(Method::$method).to($handler),)*
                    ],
                )))+
        }
    };
}
pub(crate) use route_table;

route_table! {
    const ENDPOINTS;
    fn api_scope(scope = conventions::API_PREFIX, resource = resource);
    "/openapi.json" => [GET => openapi::document],
    "/whoami" => [GET => whoami::whoami],
    "/audit" => [GET => audit::list],
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

pub fn route(method: Method) -> Route {
    web::route().method(method)
}

/// The route pattern a request matched (`/api/v2/data-source/{data_source}`), for `/metrics`.
/// Resource data, so the request log reads it after routing instead of matching the path
/// against every pattern again (`HttpRequest::match_pattern` runs the route regexes anew).
pub struct RoutePattern(pub String);

/// An `/api/v2` resource.
fn resource(path: &str, allow: &'static str, routes: Vec<Route>) -> actix_web::Resource {
    method_checked_resource(path, allow, routes)
        .app_data(RoutePattern(format!("{}{path}", conventions::API_PREFIX)))
}

/// A resource whose other methods answer 405 with the contract's body and an `Allow` header.
pub fn method_checked_resource(
    path: &str,
    allow: &'static str,
    routes: Vec<Route>,
) -> actix_web::Resource {
    let mut resource = web::resource(path);
    for route in routes {
        resource = resource.route(route);
    }
    resource.default_service(web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(method_not_allowed(&req, allow))
    }))
}

/// 405 with `Allow`: `req`'s method is not one of `allow`.
pub fn method_not_allowed(req: &HttpRequest, allow: &'static str) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} is not allowed on {}; allowed: {allow}",
            req.method(),
            req.path()
        ),
    )
    .with_header(header::ALLOW, allow)
}

pub async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::RouteNotFound,
        format!(
            "no such endpoint: {} {}; API paths start with /api/v2 (for example /api/v2/data-source)",
            req.method(),
            req.path()
        ),
    ))
}
