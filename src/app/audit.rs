//! The audit trail: reading it (the API, `jackal audit tail`) and what the command line
//! records itself.

use serde_json::Value;

use super::{events, AppError, AppState};
use crate::store::{AuditContext, AuditFilter, AuditRow, Store};

/// What `filter` selects, oldest first.
pub async fn list(store: &Store, filter: AuditFilter) -> Result<Vec<AuditRow>, AppError> {
    Ok(store
        .read(move |tx| Box::pin(async move { tx.audit(&filter).await }))
        .await?)
}

/// Records a `jackal secrets rotate` run that changed something (from the command line: no
/// API key, no address).
pub async fn record_rotation(
    store: &Store,
    at: i64,
    key_file: &str,
    changes: Value,
) -> Result<(), AppError> {
    let ctx = AuditContext {
        api_key_id: None,
        client_addr: None,
        at,
    };
    let event = events::secrets_rotated(key_file, changes);
    store
        .write(move |tx| Box::pin(async move { tx.record(&ctx, &event).await }))
        .await?;
    Ok(())
}

/// The events of the API's `GET /audit`.
pub async fn read(app: &AppState, filter: AuditFilter) -> Result<Vec<AuditRow>, AppError> {
    list(&app.store, filter).await
}
