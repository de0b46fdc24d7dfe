//! People on PostgreSQL: unique usernames and (case-insensitive) emails, locking, and what
//! they can reach.

use tokio_postgres::Row;

use super::permissions::{permission_from_row, PERMISSION_COLUMNS};
use super::roles::{role_from_row, ROLE_COLUMNS};
use super::{
    connection, data_source_from_row, map_all, record, unique_violation, Db, PgStore,
    DATA_SOURCE_COLUMNS,
};
use crate::store::events;
use crate::store::{
    AuditContext, DataSourceRow, Entity, Page, PermissionRow, PersonRow, RoleRow, StoreError,
    Unique,
};

pub(super) const PERSON_COLUMNS: &str = "id, name, email, username, is_locked, created_at";

pub(super) fn person_from_row(row: &Row) -> Result<PersonRow, StoreError> {
    Ok(PersonRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        email: row.try_get(2)?,
        username: row.try_get(3)?,
        is_locked: row.try_get(4)?,
        created_at: row.try_get(5)?,
    })
}

fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// The person `key` names: an id, else a username, else an email (case-insensitive). `lock`
/// takes the row lock for the rest of the transaction.
pub(super) async fn resolve_person(
    db: Db<'_>,
    key: &str,
    lock: bool,
) -> Result<PersonRow, StoreError> {
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM person WHERE id = $1 OR username = $1 OR email_key = $2 \
         ORDER BY id = $1 DESC, username = $1 DESC LIMIT 1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    db.query_opt(&sql, &[&key, &email_key(key)])
        .await?
        .as_ref()
        .map(person_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(Entity::Person, key.to_owned()))
}

impl PgStore {
    pub async fn insert_person(
        &self,
        person: PersonRow,
        ctx: &AuditContext,
    ) -> Result<PersonRow, StoreError> {
        let ctx = ctx.clone();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let taken = |field, value: &str| StoreError::Taken {
                field,
                value: value.to_owned(),
            };
            // Checked in this order first so a clash on both names the username, as on SQLite;
            // the constraints below settle a race with another server.
            if db
                .query_opt("SELECT 1 FROM person WHERE username = $1", &[&person.username])
                .await?
                .is_some()
            {
                return Err(taken(Unique::Username, &person.username));
            }
            if db
                .query_opt(
                    "SELECT 1 FROM person WHERE email_key = $1",
                    &[&email_key(&person.email)],
                )
                .await?
                .is_some()
            {
                return Err(taken(Unique::Email, &person.email));
            }
            let inserted = db
                .execute(
                    "INSERT INTO person (id, name, email, email_key, username, is_locked, created_at) \
                     VALUES ($1, $2, $3, $4, $5, false, $6)",
                    &[
                        &person.id,
                        &person.name,
                        &person.email,
                        &email_key(&person.email),
                        &person.username,
                        &person.created_at,
                    ],
                )
                .await;
            match inserted.as_ref().err().and_then(unique_violation) {
                Some("person_username_unique") => {
                    return Err(taken(Unique::Username, &person.username))
                }
                Some("person_email_unique") => return Err(taken(Unique::Email, &person.email)),
                _ => inserted?,
            };
            record(
                db,
                &ctx,
                &events::person_created(&person),
            )
            .await?;
            tx.commit().await?;
            Ok(PersonRow {
                is_locked: false,
                ..person
            })
        })
        .await
    }

    pub async fn list_people(&self, page: Page) -> Result<Vec<PersonRow>, StoreError> {
        let (limit, offset) = page.pg();
        self.run("read", move |pool| async move {
            let client = connection(&pool).await?;
            let rows = Db::Client(&client)
                .query(
                    &format!("SELECT {PERSON_COLUMNS} FROM person ORDER BY seq LIMIT $1 OFFSET $2"),
                    &[&limit, &offset],
                )
                .await?;
            map_all(rows, person_from_row)
        })
        .await
    }

    pub async fn find_person(&self, key: &str) -> Result<PersonRow, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            resolve_person(Db::Client(&client), &key, false).await
        })
        .await
    }

    pub async fn set_person_locked(
        &self,
        key: &str,
        locked: bool,
        ctx: &AuditContext,
    ) -> Result<PersonRow, StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let mut person = resolve_person(db, &key, true).await?;
            if person.is_locked != locked {
                db.execute(
                    "UPDATE person SET is_locked = $2 WHERE id = $1",
                    &[&person.id, &locked],
                )
                .await?;
                record(db, &ctx, &events::person_locked(&person, locked)).await?;
            }
            tx.commit().await?;
            person.is_locked = locked;
            Ok(person)
        })
        .await
    }

    pub async fn delete_person(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let person = resolve_person(db, &key, true).await?;
            if !person.is_locked {
                return Err(StoreError::NotLocked(key));
            }
            db.execute("DELETE FROM person WHERE id = $1", &[&person.id])
                .await?;
            record(db, &ctx, &events::person_deleted(&person)).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub async fn reset_two_factor(&self, key: &str, ctx: &AuditContext) -> Result<(), StoreError> {
        let key = key.to_owned();
        let ctx = ctx.clone();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let person = resolve_person(db, &key, true).await?;
            db.execute(
                "UPDATE person SET two_factor = false WHERE id = $1",
                &[&person.id],
            )
            .await?;
            record(db, &ctx, &events::two_factor_reset(&person)).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub async fn person_roles(&self, key: &str) -> Result<Vec<RoleRow>, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let person = resolve_person(db, &key, false).await?;
            let rows = db
                .query(
                    &format!(
                        "SELECT {ROLE_COLUMNS}, NULL::BIGINT FROM role r \
                         JOIN role_person m ON m.role_id = r.id \
                         WHERE m.person_id = $1 ORDER BY r.seq"
                    ),
                    &[&person.id],
                )
                .await?;
            map_all(rows, role_from_row)
        })
        .await
    }

    pub async fn person_permissions(&self, key: &str) -> Result<Vec<PermissionRow>, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let person = resolve_person(db, &key, false).await?;
            let rows = db
                .query(
                    &format!(
                        "SELECT {PERMISSION_COLUMNS} FROM permission WHERE person_id = $1 \
                         ORDER BY id"
                    ),
                    &[&person.id],
                )
                .await?;
            map_all(rows, permission_from_row)
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
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let person = resolve_person(db, &key, true).await?;
            let count = db
                .execute("DELETE FROM permission WHERE person_id = $1", &[&person.id])
                .await? as usize;
            record(
                db,
                &ctx,
                &events::person_permissions_revoked(&person, count),
            )
            .await?;
            tx.commit().await?;
            Ok(count)
        })
        .await
    }

    pub async fn reachable_data_sources(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Vec<DataSourceRow>, StoreError> {
        let key = key.to_owned();
        self.run("read", move |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let person = resolve_person(db, &key, false).await?;
            if person.is_locked {
                return Ok(Vec::new());
            }
            let rows = db
                .query(
                    &format!(
                        "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id IN ( \
                           SELECT rd.data_source_id FROM role_data_source rd \
                             JOIN role_person rp ON rp.role_id = rd.role_id \
                             WHERE rp.person_id = $1 \
                           UNION \
                           SELECT data_source_id FROM permission \
                             WHERE person_id = $1 AND starts_at <= $2 AND $2 < expires_at) \
                         ORDER BY seq"
                    ),
                    &[&person.id, &now],
                )
                .await?;
            map_all(rows, data_source_from_row)
        })
        .await
    }
}
