//! Permissions: one person, one data source, a window of time within the years 0000 to 9999.

use super::{data_sources, events, people, AppError, AppState};
use crate::domain::ids::{DataSourceId, PersonId};
use crate::domain::Invalid;
use crate::store::{AuditContext, Entity, Lock, Page, PermissionRow, Tx};

/// Timestamps render as `YYYY-MM-DDTHH:MM:SS.mmmZ`, which has room for the years 0000 to 9999
/// only: from 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
const EARLIEST: i64 = -62_167_219_200_000;
const LATEST: i64 = 253_402_300_799_999;

/// Which permissions a list or bulk deletion is about: those of a data source, or of one
/// person on it (each as a path names it).
#[derive(Debug, Clone)]
pub enum Scope {
    DataSource(String),
    Pair { data_source: String, person: String },
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(Entity::Permission, id.to_string())
}

async fn data_source_id(tx: &mut dyn Tx, key: &str, lock: Lock) -> Result<DataSourceId, AppError> {
    Ok(data_sources::resolve(tx, key, lock).await?.id)
}

/// The ids `scope` names: the data source first, then the person (each a 404).
async fn resolve_scope(
    tx: &mut dyn Tx,
    scope: &Scope,
    lock: Lock,
) -> Result<(DataSourceId, Option<PersonId>), AppError> {
    Ok(match scope {
        Scope::DataSource(ds) => (data_source_id(tx, ds, lock).await?, None),
        Scope::Pair {
            data_source,
            person,
        } => {
            let ds = data_source_id(tx, data_source, lock).await?;
            let person = people::resolve(tx, person, lock).await?.id;
            (ds, Some(person))
        }
    })
}

/// Grants the person `person_key` names the data source `ds_key` names, from `starts_at` for
/// `duration_s` seconds.
pub async fn grant(
    app: &AppState,
    ctx: &AuditContext,
    ds_key: &str,
    person_key: &str,
    starts_at: i64,
    duration_s: i64,
) -> Result<PermissionRow, AppError> {
    let expires_at = starts_at.saturating_add(duration_s.saturating_mul(1000));
    if starts_at < EARLIEST || expires_at > LATEST {
        return Err(Invalid::new(
            "startsAt",
            "startsAt and startsAt + duration must fall within the years 0000 to 9999 (UTC)",
        )
        .into());
    }
    let (ctx, ds_key, person_key) = (ctx.clone(), ds_key.to_owned(), person_key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let ds = data_source_id(tx, &ds_key, Lock::ForUpdate).await?;
                let person = people::resolve(tx, &person_key, Lock::ForUpdate).await?.id;
                let created_at = ctx.at;
                let id = tx
                    .insert_permission(&person, &ds, starts_at, expires_at, created_at)
                    .await?;
                tx.record(
                    &ctx,
                    &events::permission_granted(id, &person, &ds, starts_at, expires_at),
                )
                .await?;
                Ok(PermissionRow {
                    id,
                    person_id: person,
                    data_source_id: ds,
                    starts_at,
                    expires_at,
                    created_at,
                })
            })
        })
        .await
}

pub async fn list(app: &AppState, page: Page) -> Result<Vec<PermissionRow>, AppError> {
    Ok(app
        .store
        .read(move |tx| Box::pin(async move { tx.permissions(page).await }))
        .await?)
}

pub async fn find(app: &AppState, id: i64) -> Result<PermissionRow, AppError> {
    app.store
        .read(move |tx| Box::pin(async move { tx.permission(id).await }))
        .await?
        .ok_or_else(|| not_found(id))
}

pub async fn revoke(app: &AppState, ctx: &AuditContext, id: i64) -> Result<(), AppError> {
    let ctx = ctx.clone();
    app.store
        .write(move |tx| {
            Box::pin(async move {
                if !tx.delete_permission(id).await? {
                    return Err(not_found(id));
                }
                tx.record(&ctx, &events::permission_revoked(id)).await?;
                Ok(())
            })
        })
        .await
}

pub async fn scoped(app: &AppState, scope: Scope) -> Result<Vec<PermissionRow>, AppError> {
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let (ds, person) = resolve_scope(tx, &scope, Lock::No).await?;
                Ok(tx.scoped_permissions(&ds, person.as_ref()).await?)
            })
        })
        .await
}

/// Revokes every permission in `scope`; how many.
pub async fn revoke_scoped(
    app: &AppState,
    ctx: &AuditContext,
    scope: Scope,
) -> Result<u64, AppError> {
    let ctx = ctx.clone();
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let (ds, person) = resolve_scope(tx, &scope, Lock::ForUpdate).await?;
                let count = tx.delete_scoped_permissions(&ds, person.as_ref()).await?;
                tx.record(
                    &ctx,
                    &events::scoped_permissions_revoked(&ds, person.as_ref(), count),
                )
                .await?;
                Ok(count)
            })
        })
        .await
}
