//! Roles and their memberships on PostgreSQL. Adding or removing a member is idempotent and
//! moves the role's `updated_at` only when something changed.

use tokio_postgres::Row;

use super::people::{person_from_row, resolve_person, PERSON_COLUMNS};
use super::{
    connection, data_source_from_row, map_all, record, resolve_data_source, unique_violation, Db,
    PgStore, DATA_SOURCE_COLUMNS,
};
use crate::store::events;
use crate::store::{
    AuditContext, DataSourceRow, Entity, Member, Page, PersonRow, RoleRow, StoreError, Unique,
};

pub(super) const ROLE_COLUMNS: &str = "r.id, r.name, r.created_at, r.updated_at";

/// Reads `ROLE_COLUMNS` followed by an `assigned_at` column (NULL when not asked for).
pub(super) fn role_from_row(row: &Row) -> Result<RoleRow, StoreError> {
    Ok(RoleRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        created_at: row.try_get(2)?,
        updated_at: row.try_get(3)?,
        assigned_at: row.try_get(4)?,
    })
}

/// The role `key` names: an id, else a name. `lock` takes the row lock for the transaction.
async fn resolve_role(db: Db<'_>, key: &str, lock: bool) -> Result<RoleRow, StoreError> {
    let sql = format!(
        "SELECT {ROLE_COLUMNS}, NULL::BIGINT FROM role r WHERE r.id = $1 OR r.name = $1 \
         ORDER BY r.id = $1 DESC LIMIT 1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    db.query_opt(&sql, &[&key])
        .await?
        .as_ref()
        .map(role_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(Entity::Role, key.to_owned()))
}

impl PgStore {
    pub async fn insert_role(
        &self,
        role: RoleRow,
        ctx: &AuditContext,
    ) -> Result<RoleRow, StoreError> {
        let ctx = ctx.clone();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let inserted = db
                .execute(
                    "INSERT INTO role (id, name, created_at, updated_at) VALUES ($1, $2, $3, $4)",
                    &[&role.id, &role.name, &role.created_at, &role.updated_at],
                )
                .await;
            match inserted.as_ref().err().and_then(unique_violation) {
                Some("role_name_unique") => {
                    return Err(StoreError::Taken {
                        field: Unique::RoleName,
                        value: role.name.clone(),
                    })
                }
                _ => inserted?,
            };
            record(db, &ctx, &events::role_created(&role)).await?;
            tx.commit().await?;
            Ok(role)
        })
        .await
    }

    pub async fn list_roles(&self, page: Page) -> Result<Vec<RoleRow>, StoreError> {
        let (limit, offset) = page.pg();
        self.run("read", move |pool| async move {
            let client = connection(&pool).await?;
            let rows = Db::Client(&client)
                .query(
                    &format!(
                        "SELECT {ROLE_COLUMNS}, NULL::BIGINT FROM role r ORDER BY r.seq \
                         LIMIT $1 OFFSET $2"
                    ),
                    &[&limit, &offset],
                )
                .await?;
            map_all(rows, role_from_row)
        })
        .await
    }

    pub async fn find_role(&self, key: &str) -> Result<RoleRow, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            resolve_role(Db::Client(&client), &key, false).await
        })
        .await
    }

    pub async fn delete_role(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let role = resolve_role(db, &key, true).await?;
            db.execute("DELETE FROM role WHERE id = $1", &[&role.id])
                .await?;
            record(db, &ctx, &events::role_deleted(&role)).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub async fn role_data_sources(&self, key: &str) -> Result<Vec<DataSourceRow>, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let role = resolve_role(db, &key, false).await?;
            let rows = db
                .query(
                    &format!(
                        "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id IN \
                         (SELECT data_source_id FROM role_data_source WHERE role_id = $1) \
                         ORDER BY seq"
                    ),
                    &[&role.id],
                )
                .await?;
            map_all(rows, data_source_from_row)
        })
        .await
    }

    pub async fn role_people(&self, key: &str) -> Result<Vec<PersonRow>, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let role = resolve_role(db, &key, false).await?;
            let rows = db
                .query(
                    &format!(
                        "SELECT {PERSON_COLUMNS} FROM person WHERE id IN \
                         (SELECT person_id FROM role_person WHERE role_id = $1) ORDER BY seq"
                    ),
                    &[&role.id],
                )
                .await?;
            map_all(rows, person_from_row)
        })
        .await
    }

    pub async fn data_source_roles(&self, key: &str) -> Result<Vec<RoleRow>, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let ds = resolve_data_source(db, &key, false).await?;
            let rows = db
                .query(
                    &format!(
                        "SELECT {ROLE_COLUMNS}, m.assigned_at FROM role r \
                         JOIN role_data_source m ON m.role_id = r.id \
                         WHERE m.data_source_id = $1 ORDER BY r.seq"
                    ),
                    &[&ds.id],
                )
                .await?;
            map_all(rows, role_from_row)
        })
        .await
    }

    /// Adds (`member = true`) or removes a data source or person; idempotent. The role's row is
    /// locked (its `updated_at` moves); the member's foreign key makes a concurrent delete of
    /// the member on another server wait for this transaction.
    pub async fn set_role_member(
        &self,
        role_key: &str,
        kind: Member,
        member_key: &str,
        member: bool,
        ctx: &AuditContext,
    ) -> Result<(), StoreError> {
        let role_key = role_key.to_owned();
        let member_key = member_key.to_owned();
        let ctx = ctx.clone();
        let now = ctx.at;
        self.run("write", move |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let role = resolve_role(db, &role_key, true).await?;
            let (table, column, member_id) = match kind {
                Member::DataSource => (
                    "role_data_source",
                    "data_source_id",
                    resolve_data_source(db, &member_key, false).await?.id,
                ),
                Member::Person => (
                    "role_person",
                    "person_id",
                    resolve_person(db, &member_key, false).await?.id,
                ),
            };
            let changed = if member {
                db.execute(
                    &format!(
                        "INSERT INTO {table} (role_id, {column}, assigned_at) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING"
                    ),
                    &[&role.id, &member_id, &now],
                )
                .await?
            } else {
                db.execute(
                    &format!("DELETE FROM {table} WHERE role_id = $1 AND {column} = $2"),
                    &[&role.id, &member_id],
                )
                .await?
            };
            if changed > 0 {
                db.execute(
                    "UPDATE role SET updated_at = GREATEST($2, updated_at + 1) WHERE id = $1",
                    &[&role.id, &now],
                )
                .await?;
                record(
                    db,
                    &ctx,
                    &events::role_member_changed(&role.id, kind, member, &member_id),
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
