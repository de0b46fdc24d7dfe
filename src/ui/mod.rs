//! The status page at `/ui/`: the fleet's health, one data source's story and the audit
//! trail, and the console's forms (a data source's settings and access; people, roles and
//! permissions), rendered on the server from templates compiled into the binary (askama,
//! escaped by default), with charts drawn as SVG and two small scripts: one for the buttons,
//! one for the forms. No Node toolchain is needed to build or run it.
//!
//! Who may see what is decided in the gate ([`session::admit`]). Every answer carries a
//! Content-Security-Policy that allows only this server's own script and style (no inline
//! script, no inline style), and no framing.

mod assets;
mod audit;
mod charts;
mod data_source;
mod data_source_access;
mod data_source_form;
mod fleet;
pub mod front_door;
mod people;
mod permissions;
mod report;
mod roles;
pub mod session;
mod sign_in;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::HttpResponse;
use askama::Template;

use crate::api::error::ApiError;
use crate::api::routing::{method_checked_resource, route_table};
use crate::api::{connection_test, permission, role, schema, test_run};
use crate::app::ui_sessions::Session;

pub use session::{admit, is_ui_path};

/// The policy every status-page answer carries: scripts, styles, images and fetches from this
/// server only; forms post only here; never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

route_table! {
    const ROUTES;
    fn routed_scope(scope = session::PREFIX, resource = method_checked_resource);
    "" => [GET => fleet::page],
    "/fleet" => [GET => fleet::live],
    "/sign-in" => [GET => sign_in::form, POST => sign_in::sign_in],
    "/sign-out" => [POST => sign_in::sign_out],
    // Before `{data_source}`, which would take "new" for an id or alias.
    "/data-source/new" => [GET => data_source_form::new],
    "/data-source" => [POST => data_source_form::create],
    "/data-source/{data_source}" => [GET => data_source::page, POST => data_source_form::update],
    "/data-source/{data_source}/edit" => [GET => data_source_form::edit],
    "/data-source/{data_source}/delete" => [POST => crate::api::data_source::delete],
    "/data-source/{data_source}/access" => [GET => data_source_access::page],
    // The buttons call the API's own handlers, as the signed-in key: one rule for a test,
    // a fleet run or a schema refresh, whoever asks.
    "/data-source/{data_source}/test" => [POST => connection_test::test_data_source],
    "/data-source/{data_source}/schema" => [POST => schema::refresh],
    "/test-run" => [POST => test_run::run],
    "/connection-test" => [POST => connection_test::test_unsaved],
    "/data-source/{data_source}/permission/person/{person}" => [POST => permission::grant],
    "/permission/{permission}" => [DELETE => permission::delete],
    "/role/{role}/data-source/{data_source}" => [
        PUT => role::add_data_source,
        DELETE => role::remove_data_source,
    ],
    "/people" => [GET => people::page],
    "/roles" => [GET => roles::page],
    "/permissions" => [GET => permissions::page],
    "/audit" => [GET => audit::page],
    "/audit/rows" => [GET => audit::rows],
    "/assets/{name}" => [GET => assets::serve],
}

/// The `/ui` scope, every answer with the page's security headers.
pub fn scope() -> impl actix_web::dev::HttpServiceFactory {
    routed_scope().wrap(
        DefaultHeaders::new()
            .add((header::CONTENT_SECURITY_POLICY, CSP))
            .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            // Not `no-referrer`: with it a browser sends `Origin: null` on a form post, and the
            // same-origin check of the sign-in form would refuse the page itself.
            .add((header::REFERRER_POLICY, "same-origin"))
            .add((header::X_FRAME_OPTIONS, "DENY")),
    )
}

/// What every page shows around its content.
pub struct Chrome {
    pub title: String,
    /// Which navigation entry is this page (`fleet`, `audit`, or none).
    pub page: &'static str,
    pub signed_in: bool,
    pub key_name: String,
    pub csrf: String,
}

impl Chrome {
    fn of(session: &Session, title: impl Into<String>, page: &'static str) -> Chrome {
        Chrome {
            title: title.into(),
            page,
            signed_in: true,
            key_name: session.caller.name.clone(),
            csrf: session.csrf_token().to_owned(),
        }
    }
}

/// `page` rendered, with `status`; never cached (it shows the store as it is now).
fn html(status: StatusCode, page: &impl Template) -> Result<HttpResponse, ApiError> {
    let body = page.render().map_err(ApiError::internal)?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body))
}
