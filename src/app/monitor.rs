//! Periodic tests (`[monitor] interval`): every data source tested once per interval, spread
//! over it rather than all at once, through the same test pool and egress rules as any test.
//!
//! Time is cut into periods of one interval, counted from the Unix epoch, so every server on a
//! store agrees on them. In each period the data sources, in id order, are given evenly spaced
//! start times; at its time, a data source's test runs on the server that first claims it in the
//! store for that period (`monitor_claim`: an insert that only one server can make), so with
//! several servers on one PostgreSQL store each periodic test runs on exactly one. The result
//! goes to the data source's last outcome, its history and `/metrics`, not to the audit trail.

use std::time::Duration;

use actix_web::web;

use super::{connection_tests, data_sources, AppState};
use crate::store::{AuditContext, Page};

/// The share of the slots the monitor's tests may hold: it runs as a key of its own.
const MONITOR: &str = "monitor";

/// Runs the monitor until the process ends.
pub async fn run(app: web::Data<AppState>, interval: Duration) {
    let interval_ms = (interval.as_millis() as i64).max(1);
    loop {
        let now = app.clock.now_millis();
        let period = now.div_euclid(interval_ms);
        let next_start = (period + 1) * interval_ms;
        // A server starting mid-period leaves that period to the others (or to the next).
        sleep_ms(next_start - now).await;
        run_period(&app, period + 1, next_start, interval_ms).await;
    }
}

async fn sleep_ms(ms: i64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
    }
}

/// One period: each data source at its own time, `start + i * interval / n`.
async fn run_period(app: &web::Data<AppState>, period: i64, start: i64, interval_ms: i64) {
    let rows = match data_sources::list(app, Page::ALL).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "the monitor could not list the data sources");
            return;
        }
    };
    if let Err(e) = app
        .store
        .write_observation(move |tx| {
            Box::pin(async move {
                Ok::<_, super::AppError>(tx.forget_monitor_claims(period - 1).await?)
            })
        })
        .await
    {
        tracing::warn!(error = %e, "the monitor could not forget old claims");
    }
    let mut rows = rows;
    rows.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let n = rows.len() as i64;
    for (i, row) in rows.into_iter().enumerate() {
        let at = start + (i as i64) * interval_ms / n.max(1);
        sleep_ms(at - app.clock.now_millis()).await;
        let app = app.clone();
        // Each test on its own: a slow one does not delay the next one's start.
        tokio::spawn(async move {
            let id = row.id.clone();
            let claimed = app
                .store
                .write_observation(move |tx| {
                    Box::pin(async move {
                        Ok::<_, super::AppError>(tx.claim_monitor_test(&id, period).await?)
                    })
                })
                .await;
            match claimed {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(data_source = %row.id, error = %e, "the monitor could not claim a test");
                    return;
                }
            }
            let ctx = AuditContext {
                api_key_id: Some(MONITOR.to_owned()),
                client_addr: None,
                at: app.clock.now_millis(),
            };
            if let Err(e) = connection_tests::test_row_unaudited(&app, &ctx, row).await {
                tracing::warn!(error = %e, "a periodic test could not run");
            }
        });
    }
}
