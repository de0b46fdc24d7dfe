//! What a success answers: a JSON body, `{}` or `{"count": n}`.

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, JSON_CONTENT_TYPE};

/// `{}`: what a deletion or a membership change answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyObject {}

/// `{"count": n}`: what a bulk deletion answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Count {
    /// How many objects were deleted.
    // Documented as `usize` (no `format`), as the document has always said.
    #[schema(value_type = usize)]
    pub count: u64,
}

pub fn json_ok(value: &impl Serialize) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, JSON_CONTENT_TYPE))
        .body(body))
}
