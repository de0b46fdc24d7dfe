//! `GET /alerts` and `GET /data-source/:ds/incidents` (extensions, docs/alerts.md): each data
//! source's alert state with its open incident, and a data source's incidents.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::docs::{DataSourceKey, NotFound};
use super::error::{ApiError, ErrorCode};
use super::query;
use super::reply::json_ok;
use crate::app::alerts::{self, AlertEntry, Incident};
use crate::app::AppState;
use crate::domain::permission;

/// Every data source's alert state: `up`, `down` or `unknown` (never tested), with its open
/// incident (an extension).
#[utoipa::path(
    get,
    path = "/alerts",
    operation_id = "listAlerts",
    tag = "alerts",
    responses((status = 200, body = [AlertEntry], description = "Every data source, by id")),
)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    json_ok(&alerts::overview(&state).await?)
}

/// The query of `GET /data-source/:ds/incidents`; any other parameter is a 400.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IncidentsQuery {
    /// Only incidents open at or after this RFC 3339 timestamp (default: all kept).
    #[param(format = DateTime, example = "2026-11-01T00:00:00Z")]
    since: Option<String>,
}

/// A data source's incidents, newest first (an extension).
#[utoipa::path(
    get,
    path = "/data-source/{data_source}/incidents",
    operation_id = "listIncidents",
    tag = "alerts",
    params(DataSourceKey, IncidentsQuery),
    responses(
        (status = 200, body = [Incident], description = "Newest first"),
        (status = 404, response = NotFound),
    )
)]
pub async fn incidents(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    let parameters = query::parameters(req.query_string())?;
    query::refuse_unknown::<IncidentsQuery>(&parameters)?;
    let since = match parameters.get("since") {
        None => i64::MIN,
        Some(raw) => permission::parse_starts_at(raw).map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidArgument,
                "since must be an RFC 3339 timestamp, e.g. 2030-01-01T00:00:00Z",
            )
        })?,
    };
    json_ok(&alerts::incidents(&state, &key.data_source, since).await?)
}
