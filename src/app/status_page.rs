//! What the status page (`/ui/`) reads: each page in one read transaction, so that what it
//! shows is one consistent moment of the store.

use std::collections::{BTreeSet, HashMap};

use super::data_sources::resolve;
use super::{AppError, AppState};
use crate::domain::ids::DataSourceId;
use crate::store::{
    AuditRow, DataSourceRow, FailureRun, Lock, Page, PermissionRow, RecentTest, RoleRow,
    SchemaSnapshotRow, TestHistoryRow, TestReportRow,
};

/// Results per data source the fleet's sparklines draw.
pub const SPARKLINE_TESTS: i64 = 20;

/// Every data source, with its last report (only while it is the report of its last test:
/// see [`current_report`]) and its newest results, oldest first.
pub struct Fleet {
    pub rows: Vec<DataSourceRow>,
    pub reports: HashMap<DataSourceId, TestReportRow>,
    pub recent: HashMap<DataSourceId, Vec<RecentTest>>,
    /// Each failing data source's current run of failures.
    pub failing: HashMap<DataSourceId, FailureRun>,
    /// How many results the history keeps per data source.
    pub kept: usize,
}

/// Since when a data source is down: the first failure of its current run of failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownSince {
    pub at: i64,
    /// The history kept holds only failures and is full: the run may have begun earlier.
    pub at_least: bool,
}

/// When `row` went down, if it is down now (its last outcome a failure) and its history shows
/// the run; `kept` is how many results the history keeps.
pub fn down_since(row: &DataSourceRow, run: Option<&FailureRun>, kept: usize) -> Option<DownSince> {
    let run = run.filter(|_| row.last_test_ok == Some(false))?;
    Some(DownSince {
        at: run.since,
        at_least: !run.after_success && run.failures >= kept as i64,
    })
}

pub async fn fleet(app: &AppState) -> Result<Fleet, AppError> {
    let (rows, reports, recent, runs) = app
        .store
        .read(|tx| {
            Box::pin(async move {
                let rows = tx.data_sources(Page::ALL).await?;
                let reports = tx.test_reports(None).await?;
                let recent = tx.recent_tests(SPARKLINE_TESTS).await?;
                let runs = tx.failure_runs(None).await?;
                Ok::<_, AppError>((rows, reports, recent, runs))
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
        failing: runs
            .into_iter()
            .map(|r| (r.data_source_id.clone(), r))
            .collect(),
        kept: app.history,
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
    pub down_since: Option<DownSince>,
}

/// The data source `key` (id, else alias) names, with its last test report, its newest
/// `history` results, its schema snapshot, roles and permissions.
pub async fn data_source(
    app: &AppState,
    key: &str,
    history: i64,
) -> Result<DataSourcePage, AppError> {
    let key = key.to_owned();
    let kept = app.history;
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let row = resolve(tx, &key, Lock::No).await?;
                let reports = tx.test_reports(Some(&row.id)).await?;
                let report = current_report(&row, reports.first()).cloned();
                let runs = tx.failure_runs(Some(&row.id)).await?;
                Ok(DataSourcePage {
                    down_since: down_since(&row, runs.first(), kept),
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

/// The names the audit trail shows for the ids its events hold: API keys (revoked ones too),
/// and the data sources, people and roles that still exist.
#[derive(Debug, Default)]
pub struct Names {
    pub keys: HashMap<String, String>,
    pub data_sources: HashMap<String, String>,
    pub people: HashMap<String, String>,
    pub roles: HashMap<String, String>,
}

/// The ids `events` name, as objects or in their changes (`dataSourceId`, `personId`).
fn named_ids(events: &[AuditRow]) -> [BTreeSet<String>; 3] {
    let mut ids: [BTreeSet<String>; 3] = Default::default();
    let [data_sources, people, roles] = &mut ids;
    for event in events {
        match event.object_type.as_str() {
            "data_source" => data_sources.insert(event.object_id.clone()),
            "person" => people.insert(event.object_id.clone()),
            "role" => roles.insert(event.object_id.clone()),
            _ => false,
        };
        let mentioned = |field: &str| event.changes.get(field).and_then(|v| v.as_str());
        if let Some(id) = mentioned("dataSourceId") {
            data_sources.insert(id.to_owned());
        }
        if let Some(id) = mentioned("personId") {
            people.insert(id.to_owned());
        }
    }
    ids
}

/// The names of what `events` name, read in one transaction (a page holds at most a hundred
/// events, so a few lookups by key).
pub async fn names(app: &AppState, events: &[AuditRow]) -> Result<Names, AppError> {
    let [data_sources, people, roles] = named_ids(events);
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let mut names = Names {
                    keys: tx
                        .api_keys()
                        .await?
                        .into_iter()
                        .map(|k| (k.id, k.name))
                        .collect(),
                    ..Names::default()
                };
                for id in data_sources {
                    if let Some(row) = tx.data_source(&id, Lock::No).await? {
                        names.data_sources.insert(id, row.name);
                    }
                }
                for id in people {
                    if let Some(row) = tx.person(&id, Lock::No).await? {
                        names.people.insert(id, row.name);
                    }
                }
                for id in roles {
                    if let Some(row) = tx.role(&id, Lock::No).await? {
                        names.roles.insert(id, row.name);
                    }
                }
                Ok::<_, AppError>(names)
            })
        })
        .await
}
