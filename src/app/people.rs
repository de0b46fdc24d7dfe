//! People: unique usernames and (case-insensitive) emails, locking, deletion of a locked
//! person only, and what a person can reach.

use super::{events, AppError, AppState};
use crate::domain::ids::PersonId;
use crate::store::{
    AuditContext, DataSourceRow, Entity, Lock, Page, PermissionRow, PersonRow, RoleRow, Tx, Unique,
};

/// A person to create, validated.
#[derive(Debug)]
pub struct NewPerson {
    pub name: String,
    pub email: String,
    pub username: String,
}

fn not_found(key: &str) -> AppError {
    AppError::NotFound(Entity::Person, key.to_owned())
}

/// The person `key` names (an id, else a username, else an email), in `tx`.
pub(crate) async fn resolve(tx: &mut dyn Tx, key: &str, lock: Lock) -> Result<PersonRow, AppError> {
    tx.person(key, lock).await?.ok_or_else(|| not_found(key))
}

/// Creates a person, not locked. The username is checked before the email, so a clash on both
/// names the username.
pub async fn create(
    app: &AppState,
    ctx: &AuditContext,
    new: NewPerson,
) -> Result<PersonRow, AppError> {
    let row = PersonRow {
        id: PersonId::generate(),
        name: new.name,
        email: new.email,
        username: new.username,
        is_locked: false,
        created_at: ctx.at,
    };
    let ctx = ctx.clone();
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let taken = |field, value: &str| AppError::Taken {
                    field,
                    value: value.to_owned(),
                };
                if tx.username_used(&row.username).await? {
                    return Err(taken(Unique::Username, &row.username));
                }
                if tx.email_used(&row.email).await? {
                    return Err(taken(Unique::Email, &row.email));
                }
                // The checks above settle it on one server; the constraints settle a race with
                // another server sharing the store.
                if let Err(e) = tx.insert_person(&row).await {
                    return Err(
                        match AppError::taken_if(e, Unique::Username, &row.username) {
                            AppError::Store(e) => AppError::taken_if(e, Unique::Email, &row.email),
                            taken => taken,
                        },
                    );
                }
                tx.record(&ctx, &events::person_created(&row)).await?;
                Ok(row)
            })
        })
        .await
}

/// People with their place in the list (`seq`), oldest first.
pub async fn list(app: &AppState, page: Page) -> Result<Vec<(i64, PersonRow)>, AppError> {
    Ok(app
        .store
        .read(move |tx| Box::pin(async move { tx.people(page).await }))
        .await?)
}

pub async fn find(app: &AppState, key: &str) -> Result<PersonRow, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| Box::pin(async move { resolve(tx, &key, Lock::No).await }))
        .await
}

/// Locks or unlocks; doing it twice is the same as once (and is recorded once).
pub async fn set_locked(
    app: &AppState,
    ctx: &AuditContext,
    key: &str,
    locked: bool,
) -> Result<PersonRow, AppError> {
    let (ctx, key) = (ctx.clone(), key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let mut person = resolve(tx, &key, Lock::ForUpdate).await?;
                if person.is_locked != locked {
                    tx.set_person_locked(&person.id, locked).await?;
                    tx.record(&ctx, &events::person_locked(&person, locked))
                        .await?;
                }
                person.is_locked = locked;
                Ok(person)
            })
        })
        .await
}

/// Deletes a person, who must be locked first, with their memberships and permissions.
pub async fn delete(app: &AppState, ctx: &AuditContext, key: &str) -> Result<(), AppError> {
    let (ctx, key) = (ctx.clone(), key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let person = resolve(tx, &key, Lock::ForUpdate).await?;
                if !person.is_locked {
                    return Err(AppError::NotLocked(key));
                }
                tx.delete_person(&person.id).await?;
                tx.record(&ctx, &events::person_deleted(&person)).await?;
                Ok(())
            })
        })
        .await
}

/// Resets two-factor authentication; idempotent (each reset is recorded).
pub async fn reset_two_factor(
    app: &AppState,
    ctx: &AuditContext,
    key: &str,
) -> Result<(), AppError> {
    let (ctx, key) = (ctx.clone(), key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let person = resolve(tx, &key, Lock::ForUpdate).await?;
                tx.reset_two_factor(&person.id).await?;
                tx.record(&ctx, &events::two_factor_reset(&person)).await?;
                Ok(())
            })
        })
        .await
}

pub async fn roles(app: &AppState, key: &str) -> Result<Vec<RoleRow>, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let person = resolve(tx, &key, Lock::No).await?;
                Ok(tx.person_roles(&person.id).await?)
            })
        })
        .await
}

pub async fn permissions(app: &AppState, key: &str) -> Result<Vec<PermissionRow>, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let person = resolve(tx, &key, Lock::No).await?;
                Ok(tx.person_permissions(&person.id).await?)
            })
        })
        .await
}

/// Deletes every permission of a person; how many.
pub async fn delete_permissions(
    app: &AppState,
    ctx: &AuditContext,
    key: &str,
) -> Result<u64, AppError> {
    let (ctx, key) = (ctx.clone(), key.to_owned());
    app.store
        .write(move |tx| {
            Box::pin(async move {
                let person = resolve(tx, &key, Lock::ForUpdate).await?;
                let count = tx.delete_person_permissions(&person.id).await?;
                tx.record(&ctx, &events::person_permissions_revoked(&person, count))
                    .await?;
                Ok(count)
            })
        })
        .await
}

/// The data sources the person `key` can reach at `now`: through any of their roles, or a
/// permission whose window contains `now`. Each once, oldest first; none for a locked person.
pub async fn reachable_data_sources(
    app: &AppState,
    key: &str,
    now: i64,
) -> Result<Vec<DataSourceRow>, AppError> {
    let key = key.to_owned();
    app.store
        .read(move |tx| {
            Box::pin(async move {
                let person = resolve(tx, &key, Lock::No).await?;
                if person.is_locked {
                    return Ok(Vec::new());
                }
                Ok(tx.reachable_data_sources(&person.id, now).await?)
            })
        })
        .await
}
