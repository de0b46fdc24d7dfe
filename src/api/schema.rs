//! `POST` and `GET /data-source/:ds/schema` (an extension): what is inside a connected
//! database. POST lists its schemas, tables, views and columns live, under the same deadline,
//! egress policy, TLS rules, test slots and per-key test rate as `/test`, and keeps the result
//! as the data source's snapshot; GET returns the last snapshot, filtered by `?schema=` and
//! `?table=`.

use actix_web::{web, HttpRequest, HttpResponse};
use jackal_drivers::{IntrospectionReport, ProbeFailure, ProbeReport, TableKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::connection_test::{render, TestResult, VersionView};
use super::docs::{DataSourceKey, NotFound};
use super::error::{ApiError, ErrorCode};
use super::limits::TestAllowance;
use super::query;
use super::reply::json_ok;
use crate::app::connection_tests::{self, StoredSnapshot};
use crate::app::{data_sources, AppState};
use crate::domain::time::render_millis;
use crate::store::{AuditContext, DataSourceRow, SchemaSnapshotRow};

/// A data source's schema snapshot: when it was taken, how long it took, what it holds.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaView {
    /// Always `true`: a snapshot is only kept when introspection worked.
    pub success: bool,
    pub data_source_id: String,
    /// When the snapshot was taken.
    #[schema(example = "2026-11-23T17:00:00.000Z")]
    pub fetched_at: String,
    /// How long connecting and listing took, in milliseconds.
    #[schema(minimum = 0)]
    pub duration_ms: i64,
    /// The server's product and version at the time.
    pub version: VersionView,
    /// Counts of what this answer holds (after `?schema=` and `?table=`).
    pub counts: SchemaCounts,
    /// Schemas by name, each with its tables and views by name.
    pub schemas: Vec<SchemaEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaCounts {
    pub schemas: usize,
    /// Tables, partitioned and foreign tables.
    pub tables: usize,
    /// Views and materialized views.
    pub views: usize,
    pub columns: usize,
}

/// A PostgreSQL schema, a MySQL/MariaDB database, or SQLite's `main`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaEntry {
    pub name: String,
    pub tables: Vec<TableEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TableEntry {
    pub name: String,
    pub kind: TableKindView,
    /// In declaration order.
    pub columns: Vec<ColumnEntry>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TableKindView {
    Table,
    View,
    MaterializedView,
    ForeignTable,
}

impl From<TableKind> for TableKindView {
    fn from(kind: TableKind) -> Self {
        match kind {
            TableKind::Table => Self::Table,
            TableKind::View => Self::View,
            TableKind::MaterializedView => Self::MaterializedView,
            TableKind::ForeignTable => Self::ForeignTable,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ColumnEntry {
    pub name: String,
    /// As the server writes it: `integer`, `numeric(10,2)`, `varchar(40)`; for SQLite the
    /// declared type, empty when none was declared.
    pub data_type: String,
    pub nullable: bool,
}

/// `?schema=` and `?table=`: exact names; a table filter alone looks in every schema.
#[derive(Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchemaQuery {
    /// Only the schema of this name.
    schema: Option<String>,
    /// Only tables and views of this name.
    table: Option<String>,
}

fn filter(req: &HttpRequest) -> Result<SchemaQuery, ApiError> {
    let query = query::parameters(req.query_string())?;
    if let Some(unknown) = query::unknown::<SchemaQuery>(&query) {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!("unknown query parameter {unknown:?}: the schema takes ?schema= and ?table="),
        ));
    }
    query::typed(&query)
}

fn view(row: &SchemaSnapshotRow, stored: StoredSnapshot, filter: &SchemaQuery) -> SchemaView {
    let mut counts = SchemaCounts {
        schemas: 0,
        tables: 0,
        views: 0,
        columns: 0,
    };
    let schemas: Vec<SchemaEntry> = stored
        .snapshot
        .schemas
        .into_iter()
        .filter(|s| filter.schema.as_ref().is_none_or(|name| *name == s.name))
        .filter_map(|s| {
            let tables: Vec<TableEntry> = s
                .tables
                .into_iter()
                .filter(|t| filter.table.as_ref().is_none_or(|name| *name == t.name))
                .map(|t| {
                    if t.kind.is_view() {
                        counts.views += 1;
                    } else {
                        counts.tables += 1;
                    }
                    counts.columns += t.columns.len();
                    TableEntry {
                        name: t.name,
                        kind: t.kind.into(),
                        columns: t
                            .columns
                            .into_iter()
                            .map(|c| ColumnEntry {
                                name: c.name,
                                data_type: c.data_type,
                                nullable: c.nullable,
                            })
                            .collect(),
                    }
                })
                .collect();
            // With a table filter, a schema without that table is left out.
            (filter.table.is_none() || !tables.is_empty()).then_some(SchemaEntry {
                name: s.name,
                tables,
            })
        })
        .collect();
    counts.schemas = schemas.len();
    SchemaView {
        success: true,
        data_source_id: row.data_source_id.to_string(),
        fetched_at: render_millis(row.fetched_at),
        duration_ms: row.duration_ms,
        version: VersionView::from(&stored.version),
        counts,
        schemas,
    }
}

/// A failed introspection as `POST /schema` answers it: `/test`'s failed result, with the data
/// source it is about (as a snapshot names it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaFailure {
    pub data_source_id: String,
    #[serde(flatten)]
    pub result: TestResult,
}

/// What `POST /schema` answers: the new snapshot, or why there is none.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SchemaRefresh {
    Fetched(SchemaView),
    Failed(SchemaFailure),
}

