//! Connection tests and introspection: run on the test pool (deadline, egress policy, the
//! caller's share of the slots), recorded in the metrics, the audit trail and, for a saved data
//! source, its last test outcome; an introspection's result kept as its schema snapshot.

use jackal_drivers::{
    ConnectionSpec, ErrorCode, IntrospectionReport, ProbeFailure, ProbeReport, SchemaSnapshot,
    ServerVersion,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::data_sources::{find, resolve, spec_with_password};
use super::{alerts, events, test_report, AppError, AppState};
use crate::domain::ids::DataSourceId;
use crate::metrics::DataSourceLabels;
use crate::store::{
    AuditContext, AuditEvent, DataSourceRow, Lock, SchemaSnapshotRow, TestHistoryRow, TestReportRow,
};

/// What a schema snapshot row holds: the version and the snapshot, as the drivers reported
/// them (this JSON is the stored format; stores written earlier hold the same).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredSnapshot {
    pub version: ServerVersion,
    #[serde(flatten)]
    pub snapshot: SchemaSnapshot,
}

impl StoredSnapshot {
    pub fn parse(row: &SchemaSnapshotRow) -> Result<Self, AppError> {
        serde_json::from_str(&row.snapshot).map_err(|e| {
            AppError::internal(format_args!(
                "stored schema snapshot of {} does not parse: {e}",
                row.data_source_id
            ))
        })
    }
}

/// Whose share of the test slots a test takes: the calling API key's.
fn tester(ctx: &AuditContext) -> &str {
    ctx.api_key_id.as_deref().unwrap_or("")
}

/// How a test ended, for the audit trail (never a password).
fn outcome<T>(outcome: &Result<T, ProbeFailure>, version: Option<&ServerVersion>) -> Value {
    match (outcome, version) {
        (Ok(_), Some(v)) => {
            json!({"success": true, "productName": v.product_name, "productVersion": v.product_version})
        }
        (Ok(_), None) => json!({"success": true}),
        (Err(f), _) => json!({"success": false, "errorCode": f.code.as_str()}),
    }
}

fn log(report: &ProbeReport, subject: &str) {
    let millis = report.duration.as_secs_f64() * 1000.0;
    match &report.outcome {
        Ok(v) => tracing::info!(
            subject,
            product = %v.product_name,
            version = %v.product_version,
            duration_ms = millis,
            "connection test succeeded"
        ),
        Err(f) => tracing::info!(
            subject,
            error_code = f.code.as_str(),
            duration_ms = millis,
            "connection test failed"
        ),
    }
}

/// Records a test in the audit trail and, for a saved data source (`saved`), its outcome on the
/// data source: one transaction, committed without waiting for the disk (tests are
/// observations that come in volume). A data source deleted while its test ran gets the audit
/// record only.
async fn record(
    app: &AppState,
    ctx: &AuditContext,
    event: Option<AuditEvent>,
    saved: Option<Tested>,
) -> Result<(), AppError> {
    let (ctx, at, keep) = (ctx.clone(), app.clock.now_millis(), app.history as i64);
    let alerting = app.alerts.clone();
    if let Some(tested) = &saved {
        let labels = DataSourceLabels {
            id: tested.id.as_str(),
            alias: tested.alias.as_deref(),
            kind: tested.kind.as_str(),
        };
        app.metrics
            .data_source_tested(&labels, tested.ok, tested.duration.as_secs_f64(), at);
    }
    app.store
        .write_observation(move |tx| {
            Box::pin(async move {
                if let Some(tested) = &saved {
                    let id = &tested.id;
                    // Deleted while it was tested (its history went with it), or pointed
                    // elsewhere: the result says nothing of what it is now, and must not mark
                    // the new destination as tested (which would let a fleet run reach it
                    // without spending the key's allowance).
                    let now = tx.data_source(id.as_str(), Lock::ForUpdate).await?;
                    let now = now.filter(|row| tested.destination == Destination::of(row));
                    if let Some(row) = now {
                        tx.set_test_outcome(id, Some((tested.ok, at))).await?;
                        tx.add_test_history(&tested.history_row(at), keep).await?;
                        tx.put_test_report(&TestReportRow {
                            data_source_id: id.clone(),
                            tested_at: at,
                            report: tested.report.clone(),
                        })
                        .await?;
                        let seen = alerts::Observation {
                            ok: tested.ok,
                            code: tested.error_code,
                            message: tested.message.as_deref(),
                            at,
                        };
                        alerts::observe(tx, &alerting, &row, seen).await?;
                    }
                }
                if let Some(event) = &event {
                    tx.record(&ctx, event).await?;
                }
                Ok(())
            })
        })
        .await
}

