//! Permissions: one person, one data source, a window of time. Ids are integers that are never
//! reused.

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::begin_write;

use super::audit::record;
use crate::store::AuditContext;

use super::people::resolve_person;
use super::query_all;
use super::SqliteStore;
use crate::store::events;
use crate::store::{Entity, Page, PermissionRow, PermissionScope, StoreError};

pub(super) const PERMISSION_COLUMNS: &str =
    "id, person_id, data_source_id, starts_at, expires_at, created_at";

pub(super) fn permission_from_row(row: &Row<'_>) -> rusqlite::Result<PermissionRow> {
    Ok(PermissionRow {
        id: row.get(0)?,
        person_id: row.get(1)?,
        data_source_id: row.get(2)?,
        starts_at: row.get(3)?,
        expires_at: row.get(4)?,
        created_at: row.get(5)?,
    })
}

/// The WHERE clause and its parameters for `scope`, with the keys resolved to ids.
fn resolve_scope(
    conn: &Connection,
    scope: &PermissionScope,
) -> Result<(&'static str, Vec<String>), StoreError> {
    Ok(match scope {
        PermissionScope::DataSource(ds) => {
            let ds = SqliteStore::resolve_data_source(conn, ds)?;
            ("data_source_id = ?1", vec![ds.id])
        }
        PermissionScope::Pair {
            data_source,
            person,
        } => {
            let ds = SqliteStore::resolve_data_source(conn, data_source)?;
            let person = resolve_person(conn, person)?;
            (
                "data_source_id = ?1 AND person_id = ?2",
                vec![ds.id, person.id],
            )
        }
    })
}

impl SqliteStore {
    /// Grants `person_key` the data source `ds_key` from `starts_at` to `expires_at`.
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
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let ds = SqliteStore::resolve_data_source(&tx, &ds_key)?;
            let person = resolve_person(&tx, &person_key)?;
            tx.execute(
                "INSERT INTO permission (person_id, data_source_id, starts_at, expires_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![person.id, ds.id, starts_at, expires_at, created_at],
            )?;
            let id = tx.last_insert_rowid();
            record(
                &tx,
                &ctx,
                &events::permission_granted(id, &person.id, &ds.id, starts_at, expires_at),
            )?;
            tx.commit()?;
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
        self.read(move |conn| {
            query_all(
                conn,
                &format!(
                    "SELECT {PERMISSION_COLUMNS} FROM permission ORDER BY id LIMIT ?1 OFFSET ?2"
                ),
                page.sql(),
                permission_from_row,
            )
        })
        .await
    }

    pub async fn find_permission(&self, id: i64) -> Result<PermissionRow, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {PERMISSION_COLUMNS} FROM permission WHERE id = ?1"
            ))?
            .query_row([id], permission_from_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(Entity::Permission, id.to_string()))
        })
        .await
    }

    pub async fn delete_permission(&self, id: i64, ctx: &AuditContext) -> Result<(), StoreError> {
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            if tx.execute("DELETE FROM permission WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::NotFound(Entity::Permission, id.to_string()));
            }
            record(&tx, &ctx, &events::permission_revoked(id))?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn scoped_permissions(
        &self,
        scope: PermissionScope,
    ) -> Result<Vec<PermissionRow>, StoreError> {
        self.read(move |conn| {
            let (filter, ids) = resolve_scope(conn, &scope)?;
            query_all(
                conn,
                &format!("SELECT {PERMISSION_COLUMNS} FROM permission WHERE {filter} ORDER BY id"),
                params_from_iter(ids),
                permission_from_row,
            )
        })
        .await
    }

    /// Deletes every permission in `scope`; how many were deleted.
    pub async fn delete_scoped_permissions(
        &self,
        scope: PermissionScope,
        ctx: &AuditContext,
    ) -> Result<usize, StoreError> {
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let (filter, ids) = resolve_scope(&tx, &scope)?;
            let data_source_id = ids[0].clone();
            let person_id = ids.get(1).cloned();
            let count = tx.execute(
                &format!("DELETE FROM permission WHERE {filter}"),
                params_from_iter(ids),
            )?;
            record(
                &tx,
                &ctx,
                &events::scoped_permissions_revoked(&data_source_id, person_id.as_deref(), count),
            )?;
            tx.commit()?;
            Ok(count)
        })
        .await
    }
}
