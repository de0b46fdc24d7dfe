//! Permissions on PostgreSQL: one person, one data source, a window of time. Ids come from an
//! identity column and are never reused.

use tokio_postgres::Row;

use super::people::resolve_person;
use super::{connection, map_all, record, resolve_data_source, Db, PgStore};
use crate::store::events;
use crate::store::{AuditContext, Entity, Page, PermissionRow, PermissionScope, StoreError};

pub(super) const PERMISSION_COLUMNS: &str =
    "id, person_id, data_source_id, starts_at, expires_at, created_at";

pub(super) fn permission_from_row(row: &Row) -> Result<PermissionRow, StoreError> {
    Ok(PermissionRow {
        id: row.try_get(0)?,
        person_id: row.try_get(1)?,
        data_source_id: row.try_get(2)?,
        starts_at: row.try_get(3)?,
        expires_at: row.try_get(4)?,
        created_at: row.try_get(5)?,
    })
}

/// The data source and person ids `scope` names; the person is `None` for a whole data source.
async fn resolve_scope(
    db: Db<'_>,
    scope: &PermissionScope,
    lock: bool,
) -> Result<(String, Option<String>), StoreError> {
    Ok(match scope {
        PermissionScope::DataSource(ds) => (resolve_data_source(db, ds, lock).await?.id, None),
        PermissionScope::Pair {
            data_source,
            person,
        } => (
            resolve_data_source(db, data_source, lock).await?.id,
            Some(resolve_person(db, person, lock).await?.id),
        ),
    })
}

/// Matches every permission of the data source `$1`, and of the person `$2` unless it is NULL.
const SCOPE_FILTER: &str = "data_source_id = $1 AND ($2::TEXT IS NULL OR person_id = $2)";

impl PgStore {
    pub async fn insert_permission(
        &self,
        ds_key: &str,
        person_key: &str,
        starts_at: i64,
        expires_at: i64,
        ctx: &AuditContext,
    ) -> Result<PermissionRow, StoreError> {
        let ds_key = ds_key.to_owned();
        let person_key = person_key.to_owned();
        let ctx = ctx.clone();
        let created_at = ctx.at;
        self.run("write", move |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            // The foreign keys make a concurrent delete of either on another server wait.
            let ds = resolve_data_source(db, &ds_key, false).await?;
            let person = resolve_person(db, &person_key, false).await?;
            let id: i64 = db
                .query_opt(
                    "INSERT INTO permission (person_id, data_source_id, starts_at, expires_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&person.id, &ds.id, &starts_at, &expires_at, &created_at],
                )
                .await?
                .ok_or_else(|| StoreError::Task("INSERT … RETURNING gave no row".to_owned()))?
                .try_get(0)?;
            record(
                db,
                &ctx,
                &events::permission_granted(id, &person.id, &ds.id, starts_at, expires_at),
            )
            .await?;
            tx.commit().await?;
            Ok(PermissionRow {
                id,
                person_id: person.id,
                data_source_id: ds.id,
                starts_at,
                expires_at,
                created_at,
            })
        })
        .await
    }

    pub async fn list_permissions(&self, page: Page) -> Result<Vec<PermissionRow>, StoreError> {
        let (limit, offset) = page.pg();
        self.run("read", move |pool| async move {
            let client = connection(&pool).await?;
            let rows = Db::Client(&client)
                .query(
                    &format!(
                        "SELECT {PERMISSION_COLUMNS} FROM permission ORDER BY id \
                         LIMIT $1 OFFSET $2"
                    ),
                    &[&limit, &offset],
                )
                .await?;
            map_all(rows, permission_from_row)
        })
        .await
    }

    pub async fn find_permission(&self, id: i64) -> Result<PermissionRow, StoreError> {
        self.run("read", move |pool| async move {
            let client = connection(&pool).await?;
            Db::Client(&client)
                .query_opt(
                    &format!("SELECT {PERMISSION_COLUMNS} FROM permission WHERE id = $1"),
                    &[&id],
                )
                .await?
                .as_ref()
                .map(permission_from_row)
                .transpose()?
                .ok_or_else(|| StoreError::NotFound(Entity::Permission, id.to_string()))
        })
        .await
    }

    pub async fn delete_permission(&self, id: i64, ctx: &AuditContext) -> Result<(), StoreError> {
        let ctx = ctx.clone();
        self.run("write", move |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            if db
                .execute("DELETE FROM permission WHERE id = $1", &[&id])
                .await?
                == 0
            {
                return Err(StoreError::NotFound(Entity::Permission, id.to_string()));
            }
            record(db, &ctx, &events::permission_revoked(id)).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub async fn scoped_permissions(
        &self,
        scope: PermissionScope,
    ) -> Result<Vec<PermissionRow>, StoreError> {
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let (data_source_id, person_id) = resolve_scope(db, &scope, false).await?;
            let rows = db
                .query(
                    &format!(
                        "SELECT {PERMISSION_COLUMNS} FROM permission WHERE {SCOPE_FILTER} \
                         ORDER BY id"
                    ),
                    &[&data_source_id, &person_id],
                )
                .await?;
            map_all(rows, permission_from_row)
        })
        .await
    }

    pub async fn delete_scoped_permissions(
        &self,
        scope: PermissionScope,
        ctx: &AuditContext,
    ) -> Result<usize, StoreError> {
        let ctx = ctx.clone();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let (data_source_id, person_id) = resolve_scope(db, &scope, false).await?;
            let count = db
                .execute(
                    &format!("DELETE FROM permission WHERE {SCOPE_FILTER}"),
                    &[&data_source_id, &person_id],
                )
                .await? as usize;
            record(
                db,
                &ctx,
                &events::scoped_permissions_revoked(&data_source_id, person_id.as_deref(), count),
            )
            .await?;
            tx.commit().await?;
            Ok(count)
        })
        .await
    }
}