/// What a test was of: the configUri and the sealed secrets it used.
#[derive(PartialEq)]
struct Destination {
    config_uri: String,
    sealed: [Option<Vec<u8>>; 3],
}

impl Destination {
    fn of(row: &DataSourceRow) -> Destination {
        Destination {
            config_uri: row.config_uri.clone(),
            sealed: [
                row.password_enc.clone(),
                row.ssh_secret_enc.clone(),
                row.tls_secret_enc.clone(),
            ],
        }
    }
}

/// What a test of a saved data source leaves on it: its last outcome and a history entry.
struct Tested {
    destination: Destination,
    id: DataSourceId,
    alias: Option<String>,
    kind: String,
    ok: bool,
    error_code: Option<&'static str>,
    /// Why it failed, as `/test` says it (never a secret).
    message: Option<String>,
    duration: std::time::Duration,
    version: Option<(String, String)>,
    /// The result as `/test` shows it, kept for the status page.
    report: String,
}

impl Tested {
    fn of(row: &DataSourceRow, report: &ProbeReport) -> Tested {
        let (outcome, duration) = (&report.outcome, report.duration);
        let version = outcome.as_ref().ok();
        Tested {
            report: test_report::stored(report),
            destination: Destination::of(row),
            id: row.id.clone(),
            alias: row.alias.clone(),
            kind: row.kind.as_str().to_owned(),
            ok: outcome.is_ok(),
            error_code: outcome.as_ref().err().map(|f| f.code.as_str()),
            message: outcome.as_ref().err().map(|f| f.message.clone()),
            duration,
            version: version.map(|v| (v.product_name.clone(), v.product_version.clone())),
        }
    }

    fn history_row(&self, at: i64) -> TestHistoryRow {
        TestHistoryRow {
            data_source_id: self.id.clone(),
            tested_at: at,
            success: self.ok,
            error_code: self.error_code.map(str::to_owned),
            duration_us: i64::try_from(self.duration.as_micros()).unwrap_or(i64::MAX),
            product_name: self.version.as_ref().map(|v| v.0.clone()),
            product_version: self.version.as_ref().map(|v| v.1.clone()),
        }
    }
}

/// Tests the saved data source `key` names: connect, TLS, log in, ask the version, close. The
/// stored password goes only where the stored configUri points (updates that change type,
/// host, port or user drop it).
pub async fn test_saved(
    app: &AppState,
    ctx: &AuditContext,
    key: &str,
) -> Result<ProbeReport, AppError> {
    test_row(app, ctx, find(app, key).await?).await
}

/// [`test_saved`] of a data source already read.
pub async fn test_row(
    app: &AppState,
    ctx: &AuditContext,
    row: DataSourceRow,
) -> Result<ProbeReport, AppError> {
    test_row_recorded(app, ctx, row, true).await
}

/// A periodic test of the monitor: its last outcome, history and metrics, but no audit record
/// (it is nobody's action, and would flood the trail: a fleet of 2,000 tested every minute).
pub async fn test_row_unaudited(
    app: &AppState,
    ctx: &AuditContext,
    row: DataSourceRow,
) -> Result<ProbeReport, AppError> {
    test_row_recorded(app, ctx, row, false).await
}

async fn test_row_recorded(
    app: &AppState,
    ctx: &AuditContext,
    row: DataSourceRow,
    audited: bool,
) -> Result<ProbeReport, AppError> {
    let spec = spec_with_password(&row, &app.secrets)?;
    let report = app.probes.test(spec, tester(ctx)).await;
    log(&report, row.id.as_str());
    app.metrics.count_test(&report.outcome, &report.phases);
    let mut changes = outcome(&report.outcome, report.outcome.as_ref().ok());
    changes["address"] = json!(report.address.map(|a| a.to_string()));
    let event = events::connection_tested("data_source", row.id.as_str(), changes);
    let tested = Tested::of(&row, &report);
    record(app, ctx, audited.then_some(event), Some(tested)).await?;
    Ok(report)
}

