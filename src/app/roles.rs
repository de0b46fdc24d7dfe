//! Roles and their members (data sources and people). Adding or removing a member is
//! idempotent: only a change is recorded, and only a change moves the role's `updatedAt`.

use super::{data_sources, events, people, AppError, AppState};
use crate::domain::ids::RoleId;
use crate::store::{
    AuditContext, DataSourceRow, Entity, Lock, Member, Page, PersonRow, RoleRow, Tx, Unique,
};

fn not_found(key: &str) -> AppError {
    AppError::NotFound(Entity::Role, key.to_owned())
}

/// The role `key` names (an id, else a name), in `tx`.
async fn resolve(tx: &mut dyn Tx, key: &str, lock: Lock) -> Result<RoleRow, AppError> {
    tx.role(key, lock).await?.ok_or_else(|| not_found(key))
}

pub async fn create(app: &AppState, ctx: &AuditContext, name: String) -> Result<RoleRow, AppError> {
    let row = RoleRow {
        id: RoleId::generate(),
        name,
        created_at: ctx.at,
        updated_at: ctx.at,
        assigned_at: None,
    };
    let ctx = ctx.clone();
    app.store
        .write(move |tx| {
            Box::pin(async move {
                if tx.role_name_used(&row.name).await? {
                    return Err(AppError::Taken {
                        field: Unique::RoleName,
                        value: row.name.clone(),
                    });
                }
                tx.insert_role(&row)
                    .await
                    .map_err(|e| AppError::taken_if(e, Unique::RoleName, &row.name))?;
                tx.record(&ctx, &events::role_created(&row)).await?;
                Ok(row)
            })
        })
        .await
}

/// Roles with their place in the list (`seq`), oldest first.
pub async fn list(app: &AppState, page: Page) -> Result<Vec<(i64, RoleRow)>, AppError> {
    Ok(app
        .store
        .read(move |tx| Box::pin(async move { tx.roles(page).await }))
        .await?)
}

pub async fn find(app: &AppState, key: &str) -> Result<RoleRow, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| Box::pin(async move { resolve(tx, &key, Lock::No).await }))
        .await
}

/// Deletes a role with its memberships.
pub async fn delete(app: &AppState, ctx: &AuditContext, key: &str) -> Result<(), AppError> {
    let (ctx, key) = (ctx.clone(), key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let role = resolve(tx, &key, Lock::ForUpdate).await?;
                tx.delete_role(&role.id).await?;
                tx.record(&ctx, &events::role_deleted(&role)).await?;
                Ok(())
            })
        })
        .await
}

pub async fn data_sources(app: &AppState, key: &str) -> Result<Vec<DataSourceRow>, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let role = resolve(tx, &key, Lock::No).await?;
                Ok(tx.role_data_sources(&role.id).await?)
            })
        })
        .await
}

pub async fn people(app: &AppState, key: &str) -> Result<Vec<PersonRow>, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let role = resolve(tx, &key, Lock::No).await?;
                Ok(tx.role_people(&role.id).await?)
            })
        })
        .await
}

/// The roles containing the data source `key` names, each with when it was added.
pub async fn of_data_source(app: &AppState, key: &str) -> Result<Vec<RoleRow>, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let ds = data_sources::resolve(tx, &key, Lock::No).await?;
                Ok(tx.data_source_roles(&ds.id).await?)
            })
        })
        .await
}

/// Adds (`member = true`) or removes the data source or person `member_key` names, to or from
/// the role `role_key` names. The role is looked up first, then the member (each a 404).
pub async fn set_member(
    app: &AppState,
    ctx: &AuditContext,
    role_key: &str,
    kind: Member,
    member_key: &str,
    member: bool,
) -> Result<(), AppError> {
    let (ctx, role_key, member_key) = (ctx.clone(), role_key.to_owned(), member_key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let role = resolve(tx, &role_key, Lock::ForUpdate).await?;
                let member_id = match kind {
                    Member::DataSource => data_sources::resolve(tx, &member_key, Lock::No)
                        .await?
                        .id
                        .into_string(),
                    Member::Person => people::resolve(tx, &member_key, Lock::No)
                        .await?
                        .id
                        .into_string(),
                };
                let changed = if member {
                    tx.add_member(&role.id, kind, &member_id, ctx.at).await?
                } else {
                    tx.remove_member(&role.id, kind, &member_id).await?
                };
                if changed {
                    // Forward even within one millisecond.
                    let updated_at = ctx.at.max(role.updated_at + 1);
                    tx.set_role_updated_at(&role.id, updated_at).await?;
                    tx.record(
                        &ctx,
                        &events::role_member_changed(&role.id, kind, member, &member_id),
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
}
