//! `GET /data-source/:ds/test-history` (an extension): a data source's recent test results,
//! newest first, as kept by `[test] history` (tests by hand, fleet runs, introspections).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::docs::{DataSourceKey, NotFound, Timestamp};
use super::error::{ApiError, ErrorCode};
use super::query;
use super::reply::json_ok;
use crate::app::{connection_tests, AppState};
use crate::domain::{permission, time};

/// The most results one answer holds.
const MAX_LIMIT: usize = 10_000;

/// The query of `GET /data-source/:ds/test-history`; any other parameter is a 400.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HistoryQuery {
    /// Only results at or after this RFC 3339 timestamp.
    #[param(format = DateTime, example = "2026-11-01T00:00:00Z")]
    since: Option<String>,
    /// At most this many (default and most: every result kept, up to 10000).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10_000)]
    limit: Option<String>,
}

/// One kept result.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    #[schema(value_type = Timestamp)]
    pub tested_at: String,
    pub success: bool,
    /// On failure: the classified cause, as `/test` names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub duration_ms: f64,
    /// On success: the product and its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_version: Option<String>,
}

/// The query's `since` (epoch ms) and `limit`.
fn parse(req: &HttpRequest) -> Result<(i64, usize), ApiError> {
    let parameters = query::parameters(req.query_string())?;
    query::refuse_unknown::<HistoryQuery>(&parameters)?;
    let limit =
        query::limit(parameters.get("limit").map(String::as_str), MAX_LIMIT)?.unwrap_or(MAX_LIMIT);
    let since = match parameters.get("since") {
        None => i64::MIN,
        Some(raw) => permission::parse_starts_at(raw).map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidArgument,
                "since must be an RFC 3339 timestamp, e.g. 2030-01-01T00:00:00Z",
            )
        })?,
    };
    Ok((since, limit))
}

/// A data source's recent test results, newest first (an extension).
#[utoipa::path(
    get,
    path = "/data-source/{data_source}/test-history",
    operation_id = "getTestHistory",
    tag = "data sources",
    params(DataSourceKey, HistoryQuery),
    responses(
        (status = 200, body = [HistoryEntry], description = "Newest first"),
        (status = 404, response = NotFound),
    )
)]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    let (since, limit) = parse(&req)?;
    let (_, rows) = connection_tests::history(&state, &key, since, limit as i64).await?;
    let entries: Vec<HistoryEntry> = rows
        .into_iter()
        .map(|row| HistoryEntry {
            tested_at: time::render_millis(row.tested_at),
            success: row.success,
            error_code: row.error_code,
            duration_ms: (row.duration_us as f64 / 100.0).round() / 10.0,
            product_name: row.product_name,
            product_version: row.product_version,
        })
        .collect();
    json_ok(&entries)
}
