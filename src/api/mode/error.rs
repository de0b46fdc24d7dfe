//! Mode's error shape: `{"id", "message"}`, the id being the JackDB API's error code.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::api::error::{ApiError, ErrorCode};
use crate::app::AppError;
use crate::domain::Invalid;
use crate::store::StoreError;

use super::HAL_CONTENT_TYPE;

/// An error in Mode's shape, keeping its status and headers.
pub fn render_error(error: &ApiError) -> HttpResponse {
    error.response_with(
        HAL_CONTENT_TYPE,
        json!({"id": error.code, "message": error.message}).to_string(),
    )
}

/// A failure of a Mode handler, rendered in Mode's shape.
#[derive(Debug)]
pub struct ModeError {
    pub(super) error: ApiError,
    pub(super) retry_after: Option<u64>,
}

impl std::fmt::Display for ModeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for ModeError {
    fn status_code(&self) -> StatusCode {
        self.error.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = render_error(&self.error);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ApiError> for ModeError {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl From<StoreError> for ModeError {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<AppError> for ModeError {
    fn from(error: AppError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<Invalid> for ModeError {
    fn from(error: Invalid) -> Self {
        ApiError::from(error).into()
    }
}

pub(super) fn bad_request(code: ErrorCode, message: impl Into<String>) -> ModeError {
    ApiError::new(code, message).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_in_modes_shape() {
        let response = render_error(&ApiError::unauthorized("no"));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            HAL_CONTENT_TYPE
        );
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
