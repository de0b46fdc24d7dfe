//! How a route table is written and served: the `route_table!` macro, the 405 every resource
//! answers for a method it does not take, the 404 of an unknown path, and the matched pattern a
//! request carries for its metrics. The tables themselves are in `routes.rs` (the API),
//! `mode/` and `ui/`.

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse, Route};

use super::error::{ApiError, ErrorCode};

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
        pub const $table: &[$crate::api::routing::Endpoint] = &[$($crate::api::routing::Endpoint {
            path: $path,
            allow: concat!(stringify!($first) $(, ", ", stringify!($method))*),
        },)+];

        fn $scope_fn() -> actix_web::Scope {
            use actix_web::http::Method;
            use $crate::api::routing::route;
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

pub fn route(method: Method) -> Route {
    web::route().method(method)
}

/// The route pattern a request matched (`/api/v2/data-source/{data_source}`), for `/metrics`.
/// Resource data, so the request log reads it after routing instead of matching the path
/// against every pattern again (`HttpRequest::match_pattern` runs the route regexes anew).
pub struct RoutePattern(pub String);

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
