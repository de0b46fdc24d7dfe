//! The row operations the use cases build on: one SQL statement each, written once for both
//! backends (see `tx.rs` for the dialect), with the row mapping beside it. No rule lives here:
//! which checks come first, what a change records in the audit trail and when `updated_at`
//! moves are decided in `crate::app`.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use super::model::{KEY_CHECK, ROTATION_KEY_CHECK, ROTATION_KEY_FILE};
use super::tx::{params, Param, Record, Tx};
use super::{
    ApiKeyRow, AuditContext, AuditEvent, AuditFilter, AuditRow, DataSourceRow, FailureRun, KeyMeta,
    Member, Page, PendingRotation, PermissionRow, PersonRow, RecentTest, RoleRow,
    SchemaSnapshotRow, SealedColumn, SealedCounts, StoreError, TestHistoryRow, TestReportRow,
    UiSessionRow,
};
use jackal_drivers::Kind;

use crate::domain::ids::{DataSourceId, PersonId, RoleId};

/// `FOR UPDATE` or nothing: whether a read takes the row's lock for the rest of the
/// transaction (PostgreSQL; SQLite's writer already holds the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    No,
    ForUpdate,
}

impl Lock {
    fn clause(self) -> &'static str {
        match self {
            Lock::No => "",
            Lock::ForUpdate => " FOR UPDATE",
        }
    }
}

impl Page {
    /// `LIMIT $a OFFSET $b` and `… > $c`'s values: no limit is the largest one, no start the
    /// smallest (a plain bound, not `$c IS NULL OR …`, so the range is an index seek).
    fn bounds(self) -> (i64, i64, i64) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        (
            self.limit.map_or(i64::MAX, clamp),
            clamp(self.offset),
            self.after.unwrap_or(i64::MIN),
        )
    }
}

/// A row with its place in its list's order (`seq`, read as the last column).
fn placed<T>(
    column: usize,
    row: fn(Record) -> Result<T, StoreError>,
) -> impl Fn(Record) -> Result<(i64, T), StoreError> {
    move |mut r| Ok((r.int(column)?, row(r)?))
}

const DATA_SOURCE_COLUMNS: &str = "id, name, alias, type, config_uri, password_enc, \
     created_at, updated_at, seq, description, last_test_ok, last_tested_at, ssh_secret_enc, \
     ssh_auth, tls_secret_enc, tls_shown";

fn data_source(mut r: Record) -> Result<DataSourceRow, StoreError> {
    Ok(DataSourceRow {
        id: DataSourceId::stored(r.text(0)?),
        name: r.text(1)?,
        alias: r.opt_text(2)?,
        kind: {
            let stored = r.text(3)?;
            Kind::from_canonical(&stored)
                .ok_or_else(|| StoreError::Decode(format!("type: no such kind {stored:?}")))?
        },
        config_uri: r.text(4)?,
        password_enc: r.opt_bytes(5)?,
        created_at: r.int(6)?,
        updated_at: r.int(7)?,
        seq: r.int(8)?,
        description: r.text(9)?,
        last_test_ok: r.opt_bool(10)?,
        last_tested_at: r.opt_int(11)?,
        ssh_secret_enc: r.opt_bytes(12)?,
        ssh_auth: r.opt_text(13)?,
        tls_secret_enc: r.opt_bytes(14)?,
        tls_shown: r.opt_text(15)?,
    })
}

const PERSON_COLUMNS: &str = "id, name, email, username, is_locked, created_at";

fn person(mut r: Record) -> Result<PersonRow, StoreError> {
    Ok(PersonRow {
        id: PersonId::stored(r.text(0)?),
        name: r.text(1)?,
        email: r.text(2)?,
        username: r.text(3)?,
        is_locked: r.bool(4)?,
        created_at: r.int(5)?,
    })
}

/// `ROLE_COLUMNS` and an `assigned_at` column (NULL where it means nothing).
const ROLE_COLUMNS: &str = "r.id, r.name, r.created_at, r.updated_at";

fn role(mut r: Record) -> Result<RoleRow, StoreError> {
    Ok(RoleRow {
        id: RoleId::stored(r.text(0)?),
        name: r.text(1)?,
        created_at: r.int(2)?,
        updated_at: r.int(3)?,
        assigned_at: r.opt_int(4)?,
    })
}

const PERMISSION_COLUMNS: &str = "id, person_id, data_source_id, starts_at, expires_at, created_at";

fn permission(mut r: Record) -> Result<PermissionRow, StoreError> {
    Ok(PermissionRow {
        id: r.int(0)?,
        person_id: PersonId::stored(r.text(1)?),
        data_source_id: DataSourceId::stored(r.text(2)?),
        starts_at: r.int(3)?,
        expires_at: r.int(4)?,
        created_at: r.int(5)?,
    })
}

fn api_key(mut r: Record) -> Result<ApiKeyRow, StoreError> {
    Ok(ApiKeyRow {
        id: r.text(0)?,
        name: r.text(1)?,
        secret_sha256: r.bytes(2)?,
        created_at: r.int(3)?,
        revoked_at: r.opt_int(4)?,
    })
}

