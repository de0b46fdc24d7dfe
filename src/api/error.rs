//! The one error contract: every failure answers `{"error": {"message", "code"}}` as JSON.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::domain::Invalid;
use crate::store::StoreError;

pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra response headers (`Allow`, `WWW-Authenticate`).
    headers: Vec<(header::HeaderName, &'static str)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"jackdb\"")
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn data_source_not_found(key: &str) -> Self {
        Self::not_found(
            "data_source_not_found",
            format!(
                "no data source has the id or alias {key:?}; GET /api/v2/data-source lists them"
            ),
        )
    }

    /// An opaque 500; the cause goes to the log only, since it may name internals.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to handle this request; its log has the details",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = json!({"error": {"message": self.message, "code": self.code}});
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, JSON_CONTENT_TYPE));
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), HeaderValue::from_static(value)));
        }
        response.body(body.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::AliasTaken(alias) => Self::new(
                StatusCode::CONFLICT,
                "alias_taken",
                format!("the alias {alias:?} is already used by another data source: choose another alias"),
            ),
            other => Self::internal(other),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(err: Invalid) -> Self {
        Self::bad_request("invalid_argument", err.message)
    }
}

impl From<jackal_drivers::UriError> for ApiError {
    fn from(err: jackal_drivers::UriError) -> Self {
        Self::bad_request("invalid_config_uri", format!("configUri: {err}"))
    }
}
