//! What the status page (`/ui/`) reads: the fleet with each data source's last test report and
//! recent durations, in one read each.

use std::collections::HashMap;

use super::data_sources::find;
use super::{AppError, AppState};
use crate::domain::ids::DataSourceId;
use crate::store::{DataSourceRow, Page, RecentTest, TestReportRow};

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
    let rows = super::data_sources::list(app, Page::ALL).await?;
    let (reports, recent) = app
        .store
        .read(|tx| {
            Box::pin(async move {
                let reports = tx.test_reports(None).await?;
                let recent = tx.recent_tests(SPARKLINE_TESTS).await?;
                Ok::<_, AppError>((reports, recent))
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

/// The data source `key` names and its last test report.
pub async fn data_source(
    app: &AppState,
    key: &str,
) -> Result<(DataSourceRow, Option<TestReportRow>), AppError> {
    let row = find(app, key).await?;
    let id = row.id.clone();
    let reports = app
        .store
        .read(move |tx| Box::pin(async move { tx.test_reports(Some(&id)).await }))
        .await?;
    let report = current_report(&row, reports.first()).cloned();
    Ok((row, report))
}