/// A failed introspection in `/test`'s shape: what failed and how to fix it.
fn failure(report: &IntrospectionReport, failure: &ProbeFailure) -> TestResult {
    render(&ProbeReport {
        outcome: Err(failure.clone()),
        ..crate::app::test_report::of_introspection(report)
    })
}

/// How one introspection of a stored data source ended, as served.
pub enum Introspected {
    /// The new snapshot, now kept.
    Fetched(SchemaView),
    /// What failed and how to fix it, in `/test`'s shape; the previous snapshot is kept.
    Failed(TestResult),
}

/// Introspects the data source `row` (see [`connection_tests::introspect`]); shared by
/// `POST /api/v2/data-source/:ds/schema` and the Mode dialect's `schema_updates`.
pub async fn introspect(
    state: &AppState,
    ctx: AuditContext,
    row: &DataSourceRow,
) -> Result<Introspected, ApiError> {
    Ok(
        match connection_tests::introspect(state, &ctx, row).await? {
            connection_tests::Introspected::Fetched(kept, stored) => {
                Introspected::Fetched(view(&kept, stored, &SchemaQuery::default()))
            }
            connection_tests::Introspected::Failed(report, f) => {
                Introspected::Failed(failure(&report, &f))
            }
        },
    )
}

/// A kept snapshot as served, whole.
pub fn stored_view(row: &SchemaSnapshotRow) -> Result<SchemaView, ApiError> {
    filtered_view(row, &SchemaQuery::default())
}

fn filtered_view(row: &SchemaSnapshotRow, filter: &SchemaQuery) -> Result<SchemaView, ApiError> {
    Ok(view(row, StoredSnapshot::parse(row)?, filter))
}

/// Lists the data source's schemas, tables, views and columns live and keeps them as its
/// snapshot (an extension).
#[utoipa::path(
    post,
    path = "/data-source/{data_source}/schema",
    operation_id = "refreshDataSourceSchema",
    tag = "data sources",
    params(DataSourceKey),
    responses(
        (status = 200, body = SchemaRefresh,
            description = "The new snapshot (`success: true`), or, when the database could not \
                be introspected, a failed test's result with the data source's id \
                (`success: false`, `dataSourceId`, `errorCode`, `message`); a failure keeps the \
                previous snapshot"),
        (status = 404, response = NotFound),
    )
)]
pub async fn refresh(
    _allowed: TestAllowance,
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    let row = data_sources::find(&state, &key).await?;
    json_ok(&match introspect(&state, ctx, &row).await? {
        Introspected::Fetched(view) => SchemaRefresh::Fetched(view),
        Introspected::Failed(result) => SchemaRefresh::Failed(SchemaFailure {
            data_source_id: row.id.to_string(),
            result,
        }),
    })
}

/// The data source's last schema snapshot (an extension); 404 `schema_not_fetched` when there
/// is none yet.
#[utoipa::path(
    get,
    path = "/data-source/{data_source}/schema",
    operation_id = "getDataSourceSchema",
    tag = "data sources",
    params(DataSourceKey, SchemaQuery),
    responses(
        (status = 200, body = SchemaView, description = "The last snapshot, filtered"),
        (status = 404, response = NotFound),
    )
)]
pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<DataSourceKey>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let filter = filter(&req)?;
    let key = key.into_inner().data_source;
    let Some(row) = connection_tests::snapshot(&state, &key).await?.1 else {
        return Err(ApiError::new(
            ErrorCode::SchemaNotFetched,
            format!(
                "the data source {key:?} has no schema snapshot yet: POST \
                 /api/v2/data-source/{key}/schema to fetch one"
            ),
        ));
    };
    json_ok(&filtered_view(&row, &filter)?)
}
