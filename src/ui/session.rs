//! Who may see the status page, decided in the gate (`crate::api::gate`) on the routed path,
//! like every other decision about a request: the sign-in form and the assets are public;
//! every other `/ui` path needs a session cookie naming a live session of an active key, and a
//! request that changes anything must also come from the page itself (same origin) and echo
//! the session's CSRF token in `X-CSRF-Token`.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::ServiceRequest;
use actix_web::http::{header, Method};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::api::error::{ApiError, ErrorCode};
use crate::api::limits::Limits;
use crate::app::ui_sessions::{self, Session, LIFETIME};
use crate::app::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "jackal_session";
/// The header every state-changing request echoes the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Where the status page lives (the router's form of the path: no trailing slash).
pub const PREFIX: &str = "/ui";
pub const SIGN_IN: &str = "/ui/sign-in";

/// Whether `routed` is a status-page path.
pub fn is_ui_path(routed: &str) -> bool {
    routed == PREFIX || routed.starts_with("/ui/")
}

/// Paths anyone may ask for: the sign-in form (and its POST) and the assets.
fn is_public(method: &Method, routed: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => routed == SIGN_IN || routed.starts_with("/ui/assets/"),
        Method::POST => routed == SIGN_IN,
        _ => false,
    }
}

/// Lets `req` through to the status page, with its session (and its key as the caller) in the
/// request when it needs one; otherwise the answer: to the sign-in form for a page, a 401 or
/// 403 for anything else.
pub async fn admit(req: &ServiceRequest) -> Result<(), HttpResponse> {
    let method = req.method().clone();
    let routed = req.match_info().as_str().to_owned();
    let reads = matches!(method, Method::GET | Method::HEAD);
    if !reads && !same_origin(req.request()) {
        return Err(forbidden(
            "this request did not come from the status page itself (its Origin or Sec-Fetch-Site is another site): open the page and use its buttons",
        ));
    }
    if is_public(&method, &routed) {
        return Ok(());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state missing").error_response())?;
    let session = match req.cookie(COOKIE) {
        Some(cookie) => ui_sessions::find(state, cookie.value())
            .await
            .map_err(|e| ApiError::from(e).error_response())?,
        None => None,
    };
    let Some(session) = session else {
        return Err(if reads && navigates(req.request()) {
            to_sign_in(req.request())
        } else {
            ApiError::unauthorized(
                "not signed in, or the session ended (expired, signed out, or its API key was revoked): sign in again at /ui/sign-in",
            )
            .error_response()
        });
    };
    if !reads {
        let echoed = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|token| session.csrf_matches(token));
        if !echoed {
            return Err(forbidden(
                "the request did not carry the session's CSRF token (X-CSRF-Token): reload the page and try again",
            ));
        }
    }
    req.extensions_mut().insert(session.caller.clone());
    req.extensions_mut().insert(session);
    Ok(())
}

fn forbidden(message: &str) -> HttpResponse {
    ApiError::new(ErrorCode::CsrfRejected, message).error_response()
}

/// Whether a state-changing request comes from this server's own pages. Browsers send
/// `Sec-Fetch-Site` and, on a POST, `Origin`; a request with either naming another site is
/// refused. (A request with neither is not from a browser, which is all that CSRF abuses; it
/// still needs the session's token.)
///
/// `Origin`'s host and port must be the request's `Host`; its scheme is not compared, so that
/// the page works behind a proxy that ends TLS (and passes `Host` on). Another scheme on the
/// same host is still refused by `Sec-Fetch-Site`, which then says `same-site`.
fn same_origin(req: &HttpRequest) -> bool {
    let site = req
        .headers()
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or(""));
    if site.is_some_and(|site| site != "same-origin" && site != "none") {
        return false;
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let authority = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
    });
    authority.is_some() && authority == host
}

/// Whether this server speaks HTTPS (then the cookie is `Secure`).
fn serves_tls(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<Limits>>()
        .is_some_and(|limits| limits.serves_tls())
}

/// A redirect to the sign-in form, forgetting the cookie the request carried (a stale one).
/// Only then: a link followed from another site carries no `SameSite=Strict` cookie, and
/// removing it in that answer would sign the user out from anywhere.
pub fn to_sign_in(req: &HttpRequest) -> HttpResponse {
    let mut answer = HttpResponse::SeeOther();
    answer.insert_header((header::LOCATION, SIGN_IN));
    if req.cookie(COOKIE).is_some() {
        answer.cookie(removal(req));
    }
    answer.finish()
}

/// Whether a refused read should go to the sign-in form: a page the browser navigates to (or a
/// client that does not say). A script's fetch (`Sec-Fetch-Mode: cors`) gets a 401 instead, so
/// it never mistakes the sign-in page for what it asked.
fn navigates(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-mode")
        .is_none_or(|mode| mode == "navigate")
}

/// The cookie of a session just begun: only for this server's `/ui` paths, out of scripts'
/// reach, never sent with a request from another site, `Secure` under HTTPS, gone when the
/// session expires.
pub fn cookie<'a>(req: &HttpRequest, token: &'a str) -> Cookie<'a> {
    Cookie::build(COOKIE, token)
        .path(PREFIX)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(serves_tls(req))
        .max_age(time::Duration::seconds(LIFETIME.as_secs() as i64))
        .finish()
}

/// The instruction to forget the session cookie.
pub fn removal(req: &HttpRequest) -> Cookie<'static> {
    let mut gone = cookie(req, "").into_owned();
    gone.make_removal();
    gone
}

/// The session the gate admitted the request with.
pub fn of(req: &HttpRequest) -> Result<Session, ApiError> {
    req.extensions()
        .get::<Session>()
        .cloned()
        .ok_or_else(|| ApiError::internal("a status page reached without a session"))
}
