//! People: unique usernames and (case-insensitive) emails, locking, and what they can reach.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::begin_write;

use super::audit::record;
use crate::store::AuditContext;

use super::permissions::{permission_from_row, PERMISSION_COLUMNS};
use super::roles::{role_from_row, ROLE_COLUMNS};
use super::SqliteStore;
use super::{data_source_from_row, is_unique_violation, query_all, DATA_SOURCE_COLUMNS};
use crate::store::events;
use crate::store::{
    DataSourceRow, Entity, Page, PermissionRow, PersonRow, RoleRow, StoreError, Unique,
};

pub(super) const PERSON_COLUMNS: &str = "id, name, email, username, is_locked, created_at";

pub(super) fn person_from_row(row: &Row<'_>) -> rusqlite::Result<PersonRow> {
    Ok(PersonRow {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        username: row.get(3)?,
        is_locked: row.get(4)?,
        created_at: row.get(5)?,
    })
}

pub(super) fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// The person `key` names: an id, else a username, else an email (case-insensitive).
pub(super) fn resolve_person(conn: &Connection, key: &str) -> Result<PersonRow, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {PERSON_COLUMNS} FROM person WHERE id = ?1 OR username = ?1 OR email_key = ?2 \
         ORDER BY id = ?1 DESC, username = ?1 DESC LIMIT 1"
    ))?
    .query_row(params![key, email_key(key)], person_from_row)
    .optional()?
    .ok_or_else(|| StoreError::NotFound(Entity::Person, key.to_owned()))
}

fn set_locked(
    conn: &Connection,
    key: &str,
    locked: bool,
    ctx: &AuditContext,
) -> Result<PersonRow, StoreError> {
    let mut person = resolve_person(conn, key)?;
    if person.is_locked != locked {
        conn.execute(
            "UPDATE person SET is_locked = ?2 WHERE id = ?1",
            params![person.id, locked],
        )?;
        record(conn, ctx, &events::person_locked(&person, locked))?;
    }
    person.is_locked = locked;
    Ok(person)
}

impl SqliteStore {
    pub async fn insert_person(
        &self,
        person: PersonRow,
        ctx: &AuditContext,
    ) -> Result<PersonRow, StoreError> {
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let taken = |field, value: &str| StoreError::Taken {
                field,
                value: value.to_owned(),
            };
            if tx
                .prepare_cached("SELECT 1 FROM person WHERE username = ?1")?
                .exists([&person.username])?
            {
                return Err(taken(Unique::Username, &person.username));
            }
            if tx
                .prepare_cached("SELECT 1 FROM person WHERE email_key = ?1")?
                .exists([email_key(&person.email)])?
            {
                return Err(taken(Unique::Email, &person.email));
            }
            tx.execute(
                "INSERT INTO person (id, name, email, email_key, username, is_locked, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![
                    person.id,
                    person.name,
                    person.email,
                    email_key(&person.email),
                    person.username,
                    person.created_at
                ],
            )
            .map_err(|e| match is_unique_violation(&e) {
                // The checks above ran in this transaction under the writer lock, so only
                // another process sharing the file could race them; report the username.
                true => taken(Unique::Username, &person.username),
                false => StoreError::Sqlite(e),
            })?;
            record(&tx, &ctx, &events::person_created(&person))?;
            tx.commit()?;
            Ok(PersonRow {
                is_locked: false,
                ..person
            })
        })
        .await
    }

    pub async fn list_people(&self, page: Page) -> Result<Vec<PersonRow>, StoreError> {
        self.read(move |conn| {
            query_all(
                conn,
                &format!("SELECT {PERSON_COLUMNS} FROM person ORDER BY seq LIMIT ?1 OFFSET ?2"),
                page.sql(),
                person_from_row,
            )
        })
        .await
    }

    pub async fn find_person(&self, key: &str) -> Result<PersonRow, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| resolve_person(conn, &key)).await
    }

    /// Locks or unlocks; doing it twice is the same as once.
    pub async fn set_person_locked(
        &self,
        key: &str,
        locked: bool,
        ctx: &AuditContext,
    ) -> Result<PersonRow, StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let person = set_locked(&tx, &key, locked, &ctx)?;
            tx.commit()?;
            Ok(person)
        })
        .await
    }

    /// Deletes a locked person with their memberships and permissions.
    pub async fn delete_person(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let person = resolve_person(&tx, &key)?;
            if !person.is_locked {
                return Err(StoreError::NotLocked(key));
            }
            tx.execute("DELETE FROM person WHERE id = ?1", [&person.id])?;
            record(&tx, &ctx, &events::person_deleted(&person))?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn reset_two_factor(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let person = resolve_person(&tx, &key)?;
            tx.execute(
                "UPDATE person SET two_factor = 0 WHERE id = ?1",
                [&person.id],
            )?;
            record(&tx, &ctx, &events::two_factor_reset(&person))?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn person_roles(&self, key: &str) -> Result<Vec<RoleRow>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            let person = resolve_person(conn, &key)?;
            query_all(
                conn,
                &format!(
                "SELECT {ROLE_COLUMNS}, NULL FROM role r JOIN role_person m ON m.role_id = r.id \
                 WHERE m.person_id = ?1 ORDER BY r.seq"
            ),
                [&person.id],
                role_from_row,
            )
        })
        .await
    }

    pub async fn person_permissions(&self, key: &str) -> Result<Vec<PermissionRow>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            let person = resolve_person(conn, &key)?;
            query_all(
                conn,
                &format!(
                    "SELECT {PERMISSION_COLUMNS} FROM permission WHERE person_id = ?1 ORDER BY id"
                ),
                [&person.id],
                permission_from_row,
            )
        })
        .await
    }

    pub async fn delete_person_permissions(
        &self,
        key: &str,
        ctx: &AuditContext,
    ) -> Result<usize, StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let person = resolve_person(&tx, &key)?;
            let count = tx.execute("DELETE FROM permission WHERE person_id = ?1", [&person.id])?;
            record(
                &tx,
                &ctx,
                &events::person_permissions_revoked(&person, count),
            )?;
            tx.commit()?;
            Ok(count)
        })
        .await
    }

    /// The data sources `key` can reach at `now`: through any of their roles, or a permission
    /// whose window contains `now`. Each once, oldest first; none for a locked person.
    pub async fn reachable_data_sources(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Vec<DataSourceRow>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            let person = resolve_person(conn, &key)?;
            if person.is_locked {
                return Ok(Vec::new());
            }
            query_all(
                conn,
                &format!(
                    "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id IN ( \
                   SELECT rd.data_source_id FROM role_data_source rd \
                     JOIN role_person rp ON rp.role_id = rd.role_id WHERE rp.person_id = ?1 \
                   UNION \
                   SELECT data_source_id FROM permission \
                     WHERE person_id = ?1 AND starts_at <= ?2 AND ?2 < expires_at) \
                 ORDER BY seq"
                ),
                params![person.id, now],
                data_source_from_row,
            )
        })
        .await
    }
}
