//! The checks every `/api/v2` request passes, in the contract's order: User-Agent, Accept,
//! authentication (the gate, [`super::gate`], runs them before routing).

use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::web;
use base64::Engine;

use super::error::{ApiError, ErrorCode};
use crate::app::api_keys;
use crate::app::AppState;

pub const API_PREFIX: &str = "/api/v2";

/// The one path that may answer `application/x-ndjson` too.
const TEST_RUN_PATH: &str = "/api/v2/test-run";

const ACCEPTED_MEDIA_TYPES: &[&str] = &[
    "*/*",
    "application/*",
    "application/json",
    "application/vnd.jackdb.v2+json",
];

/// User-Agent, then Accept (contract §1).
pub fn check_headers(req: &ServiceRequest) -> Result<(), ApiError> {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| v.to_str().unwrap_or("x"));
    if user_agent.is_none_or(|ua| ua.trim().is_empty()) {
        return Err(ApiError::new(ErrorCode::MissingUserAgent,
            "a User-Agent header is required: name your script or tool, e.g. User-Agent: deploy-script/1.0",
        ));
    }
    if let Some(accept) = req.headers().get(header::ACCEPT) {
        let accept = accept.to_str().unwrap_or("");
        // A fleet test may also stream its results as NDJSON.
        let streams = req.path() == TEST_RUN_PATH && accept.contains(super::test_run::NDJSON);
        if !accept.trim().is_empty() && !accepts_json(accept) && !streams {
            return Err(ApiError::new(ErrorCode::NotAcceptable,
                format!(
                    "this server answers application/vnd.jackdb.v2+json or application/json; the Accept header {accept:?} allows neither"
                ),
            ));
        }
    }
    Ok(())
}

/// Whether an `Accept` list names a type we serve with a q-value above zero.
fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused && ACCEPTED_MEDIA_TYPES.contains(&media.as_str())
    })
}

/// The user and password of an `Authorization: Basic base64(<user>:<password>)` header;
/// `None` when there is none, or it is not Basic or not base64 of UTF-8 `user:password`.
pub fn basic_user_and_password(req: &ServiceRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())?;
    let (user, secret) = decoded.split_once(':')?;
    Some((user.to_owned(), secret.to_owned()))
}

/// The key id and secret from `Authorization: Basic base64(<keyId>@api:<secret>)`.
fn basic_credentials(req: &ServiceRequest) -> Result<(String, String), ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "authentication required: send HTTP Basic auth with the user <keyId>@api and the key's secret as the password (curl -u \"$ID@api:$SECRET\")",
        )
    };
    let (user, secret) = basic_user_and_password(req).ok_or_else(missing)?;
    let (key_id, realm) = user.rsplit_once('@').ok_or_else(|| {
        ApiError::unauthorized("the Basic auth user must be <keyId>@api, e.g. 0b6f1c2e-...@api")
    })?;
    if realm != "api" {
        return Err(ApiError::unauthorized(
            "the Basic auth user must be <keyId>@api, e.g. 0b6f1c2e-...@api",
        ));
    }
    Ok((key_id.to_owned(), secret.to_owned()))
}

/// The calling key, from `<keyId>@api:<secret>`.
pub async fn authenticate(req: &ServiceRequest) -> Result<api_keys::Caller, ApiError> {
    let (key_id, secret) = basic_credentials(req)?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state missing"))?;
    state.keys.verify(&key_id, &secret).await?.ok_or_else(|| {
        ApiError::unauthorized("the API key id or secret is not valid, or the key was revoked")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists_and_q_values() {
        for ok in [
            "*/*",
            "application/json",
            "application/vnd.jackdb.v2+json",
            "text/html, application/json;q=0.9",
            "APPLICATION/JSON; charset=utf-8",
            "application/*",
        ] {
            assert!(accepts_json(ok), "{ok}");
        }
        for refused in [
            "text/html",
            "application/vnd.jackdb.v1+json",
            "application/json;q=0",
            "application/xml",
        ] {
            assert!(!accepts_json(refused), "{refused}");
        }
    }
}
