//! Roles and their memberships: data sources and people. Adding or removing a member is
//! idempotent and moves the role's `updated_at` only when something changed.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::begin_write;

use super::audit::record;
use crate::store::AuditContext;

use super::people::{person_from_row, resolve_person, PERSON_COLUMNS};
use super::SqliteStore;
use super::{data_source_from_row, is_unique_violation, query_all, DATA_SOURCE_COLUMNS};
use crate::store::events;
use crate::store::{DataSourceRow, Entity, Member, Page, PersonRow, RoleRow, StoreError, Unique};

pub(super) const ROLE_COLUMNS: &str = "r.id, r.name, r.created_at, r.updated_at";

/// Reads `ROLE_COLUMNS` followed by an `assigned_at` column (NULL when not asked for).
pub(super) fn role_from_row(row: &Row<'_>) -> rusqlite::Result<RoleRow> {
    Ok(RoleRow {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: row.get(2)?,
        updated_at: row.get(3)?,
        assigned_at: row.get(4)?,
    })
}

/// The role `key` names: an id, else a name.
fn resolve_role(conn: &Connection, key: &str) -> Result<RoleRow, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {ROLE_COLUMNS}, NULL FROM role r WHERE r.id = ?1 OR r.name = ?1 \
         ORDER BY r.id = ?1 DESC LIMIT 1"
    ))?
    .query_row([key], role_from_row)
    .optional()?
    .ok_or_else(|| StoreError::NotFound(Entity::Role, key.to_owned()))
}

impl SqliteStore {
    pub async fn insert_role(
        &self,
        role: RoleRow,
        ctx: &AuditContext,
    ) -> Result<RoleRow, StoreError> {
        let ctx = ctx.clone();
        self.write(move |conn| {
            let conn = begin_write(conn)?;
            let taken = || StoreError::Taken {
                field: Unique::RoleName,
                value: role.name.clone(),
            };
            if conn
                .prepare_cached("SELECT 1 FROM role WHERE name = ?1")?
                .exists([&role.name])?
            {
                return Err(taken());
            }
            conn.execute(
                "INSERT INTO role (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)",
                params![role.id, role.name, role.created_at, role.updated_at],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    taken()
                } else {
                    StoreError::Sqlite(e)
                }
            })?;
            record(&conn, &ctx, &events::role_created(&role))?;
            conn.commit()?;
            Ok(role)
        })
        .await
    }

    pub async fn list_roles(&self, page: Page) -> Result<Vec<RoleRow>, StoreError> {
        self.read(move |conn| {
            query_all(
                conn,
                &format!(
                    "SELECT {ROLE_COLUMNS}, NULL FROM role r ORDER BY r.seq LIMIT ?1 OFFSET ?2"
                ),
                page.sql(),
                role_from_row,
            )
        })
        .await
    }

    pub async fn find_role(&self, key: &str) -> Result<RoleRow, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| resolve_role(conn, &key)).await
    }

    /// Deletes a role with its memberships.
    pub async fn delete_role(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let role = resolve_role(&tx, &key)?;
            tx.execute("DELETE FROM role WHERE id = ?1", [&role.id])?;
            record(&tx, &ctx, &events::role_deleted(&role))?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn role_data_sources(&self, key: &str) -> Result<Vec<DataSourceRow>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            let role = resolve_role(conn, &key)?;
            query_all(
                conn,
                &format!(
                    "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id IN \
                 (SELECT data_source_id FROM role_data_source WHERE role_id = ?1) ORDER BY seq"
                ),
                [&role.id],
                data_source_from_row,
            )
        })
        .await
    }

    pub async fn role_people(&self, key: &str) -> Result<Vec<PersonRow>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            let role = resolve_role(conn, &key)?;
            query_all(
                conn,
                &format!(
                    "SELECT {PERSON_COLUMNS} FROM person WHERE id IN \
                 (SELECT person_id FROM role_person WHERE role_id = ?1) ORDER BY seq"
                ),
                [&role.id],
                person_from_row,
            )
        })
        .await
    }

    /// The roles containing a data source, each with when it was added.
    pub async fn data_source_roles(&self, key: &str) -> Result<Vec<RoleRow>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            let ds = SqliteStore::resolve_data_source(conn, &key)?;
            query_all(conn, &format!(
                "SELECT {ROLE_COLUMNS}, m.assigned_at FROM role r \
                 JOIN role_data_source m ON m.role_id = r.id WHERE m.data_source_id = ?1 ORDER BY r.seq"
            ), [&ds.id], role_from_row)
        })
        .await
    }

    /// Adds (`member = true`) or removes a data source or person; idempotent.
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
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let role = resolve_role(&tx, &role_key)?;
            let (table, column, member_id) = match kind {
                Member::DataSource => ("role_data_source", "data_source_id", SqliteStore::resolve_data_source(&tx, &member_key)?.id),
                Member::Person => ("role_person", "person_id", resolve_person(&tx, &member_key)?.id),
            };
            let changed = if member {
                tx.execute(
                    &format!("INSERT OR IGNORE INTO {table} (role_id, {column}, assigned_at) VALUES (?1, ?2, ?3)"),
                    params![role.id, member_id, now],
                )?
            } else {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE role_id = ?1 AND {column} = ?2"),
                    params![role.id, member_id],
                )?
            };
            if changed > 0 {
                tx.execute(
                    "UPDATE role SET updated_at = max(?2, updated_at + 1) WHERE id = ?1",
                    params![role.id, now],
                )?;
                record(&tx, &ctx, &events::role_member_changed(&role.id, kind, member, &member_id))?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
