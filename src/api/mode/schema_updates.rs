//! `/data_sources/{token}/schema_updates` and `/purge`: introspection and forgetting, in Mode's
//! words.

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Value};

use crate::api::connection_test::TestResult;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::limits::Limits;
use crate::api::schema::{self, Introspected, SchemaView};
use crate::app::api_keys::Caller;
use crate::app::data_sources;
use crate::app::{connection_tests, AppState};
use crate::domain::time::render_millis;
use crate::store::{AuditContext, DataSourceRow, SchemaSnapshotRow};

use super::error::*;
use super::hal::*;

/// Mode's DataSourceSchemaUpdate: how one introspection ended, run synchronously.
#[derive(Debug, Serialize)]
pub(super) struct SchemaUpdate {
    /// `succeeded` or `failed`.
    state: &'static str,
    data_source_id: i64,
    data_source_token: String,
    created_at: String,
    completed_at: String,
    duration_ms: i64,
    /// On success: the server's product and version, e.g. `PostgreSQL 16.4`.
    server_version: Option<String>,
    schema_count: Option<usize>,
    table_count: Option<usize>,
    view_count: Option<usize>,
    column_count: Option<usize>,
    /// On failure: the connection test's error code, e.g. `refused`.
    error_code: Option<Value>,
    error_message: Option<String>,
    #[serde(rename = "_links")]
    links: SchemaUpdateLinks,
}

#[derive(Debug, Serialize)]
pub(super) struct SchemaUpdateLinks {
    /// The latest schema update on record (the last successful one).
    #[serde(rename = "self")]
    this: Link,
    data_source: Link,
}

impl SchemaUpdate {
    fn links(row: &DataSourceRow, paths: &Paths<'_>) -> SchemaUpdateLinks {
        SchemaUpdateLinks {
            this: link(paths.schema_updates(row.id.as_str())),
            data_source: link(paths.data_source(row.id.as_str())),
        }
    }

    fn fetched(row: &DataSourceRow, paths: &Paths<'_>, started: i64, view: &SchemaView) -> Self {
        Self {
            state: "succeeded",
            data_source_id: row.seq,
            data_source_token: row.id.to_string(),
            created_at: render_millis(started),
            completed_at: render_millis(started.saturating_add(view.duration_ms)),
            duration_ms: view.duration_ms,
            server_version: Some(format!(
                "{} {}",
                view.version.product_name, view.version.product_version
            )),
            schema_count: Some(view.counts.schemas),
            table_count: Some(view.counts.tables),
            view_count: Some(view.counts.views),
            column_count: Some(view.counts.columns),
            error_code: None,
            error_message: None,
            links: Self::links(row, paths),
        }
    }

    fn failed(
        row: &DataSourceRow,
        paths: &Paths<'_>,
        started: i64,
        ended: i64,
        result: &TestResult,
    ) -> Self {
        Self {
            state: "failed",
            data_source_id: row.seq,
            data_source_token: row.id.to_string(),
            created_at: render_millis(started),
            completed_at: render_millis(ended),
            duration_ms: result.duration_ms.round() as i64,
            server_version: None,
            schema_count: None,
            table_count: None,
            view_count: None,
            column_count: None,
            error_code: result
                .error_code
                .and_then(|code| serde_json::to_value(code).ok()),
            error_message: result.message.clone(),
            links: Self::links(row, paths),
        }
    }
}

/// `POST /api/{workspace}/data_sources/{token}/schema_updates`: introspects the database now
/// (as `POST /api/v2/data-source/:ds/schema`) and answers how it went, 200 either way.
pub async fn run_schema_update(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ModeError> {
    let (paths, row) = located(&state, path.into_inner()).await?;
    take_test(&req)?;
    let started = ctx.at;
    let update = match schema::introspect(&state, ctx, &row).await? {
        Introspected::Fetched(view) => SchemaUpdate::fetched(&row, &paths, started, &view),
        Introspected::Failed(result) => {
            SchemaUpdate::failed(&row, &paths, started, state.clock.now_millis(), &result)
        }
    };
    hal(StatusCode::OK, &update)
}

/// Spends one connection test of the caller's allowance (`[limits] tests_per_minute`).
pub(super) fn take_test(req: &HttpRequest) -> Result<(), ModeError> {
    let (Some(limits), Some(caller)) = (
        req.app_data::<web::Data<Limits>>(),
        req.extensions().get::<Caller>().cloned(),
    ) else {
        return Err(ApiError::internal("schema update reached without limits or a caller").into());
    };
    limits.take_test(&caller.key_id).map_err(|refused| {
        let (error, retry_after) = refused.parts();
        ModeError {
            error: error.clone(),
            retry_after: Some(retry_after),
        }
    })
}

/// `GET /api/{workspace}/data_sources/{token}/schema_updates`: the latest schema update on
/// record, i.e. the last successful one (a failure keeps the previous snapshot).
pub async fn last_schema_update(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ModeError> {
    let token = path.1.clone();
    let (paths, row) = located(&state, path.into_inner()).await?;
    let Some(snapshot): Option<SchemaSnapshotRow> =
        connection_tests::snapshot(&state, row.id.as_str()).await?.1
    else {
        return Err(ApiError::new(
            ErrorCode::SchemaNotFetched,
            format!(
                "the data source {token:?} has had no schema update yet: POST {} to run one",
                paths.schema_updates(row.id.as_str())
            ),
        )
        .into());
    };
    let view = schema::stored_view(&snapshot)?;
    hal(
        StatusCode::OK,
        &SchemaUpdate::fetched(&row, &paths, snapshot.fetched_at, &view),
    )
}

/// `POST /api/{workspace}/data_sources/{token}/purge`: 202, having removed what Jackal keeps
/// from running things against the data source: its schema snapshot and its last test outcome.
pub async fn purge(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ModeError> {
    let (workspace_name, token) = path.into_inner();
    let paths = workspace(&state, &workspace_name)?;
    let (row, snapshot, test_result) = data_sources::purge_results(&state, &ctx, &token)
        .await
        .map_err(|e| in_mode_words(e, &paths, &token))?;
    hal(
        StatusCode::ACCEPTED,
        &json!({
            "state": "completed",
            "data_source_token": row.id.as_str(),
            "purged": {"schema_snapshot": snapshot, "test_result": test_result},
            "_links": {"data_source": link(paths.data_source(row.id.as_str()))},
        }),
    )
}
