//! `GET /api/v2/whoami`: the calling API key.

use actix_web::HttpResponse;
use serde_json::json;

use super::error::ApiError;
use super::json_ok;
use crate::auth::Caller;

pub async fn whoami(caller: Caller) -> Result<HttpResponse, ApiError> {
    json_ok(&json!({"id": caller.key_id, "name": caller.name, "type": "token"}))
}