/// Tests a configUri without saving it (an extension); one that does not parse is a failed
/// test (`invalid_uri`), recorded like the others.
pub async fn test_unsaved(
    app: &AppState,
    ctx: &AuditContext,
    parsed: Result<ConnectionSpec, jackal_drivers::UriError>,
) -> Result<ProbeReport, AppError> {
    let redacted = parsed.as_ref().ok().map(ConnectionSpec::to_redacted_uri);
    let report = match parsed {
        Ok(spec) => app.probes.test(spec, tester(ctx)).await,
        Err(e) => ProbeReport {
            outcome: Err(ProbeFailure::new(
                ErrorCode::InvalidUri,
                format!("configUri: {e}"),
            )),
            duration: std::time::Duration::ZERO,
            phases: Vec::new(),
            address: None,
            tls: None,
        },
    };
    log(&report, "unsaved");
    app.metrics.count_test(&report.outcome, &report.phases);
    let mut changes = outcome(&report.outcome, report.outcome.as_ref().ok());
    changes["address"] = json!(report.address.map(|a| a.to_string()));
    if let Some(uri) = &redacted {
        changes["configUri"] = json!(uri);
    }
    let subject = redacted.unwrap_or_else(|| "invalid configUri".to_owned());
    let event = events::connection_tested("connection_test", &subject, changes);
    record(app, ctx, Some(event), None).await?;
    Ok(report)
}

/// How one introspection of a saved data source ended.
pub enum Introspected {
    /// The new snapshot, now kept.
    Fetched(SchemaSnapshotRow, StoredSnapshot),
    /// What failed and how to fix it; the previous snapshot is kept.
    Failed(IntrospectionReport, ProbeFailure),
}

/// Lists the schemas, tables, views and columns of the data source `row` live (under the test
/// deadline, egress policy and TLS rules) and keeps them as its snapshot. Records the outcome
/// in the audit trail, the metrics and the data source's last test outcome. The caller has
/// spent a test from the key's allowance.
pub async fn introspect(
    app: &AppState,
    ctx: &AuditContext,
    row: &DataSourceRow,
) -> Result<Introspected, AppError> {
    let spec = spec_with_password(row, &app.secrets)?;
    let fetched_at = ctx.at;
    let report = app.probes.introspect(spec, tester(ctx)).await;
    let changes = match &report.outcome {
        Ok((_, snapshot)) => json!({
            "success": true,
            "schemas": snapshot.schemas.len(),
            "tables": snapshot.table_count(),
            "views": snapshot.view_count(),
            "columns": snapshot.column_count(),
        }),
        Err(f) => json!({"success": false, "errorCode": f.code.as_str()}),
    };
    app.metrics.count_test(&report.outcome, &report.phases);
    let event = events::data_source_introspected(&row.id, changes);
    let tested = Tested::of(row, &test_report::of_introspection(&report));
    record(app, ctx, Some(event), Some(tested)).await?;
    let (version, snapshot) = match &report.outcome {
        Ok(found) => found.clone(),
        Err(f) => {
            tracing::info!(data_source = %row.id, error_code = f.code.as_str(), "introspection failed");
            let failure = f.clone();
            return Ok(Introspected::Failed(report, failure));
        }
    };
    let stored = StoredSnapshot { version, snapshot };
    let snapshot_row = SchemaSnapshotRow {
        data_source_id: row.id.clone(),
        fetched_at,
        duration_ms: i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX),
        snapshot: serde_json::to_string(&stored).map_err(AppError::internal)?,
    };
    let (kept, key) = (snapshot_row.clone(), row.id.clone());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                // Deleted while it was being introspected: nothing to keep it for.
                resolve(tx, key.as_str(), Lock::ForUpdate).await?;
                tx.put_schema_snapshot(&kept).await?;
                Ok::<_, AppError>(())
            })
        })
        .await?;
    Ok(Introspected::Fetched(snapshot_row, stored))
}

/// The last snapshot of the data source `key` names; `None` when it has none yet.
pub async fn snapshot(
    app: &AppState,
    key: &str,
) -> Result<(DataSourceRow, Option<SchemaSnapshotRow>), AppError> {
    let row = find(app, key).await?;
    let id = row.id.clone();
    let found = app
        .store
        .read(move |tx| Box::pin(async move { tx.schema_snapshot(&id).await }))
        .await?;
    Ok((row, found))
}

/// The test history of the data source `key` names: at or after `since` (epoch ms), newest
/// first, at most `limit`.
pub async fn history(
    app: &AppState,
    key: &str,
    since: i64,
    limit: i64,
) -> Result<(DataSourceRow, Vec<TestHistoryRow>), AppError> {
    let row = find(app, key).await?;
    let id = row.id.clone();
    let rows = app
        .store
        .read(move |tx| Box::pin(async move { tx.test_history(&id, since, limit).await }))
        .await?;
    Ok((row, rows))
}
