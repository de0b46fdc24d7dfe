//! `POST /test-run` (an extension): test many saved data sources at once. Not under
//! `/data-source/`, where `POST /data-source/test` already means "update the data source whose
//! alias is test".
//!
//! The run itself takes one test of the key's allowance, like any test, so a key out of tests
//! gets its 429 before anything is read; what each data source of the run costs is the use
//! case's rule ([`test_runs::spend_allowance`]).

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::stream;
use serde::Serialize;
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};

use super::connection_test::{render, TestResult};
use super::error::{ApiError, ErrorCode};
use super::limits::{Limits, TestAllowance};
use super::reply::json_ok;
use crate::app::api_keys::Caller;
use crate::app::test_runs::{self, Outcome, RunEvent, RunResult, Selection, Summary};
use crate::app::AppState;
use crate::store::AuditContext;

/// The media type of a streamed run: one JSON object per line.
pub const NDJSON: &str = "application/x-ndjson";

/// Which data sources to test; none: every one. `dataSource` and `role` do not go together
/// (400 `invalid_argument`): OpenAPI gives each query parameter a schema of its own, so this is
/// said in their descriptions.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RunQuery {
    /// A data source's id or alias; repeat it for more. Not with `role`: 400.
    #[param(rename = "dataSource")]
    data_source: Option<Vec<String>>,
    /// A role's id or name: the data sources in it. Once, and not with `dataSource`: 400.
    role: Option<String>,
}

/// The data source a result is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataSourceRef {
    pub id: String,
    #[schema(required = true)]
    pub alias: Option<String>,
    pub name: String,
}

/// One data source's result: `/test`'s result with the data source, or why it was skipped.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunLine {
    pub data_source: DataSourceRef,
    /// Present when it was not tested: why (the key's test allowance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The test's result (absent when skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<TestResult>,
}

/// How the run ended.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    /// The whole run, in milliseconds.
    pub duration_ms: u64,
}

/// The answer without streaming: every result, in the order they finished, then the summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunAnswer {
    pub results: Vec<RunLine>,
    pub summary: RunSummary,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    summary: &'a RunSummary,
}

fn line(result: &RunResult) -> RunLine {
    let (skipped, result_view) = match &result.outcome {
        Outcome::Tested(report) => (None, Some(render(report))),
        Outcome::Skipped(why) => (Some(why.clone()), None),
    };
    RunLine {
        data_source: DataSourceRef {
            id: result.row.id.to_string(),
            alias: result.row.alias.clone(),
            name: result.row.name.clone(),
        },
        skipped,
        result: result_view,
    }
}

fn summary_view(summary: &Summary) -> RunSummary {
    RunSummary {
        total: summary.total,
        succeeded: summary.succeeded,
        failed: summary.failed,
        skipped: summary.skipped,
        duration_ms: summary.duration.as_millis() as u64,
    }
}

/// The selection the query string names: `dataSource` (repeatable) or `role`, not both.
fn selection(query: &str) -> Result<Selection, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidArgument,
            "the query string is not valid form encoding (name=value&name=value)",
        )
    })?;
    let mut selection = Selection::default();
    for (name, value) in pairs {
        match name.as_str() {
            "dataSource" => selection.data_sources.push(value),
            "role" if selection.role.is_none() => selection.role = Some(value),
            "role" => {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    "role: give one role (repeat dataSource for several data sources)",
                ))
            }
            other => {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("unknown query parameter {other:?}: test-run takes dataSource (repeatable) or role"),
                ))
            }
        }
    }
    if selection.role.is_some() && !selection.data_sources.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "give dataSource or role, not both",
        ));
    }
    Ok(selection)
}

/// Whether the caller asked for the streamed form.
fn wants_ndjson(req: &HttpRequest) -> bool {
    // Every Accept header: a client may send its usual one and add this one.
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|accept| accept.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(NDJSON)
        })
}

/// Tests every data source, or those `dataSource` or `role` names, at once (an extension).
/// With `Accept: application/x-ndjson` each result is a line sent the moment its test ends,
/// then a `{"summary": …}` line; otherwise one JSON object at the end. `dataSource` and `role`
/// together are a 400.
#[utoipa::path(
    post,
    path = "/test-run",
    operation_id = "testRun",
    tag = "data sources",
    params(RunQuery),
    responses(
        (status = 200, body = RunAnswer,
            description = "Every result, then the summary; with Accept: application/x-ndjson, one line per result as it ends, then a summary line"),
        (status = 404, response = super::docs::NotFound),
    )
)]
pub async fn run(
    // First, so a key over `[limits] tests_per_minute` gets its 429 before anything else.
    _allowed: TestAllowance,
    req: HttpRequest,
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    caller: Caller,
    ctx: AuditContext,
) -> Result<HttpResponse, ApiError> {
    let selection = selection(req.query_string())?;
    let rows = test_runs::select(&state, &selection).await?;
    let (to_test, skipped) =
        test_runs::spend_allowance(rows, || limits.take_test(&caller.key_id).is_ok());
    let events = test_runs::start(state.clone(), ctx, selection, to_test, skipped);
    if wants_ndjson(&req) {
        return Ok(HttpResponse::Ok()
            .content_type(NDJSON)
            .streaming(ndjson(events)));
    }
    let mut events = events;
    let mut results = Vec::new();
    let mut summary = None;
    while let Some(event) = events.recv().await {
        match event {
            RunEvent::Result(result) => results.push(line(&result)),
            RunEvent::Summary(s) => summary = Some(summary_view(&s)),
        }
    }
    let summary =
        summary.ok_or_else(|| ApiError::internal("the test run ended without a summary"))?;
    json_ok(&RunAnswer { results, summary })
}

/// The run's events as NDJSON lines.
fn ndjson(
    events: mpsc::Receiver<RunEvent>,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    stream::unfold(events, |mut events| async move {
        let event = events.recv().await?;
        let mut text = match &event {
            RunEvent::Result(result) => serde_json::to_vec(&line(result)),
            RunEvent::Summary(summary) => serde_json::to_vec(&SummaryLine {
                summary: &summary_view(summary),
            }),
        }
        .unwrap_or_default();
        text.push(b'\n');
        Some((Ok(Bytes::from(text)), events))
    })
}
