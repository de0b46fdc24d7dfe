//! Signing in with an API key (the same check and the same failed-login limits as the API),
//! and signing out.

use actix_web::http::{header, StatusCode};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{html, session, Chrome};
use crate::api::error::ApiError;
use crate::api::limits::{Limits, Refused};
use crate::app::{ui_sessions, AppState};
use crate::store::AuditContext;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    error: Option<String>,
    key_id: String,
}

fn page(
    status: StatusCode,
    error: Option<String>,
    key_id: String,
) -> Result<HttpResponse, ApiError> {
    let chrome = Chrome {
        title: "Sign in".into(),
        page: "",
        signed_in: false,
        key_name: String::new(),
        csrf: String::new(),
    };
    html(
        status,
        &SignInPage {
            chrome,
            error,
            key_id,
        },
    )
}

/// `GET /ui/sign-in`: the form.
pub async fn form() -> Result<HttpResponse, ApiError> {
    page(StatusCode::OK, None, String::new())
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(rename = "keyId", default)]
    key_id: String,
    #[serde(default)]
    secret: String,
}

/// `POST /ui/sign-in`: checks the key as the API does, counting failures per client address
/// as the API does (the same delays, the same 429 once blocked); on success a session cookie
/// and the fleet page.
pub async fn sign_in(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    ctx: AuditContext,
) -> Result<HttpResponse, ApiError> {
    // The API's reader: bounded in size and in time ([server] body_timeout).
    let body = crate::api::body::read(&req, payload).await?;
    let Ok(credentials) = serde_urlencoded::from_bytes::<Credentials>(&body) else {
        return page(
            StatusCode::BAD_REQUEST,
            Some("The form did not arrive as a form: send keyId and secret form-encoded.".into()),
            String::new(),
        );
    };
    let Credentials { key_id, secret } = credentials;
    let key_id = key_id.trim().to_owned();
    let attempt = async {
        state.keys.verify(&key_id, &secret).await?.ok_or_else(|| {
            ApiError::unauthorized("the API key id or secret is not valid, or the key was revoked")
        })
    };
    let presented = !key_id.is_empty() || !secret.is_empty();
    let caller = match limits
        .counted(req.peer_addr().map(|a| a.ip()), presented, attempt)
        .await
    {
        Ok(caller) => caller,
        Err(Refused::Failed(error)) => {
            let status = error.status;
            let message = if status == StatusCode::UNAUTHORIZED {
                "That API key id and secret do not match an active key. Check both (the secret is shown only when the key is created) and try again.".to_owned()
            } else {
                error.message.clone()
            };
            return page(status, Some(message), key_id);
        }
        Err(Refused::Blocked(blocked)) => {
            let (error, retry_after) = blocked.parts();
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                Some(format!(
                    "Too many failed sign-ins from this address: sign-in is refused for {retry_after} s. {}",
                    error.message
                )),
                key_id,
            )?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
            return Ok(response);
        }
    };
    let ctx = AuditContext {
        api_key_id: Some(caller.key_id.clone()),
        ..ctx
    };
    let held = req.cookie(session::COOKIE);
    let begun = ui_sessions::begin(&state, &ctx, &caller, held.as_ref().map(|c| c.value())).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/ui/"))
        .cookie(session::cookie(&req, &begun.token))
        .finish())
}

/// `POST /ui/sign-out`: ends the session everywhere, forgets the cookie.
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: AuditContext,
) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    ui_sessions::end(&state, &ctx, &session).await?;
    Ok(session::to_sign_in(&req))
}