fn audit(mut r: Record) -> Result<AuditRow, StoreError> {
    let changes = r.text(7)?;
    Ok(AuditRow {
        id: r.int(0)?,
        at: r.int(1)?,
        api_key_id: r.opt_text(2)?,
        client_addr: r.opt_text(3)?,
        action: r.text(4)?,
        object_type: r.text(5)?,
        object_id: r.text(6)?,
        changes: serde_json::from_str(&changes).unwrap_or(serde_json::Value::String(changes)),
    })
}

fn snapshot(mut r: Record) -> Result<SchemaSnapshotRow, StoreError> {
    Ok(SchemaSnapshotRow {
        data_source_id: DataSourceId::stored(r.text(0)?),
        fetched_at: r.int(1)?,
        duration_ms: r.int(2)?,
        snapshot: r.text(3)?,
    })
}

/// The one row a statement returns (`INSERT … RETURNING`, `count(*)`).
fn one(records: Vec<Record>, what: &str) -> Result<Record, StoreError> {
    records
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Decode(format!("{what} gave no row")))
}

fn all<T>(
    records: Vec<Record>,
    map: impl Fn(Record) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    records.into_iter().map(map).collect()
}

/// Of the rows one key matched in several columns (an id, else an alias or a name), the one
/// of the lowest `rank`. Chosen here rather than by `ORDER BY … LIMIT 1`, for which SQLite
/// builds a temporary b-tree on every lookup: a third of a GET's time.
fn preferred<T>(rows: Vec<T>, rank: impl Fn(&T) -> usize) -> Option<T> {
    rows.into_iter().min_by_key(|row| rank(row))
}

fn first<T>(
    records: Vec<Record>,
    map: impl Fn(Record) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    records.into_iter().next().map(map).transpose()
}

/// `substr` of a BLOB or `bytea` counts bytes; an empty prefix matches every value.
fn prefixed(column: &str, prefix: &[u8], param: usize) -> String {
    format!("substr({column}, 1, {}) = ${param}", prefix.len())
}

/// An email as it is compared: case-insensitively.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

const UPSERT_META: &str = "INSERT INTO meta (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

