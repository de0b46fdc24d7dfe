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

/// Every error code the API answers, with its HTTP status: the one list. A new code is a new
/// line here; its string is the snake_case of the variant and never changes once released.
macro_rules! error_codes {
    ($($variant:ident = $code:literal => $status:ident,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

error_codes! {
    MissingUserAgent = "missing_user_agent" => BAD_REQUEST,
    MalformedRequest = "malformed_request" => BAD_REQUEST,
    InvalidArgument = "invalid_argument" => BAD_REQUEST,
    MissingArgument = "missing_argument" => BAD_REQUEST,
    UnknownArgument = "unknown_argument" => BAD_REQUEST,
    DuplicateArgument = "duplicate_argument" => BAD_REQUEST,
    TooManyArguments = "too_many_arguments" => BAD_REQUEST,
    InvalidJson = "invalid_json" => BAD_REQUEST,
    InvalidForm = "invalid_form" => BAD_REQUEST,
    InvalidBody = "invalid_body" => BAD_REQUEST,
    InvalidConfigUri = "invalid_config_uri" => BAD_REQUEST,
    Unauthorized = "unauthorized" => UNAUTHORIZED,
    TlsRequired = "tls_required" => FORBIDDEN,
    CsrfRejected = "csrf_rejected" => FORBIDDEN,
    RouteNotFound = "route_not_found" => NOT_FOUND,
    WorkspaceNotFound = "workspace_not_found" => NOT_FOUND,
    DataSourceNotFound = "data_source_not_found" => NOT_FOUND,
    PersonNotFound = "person_not_found" => NOT_FOUND,
    RoleNotFound = "role_not_found" => NOT_FOUND,
    PermissionNotFound = "permission_not_found" => NOT_FOUND,
    SchemaNotFetched = "schema_not_fetched" => NOT_FOUND,
    MethodNotAllowed = "method_not_allowed" => METHOD_NOT_ALLOWED,
    NotAcceptable = "not_acceptable" => NOT_ACCEPTABLE,
    BodyTimeout = "body_timeout" => REQUEST_TIMEOUT,
    RequestTimeout = "request_timeout" => REQUEST_TIMEOUT,
    AliasTaken = "alias_taken" => CONFLICT,
    UsernameTaken = "username_taken" => CONFLICT,
    EmailTaken = "email_taken" => CONFLICT,
    RoleNameTaken = "role_name_taken" => CONFLICT,
    PersonNotLocked = "person_not_locked" => CONFLICT,
    BodyTooLarge = "body_too_large" => PAYLOAD_TOO_LARGE,
    MisdirectedRequest = "misdirected_request" => MISDIRECTED_REQUEST,
    UnsupportedMediaType = "unsupported_media_type" => UNSUPPORTED_MEDIA_TYPE,
    RateLimited = "rate_limited" => TOO_MANY_REQUESTS,
    TooManyAuthFailures = "too_many_auth_failures" => TOO_MANY_REQUESTS,
    HeadersTooLarge = "headers_too_large" => REQUEST_HEADER_FIELDS_TOO_LARGE,
    InternalError = "internal_error" => INTERNAL_SERVER_ERROR,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
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
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
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

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
            .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"jackdb\"")
    }

    pub fn data_source_not_found(key: &str) -> Self {
        Self::not_found(Entity::DataSource, key)
    }

    /// 404 for an object a path names, saying how it can be named and where to list them.
    pub fn not_found(entity: Entity, key: &str) -> Self {
        let (code, names, list) = match entity {
            Entity::DataSource => (ErrorCode::DataSourceNotFound, "id or alias", "/data-source"),
            Entity::Person => (
                ErrorCode::PersonNotFound,
                "id, username or email",
                "/person",
            ),
            Entity::Role => (ErrorCode::RoleNotFound, "id or name", "/role"),
            Entity::Permission => (ErrorCode::PermissionNotFound, "id", "/permission"),
        };
        Self::new(
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
            ErrorCode::InternalError,
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
                code: self.code.as_str(),
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
                    Unique::Alias => (ErrorCode::AliasTaken, "choose another alias"),
                    Unique::Username => (ErrorCode::UsernameTaken, "choose another username"),
                    Unique::Email => (ErrorCode::EmailTaken, "each person needs their own email (compared ignoring case)"),
                    Unique::RoleName => (ErrorCode::RoleNameTaken, "choose another role name"),
                };
                Self::new(
                    code,
                    format!("the {field} {value:?} is already taken: {fix}"),
                )
            }
            AppError::NotFound(entity, key) => Self::not_found(entity, &key),
            AppError::NotLocked(key) => Self::new(
                ErrorCode::PersonNotLocked,
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
        Self::new(ErrorCode::InvalidArgument, err.message)
    }
}

impl From<jackal_drivers::UriError> for ApiError {
    fn from(err: jackal_drivers::UriError) -> Self {
        Self::new(ErrorCode::InvalidConfigUri, format!("configUri: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_fail() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} is listed twice");
            assert!(
                text.starts_with(|c: char| c.is_ascii_lowercase())
                    && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{text} is not snake_case"
            );
            assert!(
                code.status().is_client_error() || code.status().is_server_error(),
                "{text} answers {}",
                code.status()
            );
        }
    }

    #[test]
    fn the_drivers_uri_category_is_the_api_code() {
        assert_eq!(
            ErrorCode::InvalidConfigUri.as_str(),
            jackal_drivers::UriError::CATEGORY
        );
    }

    #[test]
    fn an_error_answers_its_codes_status_and_body() {
        let response = ApiError::new(ErrorCode::AliasTaken, "taken").error_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = ErrorBody {
            error: ErrorDetail {
                message: "taken",
                code: ErrorCode::AliasTaken.as_str(),
            },
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": {"message": "taken", "code": "alias_taken"}})
        );
    }
}
