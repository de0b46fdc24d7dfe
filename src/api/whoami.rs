//! `GET /api/v2/whoami`: the calling API key.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::reply::json_ok;
use crate::app::api_keys::Caller;

/// The contract's whoami object: the API key making the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoamiView {
    /// The API key id (a UUID).
    #[schema(format = "uuid")]
    pub id: String,
    /// The key's name.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: KeyType,
}

/// The kind of credential: always `token` (an API key).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    Token,
}

/// The calling API key.
#[utoipa::path(
    get,
    path = "/whoami",
    operation_id = "whoami",
    tag = "identity",
    responses((status = 200, description = "The API key that signed the request", body = WhoamiView))
)]
pub async fn whoami(caller: Caller) -> Result<HttpResponse, ApiError> {
    json_ok(&WhoamiView {
        id: caller.key_id,
        name: caller.name,
        kind: KeyType::Token,
    })
}
