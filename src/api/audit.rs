//! The audit trail over HTTP: `GET /api/v2/audit` (an extension), and the extractor that tells
//! handlers who is acting, from where and when.

use std::collections::HashMap;
use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::docs::Timestamp;
use super::error::{ApiError, ErrorCode};
use super::list_stream::{self, Frame, Listing};
use super::query;
use crate::app::api_keys::Caller;
use crate::app::{audit, AppState};
use crate::domain::{permission, time};
use crate::store::{AuditContext, AuditFilter, AuditRow};

pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 10_000;

impl FromRequest for AuditContext {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::internal("application state missing")));
        };
        ready(Ok(AuditContext {
            api_key_id: req.extensions().get::<Caller>().map(|c| c.key_id.clone()),
            client_addr: req.peer_addr().map(|a| a.ip().to_canonical().to_string()),
            at: state.clock.now_millis(),
        }))
    }
}

/// One audit event: who changed or read what, from where and when; secrets removed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// An integer, rendered as a string; increases with every event.
    #[schema(pattern = "^[0-9]+$", example = "2")]
    pub id: String,
    #[schema(value_type = Timestamp)]
    pub at: String,
    /// The API key that acted; `null` for the command line.
    #[schema(required = true)]
    pub api_key_id: Option<String>,
    /// The client's address; `null` when unknown.
    #[schema(required = true, example = "127.0.0.1")]
    pub client_address: Option<String>,
    /// For example `data_source.update`, `permission.grant`, `connection.test`.
    #[schema(example = "data_source.update")]
    pub action: String,
    #[schema(example = "data_source")]
    pub object_type: String,
    pub object_id: String,
    /// What changed, never a secret's value.
    #[schema(value_type = Object)]
    pub changes: Value,
}

/// The query of `GET /audit`; any other parameter is a 400.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only events at or after this RFC 3339 timestamp.
    #[param(format = DateTime, example = "2026-11-01T00:00:00Z")]
    since: Option<String>,
    /// Only events before this RFC 3339 timestamp.
    #[param(format = DateTime)]
    until: Option<String>,
    /// Only events about this object (a data source, person, role or permission id).
    object_id: Option<String>,
    /// Only events with a larger id (a cursor).
    #[param(value_type = Option<i64>)]
    after: Option<String>,
    /// At most this many events (default 1000).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10_000)]
    limit: Option<String>,
}

impl From<&AuditRow> for AuditView {
    fn from(row: &AuditRow) -> Self {
        Self {
            id: row.id.to_string(),
            at: time::render_millis(row.at),
            api_key_id: row.api_key_id.clone(),
            client_address: row.client_addr.clone(),
            action: row.action.clone(),
            object_type: row.object_type.clone(),
            object_id: row.object_id.clone(),
            changes: row.changes.clone(),
        }
    }
}

/// The query of `GET /audit`, checked: unknown parameters and bad values are 400s.
/// The order the unknown-parameter message has always listed them in; a test keeps it equal, as
/// a set, to the fields of `AuditQuery`.
const ACCEPTED: &[&str] = &["since", "until", "objectId", "limit", "after"];

fn parse_filter(query: &HashMap<String, String>) -> Result<AuditFilter, ApiError> {
    if let Some(name) = query::unknown::<AuditQuery>(query) {
        return Err(ApiError::new(
            ErrorCode::UnknownArgument,
            format!(
                "unknown query parameter {name:?}: accepted are {}",
                ACCEPTED.join(", ")
            ),
        ));
    }
    let AuditQuery {
        since,
        until,
        object_id,
        after,
        limit,
    } = query::typed(query)?;
    let timestamp = |name: &'static str, value: Option<String>| -> Result<Option<i64>, ApiError> {
        value
            .map(|raw| {
                permission::parse_starts_at(&raw).map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidArgument,
                        format!("{name} must be an RFC 3339 timestamp, e.g. 2030-01-01T00:00:00Z"),
                    )
                })
            })
            .transpose()
    };
    // Checked in the order they always were: limit, after, since, until.
    let limit = query::limit(limit.as_deref(), MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let after_id = after
        .map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidArgument,
                    "after must be an audit event id (a whole number)",
                )
            })
        })
        .transpose()?;
    Ok(AuditFilter {
        since: timestamp("since", since)?,
        until: timestamp("until", until)?,
        object_id,
        after_id,
        before_id: None,
        limit,
        newest: false,
    })
}

/// The audit trail, oldest first (an extension).
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "listAudit",
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = [AuditView], description = "The matching events, oldest first"))
)]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let filter = parse_filter(&query)?;
    list_stream::respond(Listing {
        total: Some(filter.limit as u64),
        read: move |after, size| {
            let state = state.clone();
            let chunk = AuditFilter {
                after_id: after.or(filter.after_id),
                limit: size as usize,
                ..filter.clone()
            };
            async move { audit::read(&state, chunk).await }
        },
        position: |row| row.id,
        view: |row| Ok(AuditView::from(row)),
        frame: Frame::array(),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_parameters_are_the_query_structs_fields() {
        let mut listed = ACCEPTED.to_vec();
        let mut fields = query::accepted::<AuditQuery>().to_vec();
        listed.sort_unstable();
        fields.sort_unstable();
        assert_eq!(listed, fields);
    }

    #[test]
    fn bad_values_are_checked_in_their_old_order() {
        let query = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let err = parse_filter(&query(&[("since", "x"), ("limit", "0")])).unwrap_err();
        assert!(err.message.starts_with("limit must"), "{}", err.message);
        let err = parse_filter(&query(&[("since", "x"), ("after", "y")])).unwrap_err();
        assert!(err.message.starts_with("after must"), "{}", err.message);
        let err = parse_filter(&query(&[("until", "x"), ("since", "y")])).unwrap_err();
        assert!(err.message.starts_with("since must"), "{}", err.message);
        let err = parse_filter(&query(&[("sinse", "x")])).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownArgument);
        assert!(err
            .message
            .ends_with("since, until, objectId, limit, after"));
    }
}
