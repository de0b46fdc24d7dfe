//! What the status page (`/ui/`) reads: each page in one read transaction, so that what it
//! shows is one consistent moment of the store.

use std::collections::HashMap;

use super::data_sources::resolve;
use super::{AppError, AppState};
use crate::domain::ids::DataSourceId;
use crate::store::{
    DataSourceRow, Lock, Page, PermissionRow, RecentTest, RoleRow, SchemaSnapshotRow,
    TestHistoryRow, TestReportRow,
};

/// Results per data source the fleet's sparklines draw.
pub const SPARKLINE_TESTS: i64 = 20;

/// Every data source, with its last report (only while it is the report of its last test:
/// see [`current_report`]) and its newest results, oldest first.
pub struct Fleet {
    pub rows: Vec<DataSourceRow>,
    pub reports: HashMap<DataSourceId, TestReportRow>,
    pub recent: HashMap<DataSourceId, Vec<RecentTest>>,
}

pub async fn fleet(app: &AppState) -> Result<Fleet, AppError> {
    let (rows, reports, recent) = app
        .store
        .read(|tx| {
            Box::pin(async move {
                let rows = tx.data_sources(Page::ALL).await?;
                let reports = tx.test_reports(None).await?;
                let recent = tx.recent_tests(SPARKLINE_TESTS).await?;
                Ok::<_, AppError>((rows, reports, recent))
            })
        })
        .await?;
    let reports = reports
        .into_iter()
        .map(|r| (r.data_source_id.clone(), r))
        .collect();
    let mut by_source: HashMap<DataSourceId, Vec<RecentTest>> = HashMap::new();
    for test in recent {
        by_source
            .entry(test.data_source_id.clone())
            .or_default()
            .push(test);
    }
    Ok(Fleet {
        rows,
        reports,
        recent: by_source,
    })
}

/// The report of `row`'s last test, if it is still that (a change of destination forgets the
/// outcome, and with it the report).
pub fn current_report<'a>(
    row: &DataSourceRow,
    report: Option<&'a TestReportRow>,
) -> Option<&'a TestReportRow> {
    report.filter(|r| Some(r.tested_at) == row.last_tested_at)
}

/// One data source and everything its page shows.
pub struct DataSourcePage {
    pub row: DataSourceRow,
    pub report: Option<TestReportRow>,
    /// Newest first, at most the `history` asked for.
    pub history: Vec<TestHistoryRow>,
    pub snapshot: Option<SchemaSnapshotRow>,
    pub roles: Vec<RoleRow>,
    pub permissions: Vec<PermissionRow>,
}

/// The data source `key` (id, else alias) names, with its last test report, its newest
/// `history` results, its schema snapshot, roles and permissions.
pub async fn data_source(
    app: &AppState,
    key: &str,
    history: i64,
) -> Result<DataSourcePage, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let row = resolve(tx, &key, Lock::No).await?;
                let reports = tx.test_reports(Some(&row.id)).await?;
                let report = current_report(&row, reports.first()).cloned();
                Ok(DataSourcePage {
                    report,
                    history: tx.test_history(&row.id, 0, history).await?,
                    snapshot: tx.schema_snapshot(&row.id).await?,
                    roles: tx.data_source_roles(&row.id).await?,
                    permissions: tx.scoped_permissions(&row.id, None).await?,
                    row,
                })
            })
        })
        .await
}
