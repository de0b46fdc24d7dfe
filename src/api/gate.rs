//! Deny by default. Every request is authenticated before it is routed, except the few public
//! operations named in [`PUBLIC`]; and every decision here is made on exactly the path the
//! router matches (percent-decoded, slashes merged, no trailing slash), never on another
//! spelling of it. A path the router would send to a handler cannot be spelled so that the gate
//! takes it for something else: `/%61pi/v2/...` is `/api/v2/...` to both.
//!
//! Who gets what, by that path:
//! - `GET` of one of [`PUBLIC`]: no credentials, no vendor headers (contract §6).
//! - The Mode dialect (`/api/<workspace>/...`, any workspace but `v2`): Mode's Basic auth.
//! - The status page (`/ui`): its sign-in form and assets, or a session (`crate::ui::session`).
//!   A browser's `GET /` is sent there (`crate::ui::front_door`).
//! - Everything else, `/api/v2` and unknown paths alike: the JackDB conventions (User-Agent,
//!   Accept, then Basic auth, contract §1) under `/api/v2`, Basic auth alone outside it. An
//!   unknown path is a 404 only to a caller who authenticated.
//!
//! Repeated authentication failures from one address are slowed, then refused (429), in every
//! case but the public one (see [`super::limits`]).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};

use super::conventions::{self, API_PREFIX};
use super::{limits, mode, path_normalize};

/// Operations anyone who reaches the port may call (with `GET`), as the router matches them.
/// `/metrics` only while `[metrics] require_key` is off.
pub const PUBLIC: &[&str] = &["/healthz", "/readyz", METRICS, "/api/v2/openapi.json"];

/// The metrics endpoint, public unless `[metrics] require_key`.
pub const METRICS: &str = "/metrics";

/// Who may call `method` on `routed` (the path the router matches), and how they prove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `GET` of one of [`PUBLIC`].
    Anyone,
    /// A Mode dialect path: Mode's `key:secret`, errors in Mode's shape.
    Mode,
    /// Under `/api/v2`: the vendor headers, then `<keyId>@api:<secret>`.
    JackDb,
    /// The status page (`/ui`): a session cookie, or the sign-in form (see `crate::ui`).
    Ui,
    /// Any other path: `<keyId>@api:<secret>`, then a 404.
    Unknown,
    /// `GET /metrics` with `[metrics] require_key`: `<keyId>@api:<secret>`, without the
    /// vendor headers a Prometheus scraper does not send.
    KeyHolder,
}

impl Audience {
    pub fn of(method: &Method, routed: &str) -> Self {
        if method == Method::GET && PUBLIC.contains(&routed) {
            Audience::Anyone
        } else if mode::is_mode_path(routed) {
            Audience::Mode
        } else if routed == API_PREFIX || routed.starts_with("/api/v2/") {
            Audience::JackDb
        } else if crate::ui::is_ui_path(routed) {
            Audience::Ui
        } else {
            Audience::Unknown
        }
    }

    /// [`Audience::of`], with `/metrics` for key holders only when `metrics_need_key`.
    pub fn with_settings(method: &Method, routed: &str, metrics_need_key: bool) -> Self {
        match Self::of(method, routed) {
            Audience::Anyone if metrics_need_key && routed == METRICS => Audience::KeyHolder,
            audience => audience,
        }
    }
}

pub async fn gate(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    path_normalize::normalize(&mut req);
    // `as_str` is the path the router matches (actix requotes the URI's path once, here and
    // for routing alike); the raw `req.path()` is another spelling and must never decide.
    let metrics_need_key = req
        .app_data::<web::Data<limits::Limits>>()
        .is_some_and(|limits| limits.metrics_need_key());
    let routed = req.match_info().as_str();
    if let Some(redirect) = crate::ui::front_door::redirect(req.method(), routed, req.headers()) {
        return Ok(req.into_response(redirect));
    }
    let audience = Audience::with_settings(req.method(), routed, metrics_need_key);
    let checked = match audience {
        Audience::Anyone => return Ok(next.call(req).await?.map_into_boxed_body()),
        Audience::Mode => {
            limits::limit_auth_failures_as(&req, mode::authenticate(&req), mode::render_error).await
        }
        Audience::JackDb => match conventions::check_headers(&req) {
            Ok(()) => limits::limit_auth_failures(&req, conventions::authenticate(&req)).await,
            Err(e) => Err(e.error_response()),
        },
        Audience::Ui => match crate::ui::admit(&req).await {
            // The UI's own check put the session and its key in the request.
            Ok(()) => return Ok(next.call(req).await?.map_into_boxed_body()),
            Err(response) => Err(response),
        },
        Audience::Unknown | Audience::KeyHolder => {
            limits::limit_auth_failures(&req, conventions::authenticate(&req)).await
        }
    };
    match checked {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(response) => Ok(req.into_response(response)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_public_list_is_public_and_every_other_path_authenticates() {
        for public in PUBLIC {
            assert_eq!(
                Audience::of(&Method::GET, public),
                Audience::Anyone,
                "{public}"
            );
            // Another method on a public path is for a key holder, who then gets its 405.
            assert_ne!(
                Audience::of(&Method::POST, public),
                Audience::Anyone,
                "{public}"
            );
        }
        for (path, audience) in [
            ("/api/v2/data-source", Audience::JackDb),
            ("/api/v2", Audience::JackDb),
            ("/api/v2/openapi.json/x", Audience::JackDb),
            ("/api/jackal/data_sources", Audience::Mode),
            ("/api/V2/data-source", Audience::Mode),
            ("/", Audience::Unknown),
            ("/healthz/", Audience::Unknown),
            ("/HEALTHZ", Audience::Unknown),
            ("/api%2Fv2/data-source", Audience::Unknown),
            ("/api", Audience::Unknown),
            ("/apix/v2", Audience::Unknown),
            ("/ui", Audience::Ui),
            ("/ui/data-source/x", Audience::Ui),
            ("/uix", Audience::Unknown),
            ("/UI", Audience::Unknown),
        ] {
            assert_eq!(Audience::of(&Method::GET, path), audience, "{path}");
        }
    }

    #[test]
    fn metrics_are_for_key_holders_only_when_the_setting_says() {
        assert_eq!(
            Audience::with_settings(&Method::GET, METRICS, false),
            Audience::Anyone
        );
        assert_eq!(
            Audience::with_settings(&Method::GET, METRICS, true),
            Audience::KeyHolder
        );
        for public in PUBLIC.iter().filter(|p| **p != METRICS) {
            assert_eq!(
                Audience::with_settings(&Method::GET, public, true),
                Audience::Anyone
            );
        }
    }
}
