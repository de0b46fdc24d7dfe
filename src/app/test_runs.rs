//! Fleet tests (`POST /test-run`): many saved data sources tested at once on the test pool,
//! each result handed on the moment it is known, one audit record for the run plus one per
//! test.
//!
//! The run is a task of its own: a client that stops reading (or goes away) does not cut it
//! short, so every test it started is recorded and the run's own record is written at its end.
//! At most the calling key's share of the test slots runs at once, so no test of the run waits
//! for a slot of its own run inside its deadline.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use jackal_drivers::ProbeReport;
use serde_json::json;
use tokio::sync::mpsc;

use super::connection_tests::test_row;
use super::{data_sources, events, roles, AppError, AppState};
use crate::store::{AuditContext, DataSourceRow, Page};

/// Which data sources a run tests: every one, or those named (id or alias), or a role's.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub data_sources: Vec<String>,
    pub role: Option<String>,
}

impl Selection {
    fn describe(&self) -> serde_json::Value {
        match (&self.role, self.data_sources.is_empty()) {
            (Some(role), _) => json!({"role": role}),
            (None, false) => json!({"dataSources": self.data_sources}),
            (None, true) => json!("all"),
        }
    }
}

/// The data sources `selection` names, each once, in the order named (all: creation order).
/// An unknown name is a 404 before anything is tested.
pub async fn select(app: &AppState, selection: &Selection) -> Result<Vec<DataSourceRow>, AppError> {
    let mut rows = match &selection.role {
        Some(role) => roles::data_sources(app, role).await?,
        None if selection.data_sources.is_empty() => data_sources::list(app, Page::ALL).await?,
        None => Vec::new(),
    };
    for key in &selection.data_sources {
        rows.push(data_sources::find(app, key).await?);
    }
    let mut seen = std::collections::HashSet::new();
    rows.retain(|row| seen.insert(row.id.clone()));
    Ok(rows)
}

/// One data source of a run, as it ended.
#[derive(Debug)]
pub enum Outcome {
    Tested(Box<ProbeReport>),
    /// Not tested, and why (the key's test allowance, an error reading it).
    Skipped(String),
}

/// A run's result for one data source.
#[derive(Debug)]
pub struct RunResult {
    pub row: DataSourceRow,
    pub outcome: Outcome,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    pub duration: Duration,
}

/// What a run sends, in order: each result as it is known, then the summary.
#[derive(Debug)]
pub enum RunEvent {
    /// Boxed: a result holds the data source's row, many times a summary's size.
    Result(Box<RunResult>),
    Summary(Summary),
}

/// The rows of a run to test, and those the calling key's test allowance (`[limits]
/// tests_per_minute`, `tests_burst`) cannot cover, each with why. A data source whose
/// destination was tested before (it has a last outcome) costs nothing: re-testing known
/// destinations is watching a fleet. One whose destination was never tested (new, or its type,
/// host, port, user or route changed since) takes one test, `take_test` saying whether one was
/// left; those it cannot cover are skipped, never dialled. So a key reaches new destinations
/// through a run no faster than through single tests, and a run is no fast port scanner.
pub fn spend_allowance(
    rows: Vec<DataSourceRow>,
    mut take_test: impl FnMut() -> bool,
) -> (Vec<DataSourceRow>, Vec<(DataSourceRow, String)>) {
    let mut to_test = Vec::with_capacity(rows.len());
    let mut skipped = Vec::new();
    for row in rows {
        if row.last_tested_at.is_some() || take_test() {
            to_test.push(row);
        } else {
            skipped.push((
                row,
                "not tested: its destination was never tested, and this API key has used its test allowance ([limits] tests_per_minute, tests_burst); test it alone or run again later, or raise those settings".to_owned(),
            ));
        }
    }
    (to_test, skipped)
}

/// Starts the run of `to_test`; `skipped` (with why) are reported first, untested. The events
/// come on the returned channel; the run goes on to its end if the receiver is dropped.
pub fn start(
    app: actix_web::web::Data<AppState>,
    ctx: AuditContext,
    selection: Selection,
    to_test: Vec<DataSourceRow>,
    skipped: Vec<(DataSourceRow, String)>,
) -> mpsc::Receiver<RunEvent> {
    let (sender, receiver) = mpsc::channel(64);
    let at_once = app.probes.per_key();
    tokio::spawn(async move {
        let started = Instant::now();
        let mut summary = Summary {
            total: to_test.len() + skipped.len(),
            ..Summary::default()
        };
        for (row, why) in skipped {
            summary.skipped += 1;
            let result = RunResult {
                row,
                outcome: Outcome::Skipped(why),
            };
            // A receiver gone is a client gone: the run still finishes and is recorded.
            let _ = sender.send(RunEvent::Result(Box::new(result))).await;
        }
        let (app_ref, ctx_ref) = (&app, &ctx);
        let mut results = stream::iter(to_test)
            .map(|row| async move {
                let outcome = match test_row(app_ref, ctx_ref, row.clone()).await {
                    Ok(report) => Outcome::Tested(Box::new(report)),
                    Err(e) => {
                        tracing::warn!(data_source = %row.id, error = %e, "a fleet test could not run");
                        Outcome::Skipped(format!("not tested: {e}"))
                    }
                };
                RunResult { row, outcome }
            })
            .buffer_unordered(at_once);
        while let Some(result) = results.next().await {
            match &result.outcome {
                Outcome::Tested(report) if report.outcome.is_ok() => summary.succeeded += 1,
                Outcome::Tested(_) => summary.failed += 1,
                Outcome::Skipped(_) => summary.skipped += 1,
            }
            let _ = sender.send(RunEvent::Result(Box::new(result))).await;
        }
        summary.duration = started.elapsed();
        let event = events::test_run(json!({
            "selection": selection.describe(),
            "total": summary.total,
            "succeeded": summary.succeeded,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "durationMs": summary.duration.as_millis() as u64,
        }));
        let ctx = ctx.clone();
        if let Err(e) = app
            .store
            .write_observation(move |tx| {
                Box::pin(async move { Ok::<_, AppError>(tx.record(&ctx, &event).await?) })
            })
            .await
        {
            tracing::warn!(error = %e, "recording a fleet test run failed");
        }
        let _ = sender.send(RunEvent::Summary(summary)).await;
    });
    receiver
}
