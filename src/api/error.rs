//! The one error contract: every failure answers `{"error": {"message", "code"}}` as JSON.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::domain::Invalid;
use crate::store::{Entity, StoreError, Unique};

pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The body of every failure: `{"error": {"message", "code"}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"message": "no data source has the id or alias \"nope\"; GET /api/v2/data-source lists them", "code": "data_source_not_found"}}))]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// What went wrong and how to fix it; never contains a password.
    pub message: &'a str,
    /// A stable snake_case code, e.g. `data_source_not_found`.
    #[schema(pattern = "^[a-z][a-z0-9_]*$")]
    pub code: &'a str,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra response headers (`Allow`, `WWW-Authenticate`).
    headers: Vec<(header::HeaderName, &'static str)>,
    /// Close the connection after answering (a body was left half read).
    close: bool,
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
            close: false,
        }
    }

    /// This error, answered with `Connection: close`.
    pub fn closing_connection(mut self) -> Self {
        self.close = true;
        self
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

    pub fn data_source_not_found(key: &str) -> Self {
        Self::not_found(Entity::DataSource, key)
    }

    /// 404 for an object a path names, saying how it can be named and where to list them.
    pub fn not_found(entity: Entity, key: &str) -> Self {
        let (code, names, list) = match entity {
            Entity::DataSource => ("data_source_not_found", "id or alias", "/data-source"),
            Entity::Person => ("person_not_found", "id, username or email", "/person"),
            Entity::Role => ("role_not_found", "id or name", "/role"),
            Entity::Permission => ("permission_not_found", "id", "/permission"),
        };
        Self::new(
            StatusCode::NOT_FOUND,
            code,
            format!("no {entity} has the {names} {key:?}; GET /api/v2{list} lists them"),
        )
    }

    /// This error with another dialect's body (the Mode dialect's), keeping its status and
    /// headers.
    pub fn response_with(&self, content_type: &'static str, body: String) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, content_type));
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), HeaderValue::from_static(value)));
        }
        if self.close {
            response.force_close();
        }
        response.body(body)
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
        let body = ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                code: self.code,
            },
        };
        self.response_with(
            JSON_CONTENT_TYPE,
            serde_json::to_string(&body).unwrap_or_default(),
        )
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Taken { field, value } => {
                let (code, fix) = match field {
                    Unique::Alias => ("alias_taken", "choose another alias"),
                    Unique::Username => ("username_taken", "choose another username"),
                    Unique::Email => ("email_taken", "each person needs their own email (compared ignoring case)"),
                    Unique::RoleName => ("role_name_taken", "choose another role name"),
                };
                Self::new(
                    StatusCode::CONFLICT,
                    code,
                    format!("the {field} {value:?} is already taken: {fix}"),
                )
            }
            AppError::NotFound(entity, key) => Self::not_found(entity, &key),
            AppError::NotLocked(key) => Self::new(
                StatusCode::CONFLICT,
                "person_not_locked",
                format!("the person {key:?} must be locked before being deleted: lock them first (POST /api/v2/person/{key}/lock), then delete"),
            ),
            AppError::Invalid(invalid) => invalid.into(),
            AppError::Store(e) => Self::internal(e),
            AppError::Internal(cause) => Self::internal(cause),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::internal(err)
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