impl dyn Tx + '_ {
    // ---- meta: the secret key's check value and a pending rotation ----

    pub async fn key_meta(&mut self) -> Result<KeyMeta, StoreError> {
        let records = self
            .query(
                "SELECT key, value FROM meta WHERE key IN ($1, $2, $3)",
                &params![KEY_CHECK, ROTATION_KEY_FILE, ROTATION_KEY_CHECK],
            )
            .await?;
        let mut meta = KeyMeta::default();
        let (mut file, mut check) = (None, None);
        for mut record in records {
            let (key, value) = (record.text(0)?, record.bytes(1)?);
            match key.as_str() {
                KEY_CHECK => meta.key_check = Some(value),
                ROTATION_KEY_FILE => file = Some(PathBuf::from(OsString::from_vec(value))),
                _ => check = Some(value),
            }
        }
        if let (Some(key_file), Some(key_check)) = (file, check) {
            meta.pending = Some(PendingRotation {
                key_file,
                key_check,
            });
        }
        Ok(meta)
    }

    pub async fn set_key_check(&mut self, value: &[u8]) -> Result<(), StoreError> {
        self.execute(UPSERT_META, &params![KEY_CHECK, value])
            .await
            .map(drop)
    }

    pub async fn set_pending_rotation(
        &mut self,
        pending: &PendingRotation,
    ) -> Result<(), StoreError> {
        let file = pending.key_file.as_os_str().as_bytes();
        self.execute(UPSERT_META, &params![ROTATION_KEY_FILE, file])
            .await?;
        self.execute(
            UPSERT_META,
            &params![ROTATION_KEY_CHECK, pending.key_check.as_slice()],
        )
        .await
        .map(drop)
    }

    pub async fn clear_pending_rotation(&mut self) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM meta WHERE key IN ($1, $2)",
            &params![ROTATION_KEY_FILE, ROTATION_KEY_CHECK],
        )
        .await
        .map(drop)
    }

    /// Locks the meta rows (PostgreSQL) so two rotations' last steps cannot interleave.
    pub async fn lock_key_meta(&mut self) -> Result<(), StoreError> {
        self.query(
            "SELECT key FROM meta WHERE key = $1 FOR UPDATE",
            &params![KEY_CHECK],
        )
        .await
        .map(drop)
    }

    // ---- data sources ----

    /// The data source `key` names: an id wins over an alias.
    pub async fn data_source(
        &mut self,
        key: &str,
        lock: Lock,
    ) -> Result<Option<DataSourceRow>, StoreError> {
        let sql = format!(
            "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id = $1 OR alias = $1{}",
            lock.clause()
        );
        let rows = all(self.query(&sql, &params![key]).await?, data_source)?;
        Ok(preferred(rows, |row| usize::from(row.id.as_str() != key)))
    }

    pub async fn data_sources(&mut self, page: Page) -> Result<Vec<DataSourceRow>, StoreError> {
        let (limit, offset, after) = page.bounds();
        let sql = format!(
            "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE seq > $3 ORDER BY seq \
             LIMIT $1 OFFSET $2"
        );
        all(
            self.query(&sql, &params![limit, offset, after]).await?,
            data_source,
        )
    }

    /// Whether a data source other than `except` has `alias`.
    pub async fn alias_used(
        &mut self,
        alias: &str,
        except: &DataSourceId,
    ) -> Result<bool, StoreError> {
        let found = self
            .query(
                "SELECT 1 FROM data_source WHERE alias = $1 AND id <> $2",
                &params![alias, except.as_str()],
            )
            .await?;
        Ok(!found.is_empty())
    }

    /// Inserts `row`; the store's creation-order number it was given.
    pub async fn insert_data_source(&mut self, row: &DataSourceRow) -> Result<i64, StoreError> {
        let records = self
            .query(
                "INSERT INTO data_source (id, name, alias, type, config_uri, password_enc, \
                 created_at, updated_at, description, last_test_ok, last_tested_at, \
                 ssh_secret_enc, ssh_auth, tls_secret_enc, tls_shown) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 RETURNING seq",
                &params![
                    row.id.as_str(),
                    &row.name,
                    row.alias.as_deref(),
                    row.kind.as_str(),
                    &row.config_uri,
                    row.password_enc.as_deref(),
                    row.created_at,
                    row.updated_at,
                    &row.description,
                    row.last_test_ok,
                    row.last_tested_at,
                    row.ssh_secret_enc.as_deref(),
                    row.ssh_auth.as_deref(),
                    row.tls_secret_enc.as_deref(),
                    row.tls_shown.as_deref(),
                ],
            )
            .await?;
        one(records, "INSERT … RETURNING seq")?.int(0)
    }

    /// Writes every column of `row` but its id, seq and creation time.
    pub async fn update_data_source(&mut self, row: &DataSourceRow) -> Result<(), StoreError> {
        self.execute(
            "UPDATE data_source SET name = $2, alias = $3, type = $4, config_uri = $5, \
             password_enc = $6, updated_at = $7, description = $8, last_test_ok = $9, \
             last_tested_at = $10, ssh_secret_enc = $11, ssh_auth = $12, tls_secret_enc = $13, \
             tls_shown = $14 WHERE id = $1",
            &params![
                row.id.as_str(),
                &row.name,
                row.alias.as_deref(),
                row.kind.as_str(),
                &row.config_uri,
                row.password_enc.as_deref(),
                row.updated_at,
                &row.description,
                row.last_test_ok,
                row.last_tested_at,
                row.ssh_secret_enc.as_deref(),
                row.ssh_auth.as_deref(),
                row.tls_secret_enc.as_deref(),
                row.tls_shown.as_deref(),
            ],
        )
        .await
        .map(drop)
    }

    /// Deletes a data source; its memberships, permissions and snapshot go with it (foreign
    /// keys). Whether it was there.
    pub async fn delete_data_source(&mut self, id: &DataSourceId) -> Result<bool, StoreError> {
        let deleted = self
            .execute(
                "DELETE FROM data_source WHERE id = $1",
                &params![id.as_str()],
            )
            .await?;
        Ok(deleted > 0)
    }

    /// Sets (or, with `None`, forgets) how the last test of a data source ended.
    pub async fn set_test_outcome(
        &mut self,
        id: &DataSourceId,
        outcome: Option<(bool, i64)>,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE data_source SET last_test_ok = $2, last_tested_at = $3 WHERE id = $1",
            &params![
                id.as_str(),
                outcome.map(|(ok, _)| ok),
                outcome.map(|(_, at)| at)
            ],
        )
        .await
        .map(drop)
    }

    // ---- sealed passwords, as opaque bytes ----

    /// How many data sources there are, how many have a password, and how many of those are
    /// sealed into a value starting with `prefix`.
    pub async fn sealed_counts(
        &mut self,
        column: SealedColumn,
        prefix: &[u8],
    ) -> Result<SealedCounts, StoreError> {
        let c = column.name();
        let sql = format!(
            "SELECT count(*), count({c}), \
             count(*) FILTER (WHERE {c} IS NOT NULL AND {}) FROM data_source",
            prefixed(c, prefix, 1)
        );
        let mut record = one(self.query(&sql, &params![prefix]).await?, "count(*)")?;
        let count = |n: i64| n.max(0) as u64;
        Ok(SealedCounts {
            data_sources: count(record.int(0)?),
            with_password: count(record.int(1)?),
            with_prefix: count(record.int(2)?),
        })
    }

    /// Sealed passwords not starting with `prefix`, in creation order after `after_seq`: at
    /// most `limit` of them, each `(seq, id, sealed)`, locked for the rest of the transaction.
    pub async fn sealed_without_prefix(
        &mut self,
        column: SealedColumn,
        after_seq: i64,
        prefix: &[u8],
        limit: Option<i64>,
    ) -> Result<Vec<(i64, DataSourceId, Vec<u8>)>, StoreError> {
        let c = column.name();
        let sql = format!(
            "SELECT seq, id, {c} FROM data_source \
             WHERE seq > $1 AND {c} IS NOT NULL AND NOT {} \
             ORDER BY seq LIMIT $3 FOR UPDATE",
            prefixed(c, prefix, 2)
        );
        let limit = limit.unwrap_or(i64::MAX);
        let records = self.query(&sql, &params![after_seq, prefix, limit]).await?;
        all(records, |mut r| {
            Ok((r.int(0)?, DataSourceId::stored(r.text(1)?), r.bytes(2)?))
        })
    }

    /// Every data source id and sealed password starting with `prefix`.
    pub async fn sealed_with_prefix(
        &mut self,
        column: SealedColumn,
        prefix: &[u8],
    ) -> Result<Vec<(DataSourceId, Vec<u8>)>, StoreError> {
        let c = column.name();
        let sql = format!(
            "SELECT id, {c} FROM data_source WHERE {c} IS NOT NULL AND {} ORDER BY seq",
            prefixed(c, prefix, 1)
        );
        all(self.query(&sql, &params![prefix]).await?, |mut r| {
            Ok((DataSourceId::stored(r.text(0)?), r.bytes(1)?))
        })
    }

    /// Replaces a sealed value, only if it is still `old` when given; whether it did.
    /// `updated_at` stays: re-sealing does not change the data source.
    pub async fn reseal(
        &mut self,
        column: SealedColumn,
        id: &DataSourceId,
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let c = column.name();
        let changed = match old {
            Some(old) => {
                self.execute(
                    &format!("UPDATE data_source SET {c} = $3 WHERE id = $1 AND {c} = $2"),
                    &params![id.as_str(), old, new],
                )
                .await?
            }
            None => {
                self.execute(
                    &format!("UPDATE data_source SET {c} = $2 WHERE id = $1"),
                    &params![id.as_str(), new],
                )
                .await?
            }
        };
        Ok(changed == 1)
    }

    // ---- API keys ----

    pub async fn insert_api_key(&mut self, row: &ApiKeyRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO api_key (id, name, secret_sha256, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &params![
                &row.id,
                &row.name,
                row.secret_sha256.as_slice(),
                row.created_at,
                row.revoked_at,
            ],
        )
        .await
        .map(drop)
    }

    pub async fn api_key(&mut self, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        let records = self
            .query(
                "SELECT id, name, secret_sha256, created_at, revoked_at FROM api_key WHERE id = $1",
                &params![id],
            )
            .await?;
        first(records, api_key)
    }

    pub async fn api_keys(&mut self) -> Result<Vec<ApiKeyRow>, StoreError> {
        let records = self
            .query(
                "SELECT id, name, secret_sha256, created_at, revoked_at FROM api_key \
                 ORDER BY created_at, id",
                &[],
            )
            .await?;
        all(records, api_key)
    }

    /// Marks an active key revoked; whether one was.
    pub async fn revoke_api_key(&mut self, id: &str, at: i64) -> Result<bool, StoreError> {
        let changed = self
            .execute(
                "UPDATE api_key SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &params![id, at],
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn set_api_key_secret(
        &mut self,
        id: &str,
        secret_sha256: &[u8],
    ) -> Result<bool, StoreError> {
        let changed = self
            .execute(
                "UPDATE api_key SET secret_sha256 = $2 WHERE id = $1",
                &params![id, secret_sha256],
            )
            .await?;
        Ok(changed == 1)
    }

    // ---- people ----

    /// The person `key` names: an id, else a username, else an email (case-insensitive).
    pub async fn person(&mut self, key: &str, lock: Lock) -> Result<Option<PersonRow>, StoreError> {
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM person WHERE id = $1 OR username = $1 OR email_key = $2{}",
            lock.clause()
        );
        let email = email_key(key);
        let rows = all(self.query(&sql, &params![key, &email]).await?, person)?;
        Ok(preferred(rows, |row| {
            if row.id.as_str() == key {
                0
            } else if row.username == key {
                1
            } else {
                2
            }
        }))
    }

    /// People with their `seq`, oldest first.
    pub async fn people(&mut self, page: Page) -> Result<Vec<(i64, PersonRow)>, StoreError> {
        let (limit, offset, after) = page.bounds();
        let sql = format!(
            "SELECT {PERSON_COLUMNS}, seq FROM person WHERE seq > $3 ORDER BY seq \
             LIMIT $1 OFFSET $2"
        );
        all(
            self.query(&sql, &params![limit, offset, after]).await?,
            placed(6, person),
        )
    }

    pub async fn username_used(&mut self, username: &str) -> Result<bool, StoreError> {
        let found = self
            .query(
                "SELECT 1 FROM person WHERE username = $1",
                &params![username],
            )
            .await?;
        Ok(!found.is_empty())
    }

    pub async fn email_used(&mut self, email: &str) -> Result<bool, StoreError> {
        let key = email_key(email);
        let found = self
            .query("SELECT 1 FROM person WHERE email_key = $1", &params![&key])
            .await?;
        Ok(!found.is_empty())
    }

    pub async fn insert_person(&mut self, row: &PersonRow) -> Result<(), StoreError> {
        let key = email_key(&row.email);
        self.execute(
            "INSERT INTO person (id, name, email, email_key, username, is_locked, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &params![
                row.id.as_str(),
                &row.name,
                &row.email,
                &key,
                &row.username,
                row.is_locked,
                row.created_at,
            ],
        )
        .await
        .map(drop)
    }

    pub async fn set_person_locked(
        &mut self,
        id: &PersonId,
        locked: bool,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE person SET is_locked = $2 WHERE id = $1",
            &params![id.as_str(), locked],
        )
        .await
        .map(drop)
    }

    pub async fn reset_two_factor(&mut self, id: &PersonId) -> Result<(), StoreError> {
        self.execute(
            "UPDATE person SET two_factor = $2 WHERE id = $1",
            &params![id.as_str(), false],
        )
        .await
        .map(drop)
    }

    /// Deletes a person; memberships and permissions go with them (foreign keys).
    pub async fn delete_person(&mut self, id: &PersonId) -> Result<(), StoreError> {
        self.execute("DELETE FROM person WHERE id = $1", &params![id.as_str()])
            .await
            .map(drop)
    }

    /// The data sources `id` can reach at `now`: through any of their roles, or a permission
    /// whose window contains `now`. Each once, oldest first.
    pub async fn reachable_data_sources(
        &mut self,
        id: &PersonId,
        now: i64,
    ) -> Result<Vec<DataSourceRow>, StoreError> {
        let sql = format!(
            "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id IN ( \
               SELECT rd.data_source_id FROM role_data_source rd \
                 JOIN role_person rp ON rp.role_id = rd.role_id WHERE rp.person_id = $1 \
               UNION \
               SELECT data_source_id FROM permission \
                 WHERE person_id = $1 AND starts_at <= $2 AND $2 < expires_at) \
             ORDER BY seq"
        );
        all(
            self.query(&sql, &params![id.as_str(), now]).await?,
            data_source,
        )
    }

    // ---- roles ----

    /// The role `key` names: an id, else a name.
    pub async fn role(&mut self, key: &str, lock: Lock) -> Result<Option<RoleRow>, StoreError> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS}, CAST(NULL AS BIGINT) FROM role r \
             WHERE r.id = $1 OR r.name = $1{}",
            lock.clause()
        );
        let rows = all(self.query(&sql, &params![key]).await?, role)?;
        Ok(preferred(rows, |row| usize::from(row.id.as_str() != key)))
    }

    /// Roles with their `seq`, oldest first.
    pub async fn roles(&mut self, page: Page) -> Result<Vec<(i64, RoleRow)>, StoreError> {
        let (limit, offset, after) = page.bounds();
        let sql = format!(
            "SELECT {ROLE_COLUMNS}, CAST(NULL AS BIGINT), r.seq FROM role r WHERE r.seq > $3 \
             ORDER BY r.seq LIMIT $1 OFFSET $2"
        );
        all(
            self.query(&sql, &params![limit, offset, after]).await?,
            placed(5, role),
        )
    }

    pub async fn role_name_used(&mut self, name: &str) -> Result<bool, StoreError> {
        let found = self
            .query("SELECT 1 FROM role WHERE name = $1", &params![name])
            .await?;
        Ok(!found.is_empty())
    }

    pub async fn insert_role(&mut self, row: &RoleRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO role (id, name, created_at, updated_at) VALUES ($1, $2, $3, $4)",
            &params![row.id.as_str(), &row.name, row.created_at, row.updated_at],
        )
        .await
        .map(drop)
    }

    pub async fn set_role_updated_at(&mut self, id: &RoleId, at: i64) -> Result<(), StoreError> {
        self.execute(
            "UPDATE role SET updated_at = $2 WHERE id = $1",
            &params![id.as_str(), at],
        )
        .await
        .map(drop)
    }

    /// Deletes a role; its memberships go with it (foreign keys).
    pub async fn delete_role(&mut self, id: &RoleId) -> Result<(), StoreError> {
        self.execute("DELETE FROM role WHERE id = $1", &params![id.as_str()])
            .await
            .map(drop)
    }

    pub async fn role_data_sources(
        &mut self,
        id: &RoleId,
    ) -> Result<Vec<DataSourceRow>, StoreError> {
        let sql = format!(
            "SELECT {DATA_SOURCE_COLUMNS} FROM data_source WHERE id IN \
             (SELECT data_source_id FROM role_data_source WHERE role_id = $1) ORDER BY seq"
        );
        all(self.query(&sql, &params![id.as_str()]).await?, data_source)
    }

    pub async fn role_people(&mut self, id: &RoleId) -> Result<Vec<PersonRow>, StoreError> {
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM person WHERE id IN \
             (SELECT person_id FROM role_person WHERE role_id = $1) ORDER BY seq"
        );
        all(self.query(&sql, &params![id.as_str()]).await?, person)
    }

    pub async fn person_roles(&mut self, id: &PersonId) -> Result<Vec<RoleRow>, StoreError> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS}, CAST(NULL AS BIGINT) FROM role r \
             JOIN role_person m ON m.role_id = r.id WHERE m.person_id = $1 ORDER BY r.seq"
        );
        all(self.query(&sql, &params![id.as_str()]).await?, role)
    }

    /// The roles containing a data source, each with when it was added.
    pub async fn data_source_roles(
        &mut self,
        id: &DataSourceId,
    ) -> Result<Vec<RoleRow>, StoreError> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS}, m.assigned_at FROM role r \
             JOIN role_data_source m ON m.role_id = r.id WHERE m.data_source_id = $1 \
             ORDER BY r.seq"
        );
        all(self.query(&sql, &params![id.as_str()]).await?, role)
    }

    /// Adds a member unless it is one; whether it was added.
    pub async fn add_member(
        &mut self,
        role: &RoleId,
        kind: Member,
        member: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let sql = match kind {
            Member::DataSource => {
                "INSERT INTO role_data_source (role_id, data_source_id, assigned_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            }
            Member::Person => {
                "INSERT INTO role_person (role_id, person_id, assigned_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            }
        };
        Ok(self
            .execute(sql, &params![role.as_str(), member, at])
            .await?
            > 0)
    }

    /// Removes a member if it is one; whether it was removed.
    pub async fn remove_member(
        &mut self,
        role: &RoleId,
        kind: Member,
        member: &str,
    ) -> Result<bool, StoreError> {
        let sql = match kind {
            Member::DataSource => {
                "DELETE FROM role_data_source WHERE role_id = $1 AND data_source_id = $2"
            }
            Member::Person => "DELETE FROM role_person WHERE role_id = $1 AND person_id = $2",
        };
        Ok(self.execute(sql, &params![role.as_str(), member]).await? > 0)
    }

    // ---- permissions ----

    /// Inserts a permission; its new id (ids are never reused).
    pub async fn insert_permission(
        &mut self,
        person: &PersonId,
        data_source: &DataSourceId,
        starts_at: i64,
        expires_at: i64,
        created_at: i64,
    ) -> Result<i64, StoreError> {
        let records = self
            .query(
                "INSERT INTO permission (person_id, data_source_id, starts_at, expires_at, \
                 created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &params![
                    person.as_str(),
                    data_source.as_str(),
                    starts_at,
                    expires_at,
                    created_at
                ],
            )
            .await?;
        one(records, "INSERT … RETURNING id")?.int(0)
    }

    pub async fn permission(&mut self, id: i64) -> Result<Option<PermissionRow>, StoreError> {
        let sql = format!("SELECT {PERMISSION_COLUMNS} FROM permission WHERE id = $1");
        first(self.query(&sql, &params![id]).await?, permission)
    }

    pub async fn permissions(&mut self, page: Page) -> Result<Vec<PermissionRow>, StoreError> {
        let (limit, offset, after) = page.bounds();
        let sql = format!(
            "SELECT {PERMISSION_COLUMNS} FROM permission WHERE id > $3 ORDER BY id \
             LIMIT $1 OFFSET $2"
        );
        all(
            self.query(&sql, &params![limit, offset, after]).await?,
            permission,
        )
    }

    /// Whether it was there.
    pub async fn delete_permission(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .execute("DELETE FROM permission WHERE id = $1", &params![id])
            .await?
            > 0)
    }

    /// The permissions of a data source, of one person on it when `person` is given.
    pub async fn scoped_permissions(
        &mut self,
        data_source: &DataSourceId,
        person: Option<&PersonId>,
    ) -> Result<Vec<PermissionRow>, StoreError> {
        let sql = format!(
            "SELECT {PERMISSION_COLUMNS} FROM permission WHERE data_source_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR person_id = $2) ORDER BY id"
        );
        let records = self
            .query(
                &sql,
                &params![data_source.as_str(), person.map(PersonId::as_str)],
            )
            .await?;
        all(records, permission)
    }

    /// Deletes what `scoped_permissions` lists; how many.
    pub async fn delete_scoped_permissions(
        &mut self,
        data_source: &DataSourceId,
        person: Option<&PersonId>,
    ) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM permission WHERE data_source_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR person_id = $2)",
            &params![data_source.as_str(), person.map(PersonId::as_str)],
        )
        .await
    }

    pub async fn person_permissions(
        &mut self,
        id: &PersonId,
    ) -> Result<Vec<PermissionRow>, StoreError> {
        let sql =
            format!("SELECT {PERMISSION_COLUMNS} FROM permission WHERE person_id = $1 ORDER BY id");
        all(self.query(&sql, &params![id.as_str()]).await?, permission)
    }

    /// Deletes every permission of a person; how many.
    pub async fn delete_person_permissions(&mut self, id: &PersonId) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM permission WHERE person_id = $1",
            &params![id.as_str()],
        )
        .await
    }

    // ---- test history ----

    /// Adds `row` to its data source's history and drops all but the newest `keep` of it (ties
    /// at the cut, results of one millisecond, stay).
    pub async fn add_test_history(
        &mut self,
        row: &TestHistoryRow,
        keep: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO test_history (data_source_id, tested_at, success, error_code, \
             duration_us, product_name, product_version) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &params![
                row.data_source_id.as_str(),
                row.tested_at,
                row.success,
                row.error_code.as_deref(),
                row.duration_us,
                row.product_name.as_deref(),
                row.product_version.as_deref()
            ],
        )
        .await?;
        self.execute(
            "DELETE FROM test_history WHERE data_source_id = $1 AND tested_at < \
             (SELECT tested_at FROM test_history WHERE data_source_id = $1 \
              ORDER BY tested_at DESC LIMIT 1 OFFSET $2)",
            &params![row.data_source_id.as_str(), keep - 1],
        )
        .await
        .map(drop)
    }

    /// A data source's history at or after `since`, newest first, at most `limit`.
    pub async fn test_history(
        &mut self,
        id: &DataSourceId,
        since: i64,
        limit: i64,
    ) -> Result<Vec<TestHistoryRow>, StoreError> {
        let records = self
            .query(
                "SELECT data_source_id, tested_at, success, error_code, duration_us, \
                 product_name, product_version FROM test_history \
                 WHERE data_source_id = $1 AND tested_at >= $2 \
                 ORDER BY tested_at DESC LIMIT $3",
                &params![id.as_str(), since, limit],
            )
            .await?;
        records
            .into_iter()
            .map(|mut r| {
                Ok(TestHistoryRow {
                    data_source_id: DataSourceId::stored(r.text(0)?),
                    tested_at: r.int(1)?,
                    success: r.opt_bool(2)?.unwrap_or(false),
                    error_code: r.opt_text(3)?,
                    duration_us: r.int(4)?,
                    product_name: r.opt_text(5)?,
                    product_version: r.opt_text(6)?,
                })
            })
            .collect()
    }

    /// When the current run of failures began, for data source `id` or every data source
    /// (`None`): the first failure after the last success kept in the history, with the run's
    /// length as kept and whether a success was kept before it. One pass over the history,
    /// whatever the fleet's size.
    pub async fn failure_runs(
        &mut self,
        id: Option<&DataSourceId>,
    ) -> Result<Vec<FailureRun>, StoreError> {
        let records = self
            .query(
                "SELECT f.data_source_id, MIN(f.tested_at), COUNT(*), MAX(u.up_at) \
                 FROM test_history f LEFT JOIN \
                 (SELECT data_source_id, MAX(tested_at) AS up_at FROM test_history \
                  WHERE success GROUP BY data_source_id) AS u \
                 ON u.data_source_id = f.data_source_id \
                 WHERE NOT f.success AND (u.up_at IS NULL OR f.tested_at > u.up_at) \
                 AND (CAST($1 AS TEXT) IS NULL OR f.data_source_id = $1) \
                 GROUP BY f.data_source_id",
                &params![id.map(DataSourceId::as_str)],
            )
            .await?;
        all(records, |mut r| {
            Ok(FailureRun {
                data_source_id: DataSourceId::stored(r.text(0)?),
                since: r.int(1)?,
                failures: r.int(2)?,
                after_success: r.opt_int(3)?.is_some(),
            })
        })
    }

    // ---- the monitor's claims ----

    /// Claims the periodic test of data source `id` in `period`; whether this caller got it
    /// (another server's claim, or a deleted data source, says no).
    pub async fn claim_monitor_test(
        &mut self,
        id: &DataSourceId,
        period: i64,
    ) -> Result<bool, StoreError> {
        let inserted = self
            .execute(
                "INSERT INTO monitor_claim (data_source_id, period) \
                 SELECT id, CAST($2 AS BIGINT) FROM data_source WHERE id = $1 \
                 ON CONFLICT DO NOTHING",
                &params![id.as_str(), period],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Deletes the claims of periods before `period`.
    pub async fn forget_monitor_claims(&mut self, period: i64) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM monitor_claim WHERE period < $1",
            &params![period],
        )
        .await
    }

    // ---- schema snapshots ----

    pub async fn put_schema_snapshot(&mut self, row: &SchemaSnapshotRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO schema_snapshot (data_source_id, fetched_at, duration_ms, snapshot) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (data_source_id) DO UPDATE SET \
             fetched_at = excluded.fetched_at, duration_ms = excluded.duration_ms, \
             snapshot = excluded.snapshot",
            &params![
                row.data_source_id.as_str(),
                row.fetched_at,
                row.duration_ms,
                &row.snapshot
            ],
        )
        .await
        .map(drop)
    }

    pub async fn schema_snapshot(
        &mut self,
        id: &DataSourceId,
    ) -> Result<Option<SchemaSnapshotRow>, StoreError> {
        let records = self
            .query(
                "SELECT data_source_id, fetched_at, duration_ms, snapshot FROM schema_snapshot \
                 WHERE data_source_id = $1",
                &params![id.as_str()],
            )
            .await?;
        first(records, snapshot)
    }

    /// Whether there was one.
    pub async fn delete_schema_snapshot(&mut self, id: &DataSourceId) -> Result<bool, StoreError> {
        Ok(self
            .execute(
                "DELETE FROM schema_snapshot WHERE data_source_id = $1",
                &params![id.as_str()],
            )
            .await?
            > 0)
    }

    // ---- the audit trail ----

    /// Appends `event` (in the caller's transaction, with the change it records).
    pub async fn record(
        &mut self,
        ctx: &AuditContext,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let changes = event.changes.to_string();
        self.execute(
            "INSERT INTO audit_event (at, api_key_id, client_addr, action, object_type, \
             object_id, changes) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &params![
                ctx.at,
                ctx.api_key_id.as_deref(),
                ctx.client_addr.as_deref(),
                event.action,
                event.object_type,
                &event.object_id,
                &changes,
            ],
        )
        .await
        .map(drop)
    }

    /// What `filter` selects, oldest first.
    pub async fn audit(&mut self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        let order = if filter.newest { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT id, at, api_key_id, client_addr, action, object_type, object_id, changes \
             FROM audit_event \
             WHERE (CAST($1 AS BIGINT) IS NULL OR at >= $1) \
               AND (CAST($2 AS BIGINT) IS NULL OR at < $2) \
               AND (CAST($3 AS TEXT) IS NULL OR object_id = $3) \
               AND (CAST($4 AS BIGINT) IS NULL OR id > $4) \
               AND (CAST($6 AS BIGINT) IS NULL OR id < $6) \
             ORDER BY id {order} LIMIT $5"
        );
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let records = self
            .query(
                &sql,
                &[
                    Param::from(filter.since),
                    Param::from(filter.until),
                    Param::from(filter.object_id.as_deref()),
                    Param::from(filter.after_id),
                    Param::from(limit),
                    Param::from(filter.before_id),
                ],
            )
            .await?;
        let mut rows = all(records, audit)?;
        if filter.newest {
            rows.reverse();
        }
        Ok(rows)
    }

    /// Whether the store answers a query.
    pub async fn ping(&mut self) -> Result<(), StoreError> {
        self.query("SELECT count(*) FROM meta", &[]).await.map(drop)
    }

    // ---- the status page ----

    pub async fn insert_ui_session(&mut self, row: &UiSessionRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO ui_session (token_sha256, api_key_id, csrf_token, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5)",
            &params![
                row.token_sha256.as_slice(),
                &row.api_key_id,
                &row.csrf_token,
                row.created_at,
                row.expires_at
            ],
        )
        .await
        .map(drop)
    }

    /// The session whose token hashes to `token_sha256`, if it has not expired at `now`.
    pub async fn ui_session(
        &mut self,
        token_sha256: &[u8],
        now: i64,
    ) -> Result<Option<UiSessionRow>, StoreError> {
        let records = self
            .query(
                "SELECT token_sha256, api_key_id, csrf_token, created_at, expires_at \
                 FROM ui_session WHERE token_sha256 = $1 AND expires_at > $2",
                &params![token_sha256, now],
            )
            .await?;
        first(records, |mut r| {
            Ok(UiSessionRow {
                token_sha256: r.bytes(0)?,
                api_key_id: r.text(1)?,
                csrf_token: r.text(2)?,
                created_at: r.int(3)?,
                expires_at: r.int(4)?,
            })
        })
    }

    /// Ends the session whose token hashes to `token_sha256`, and every one expired at `now`.
    pub async fn delete_ui_session(
        &mut self,
        token_sha256: &[u8],
        now: i64,
    ) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM ui_session WHERE token_sha256 = $1 OR expires_at <= $2",
            &params![token_sha256, now],
        )
        .await
    }

    /// Keeps `row` as its data source's last test report.
    pub async fn put_test_report(&mut self, row: &TestReportRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO test_report (data_source_id, tested_at, report) VALUES ($1, $2, $3) \
             ON CONFLICT (data_source_id) DO UPDATE SET tested_at = excluded.tested_at, \
             report = excluded.report",
            &params![row.data_source_id.as_str(), row.tested_at, &row.report],
        )
        .await
        .map(drop)
    }

    /// Forgets the last test report of data source `id`.
    pub async fn delete_test_report(&mut self, id: &DataSourceId) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM test_report WHERE data_source_id = $1",
            &params![id.as_str()],
        )
        .await
    }

    /// The last test report of data source `id`, or of every data source when `id` is `None`.
    pub async fn test_reports(
        &mut self,
        id: Option<&DataSourceId>,
    ) -> Result<Vec<TestReportRow>, StoreError> {
        let records = self
            .query(
                "SELECT data_source_id, tested_at, report FROM test_report \
                 WHERE CAST($1 AS TEXT) IS NULL OR data_source_id = $1",
                &params![id.map(DataSourceId::as_str)],
            )
            .await?;
        all(records, |mut r| {
            Ok(TestReportRow {
                data_source_id: DataSourceId::stored(r.text(0)?),
                tested_at: r.int(1)?,
                report: r.text(2)?,
            })
        })
    }

    /// Every data source's newest `per_data_source` test results, by data source, oldest first.
    pub async fn recent_tests(
        &mut self,
        per_data_source: i64,
    ) -> Result<Vec<RecentTest>, StoreError> {
        let records = self
            .query(
                "SELECT data_source_id, tested_at, success, duration_us FROM \
                 (SELECT data_source_id, tested_at, success, duration_us, ROW_NUMBER() OVER \
                  (PARTITION BY data_source_id ORDER BY tested_at DESC) AS n \
                  FROM test_history) AS newest \
                 WHERE n <= $1 ORDER BY data_source_id, tested_at",
                &params![per_data_source],
            )
            .await?;
        all(records, |mut r| {
            Ok(RecentTest {
                data_source_id: DataSourceId::stored(r.text(0)?),
                tested_at: r.int(1)?,
                success: r.opt_bool(2)?.unwrap_or(false),
                duration_us: r.int(3)?,
            })
        })
    }
}
