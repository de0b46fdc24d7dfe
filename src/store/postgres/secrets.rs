//! What the PostgreSQL store keeps about the secret key: the key check, a pending rotation,
//! and the sealed passwords as opaque bytes.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use deadpool_postgres::Pool;

use super::{connection, Db, PgStore};
use crate::store::model::{KEY_CHECK, ROTATION_KEY_CHECK, ROTATION_KEY_FILE};
use crate::store::{KeyMeta, PendingRotation, Resealed, SealedCounts, StoreError};

const UPSERT_META: &str = "INSERT INTO meta (key, value) VALUES ($1, $2) \
                           ON CONFLICT (key) DO UPDATE SET value = excluded.value";

async fn read_key_meta(db: Db<'_>) -> Result<KeyMeta, StoreError> {
    let keys = [KEY_CHECK, ROTATION_KEY_FILE, ROTATION_KEY_CHECK];
    let rows = db
        .query(
            "SELECT key, value FROM meta WHERE key = ANY($1)",
            &[&&keys[..]],
        )
        .await?;
    let mut meta = KeyMeta::default();
    let (mut file, mut check) = (None, None);
    for row in rows {
        let key: String = row.try_get(0)?;
        let value: Vec<u8> = row.try_get(1)?;
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

async fn key_meta_on(pool: Pool) -> Result<KeyMeta, StoreError> {
    let client = connection(&pool).await?;
    read_key_meta(Db::Client(&client)).await
}

/// `substring` of a `bytea` counts bytes; an empty prefix matches every value.
fn prefix_matches(prefix: &[u8], param: usize) -> String {
    format!(
        "substring(password_enc FROM 1 FOR {}) = ${param}",
        prefix.len()
    )
}

impl PgStore {
    pub async fn key_meta(&self) -> Result<KeyMeta, StoreError> {
        self.run("read", key_meta_on).await
    }

    pub fn key_meta_blocking(&self) -> Result<KeyMeta, StoreError> {
        self.run_blocking(key_meta_on)
    }

    pub async fn set_pending_rotation(&self, pending: PendingRotation) -> Result<(), StoreError> {
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let file = pending.key_file.as_os_str().as_bytes().to_vec();
            db.execute(UPSERT_META, &[&ROTATION_KEY_FILE, &file])
                .await?;
            db.execute(UPSERT_META, &[&ROTATION_KEY_CHECK, &pending.key_check])
                .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub async fn clear_pending_rotation(
        &self,
        expected: PendingRotation,
    ) -> Result<bool, StoreError> {
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            // Locks the rows read, so a concurrent change of the rotation waits or is seen.
            db.execute(
                "SELECT 1 FROM meta WHERE key = $1 FOR UPDATE",
                &[&ROTATION_KEY_FILE],
            )
            .await?;
            if read_key_meta(db).await?.pending.as_ref() != Some(&expected) {
                return Ok(false);
            }
            db.execute(
                "DELETE FROM meta WHERE key IN ($1, $2)",
                &[&ROTATION_KEY_FILE, &ROTATION_KEY_CHECK],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    pub async fn sealed_counts(&self, prefix: Vec<u8>) -> Result<SealedCounts, StoreError> {
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let row = Db::Client(&client)
                .query_opt(
                    &format!(
                        "SELECT count(*), count(password_enc), \
                         count(*) FILTER (WHERE password_enc IS NOT NULL AND {}) FROM data_source",
                        prefix_matches(&prefix, 1)
                    ),
                    &[&prefix],
                )
                .await?
                .ok_or_else(|| StoreError::Task("count(*) gave no row".to_owned()))?;
            let count = |i| row.try_get::<_, i64>(i).map(|n| n as u64);
            Ok(SealedCounts {
                data_sources: count(0)?,
                with_password: count(1)?,
                with_prefix: count(2)?,
            })
        })
        .await
    }

    /// As `SqliteStore::reseal_next_password`: the row is locked from the read to the commit.
    pub async fn reseal_next_password<T, E, F>(
        &self,
        after_seq: i64,
        prefix: Vec<u8>,
        reseal: F,
    ) -> Result<Option<Resealed<T>>, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&str, &[u8]) -> Result<(Vec<u8>, T), E> + Send + 'static,
    {
        self.run("write", move |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(StoreError::from)?;
            let db = Db::Tx(&tx);
            let found = db
                .query_opt(
                    &format!(
                        "SELECT seq, id, password_enc FROM data_source \
                         WHERE seq > $1 AND password_enc IS NOT NULL AND NOT {} \
                         ORDER BY seq LIMIT 1 FOR UPDATE",
                        prefix_matches(&prefix, 2)
                    ),
                    &[&after_seq, &prefix],
                )
                .await?;
            let Some(row) = found else {
                return Ok(None);
            };
            let seq: i64 = row.try_get(0).map_err(StoreError::from)?;
            let id: String = row.try_get(1).map_err(StoreError::from)?;
            let sealed: Vec<u8> = row.try_get(2).map_err(StoreError::from)?;
            let (resealed, note) = tokio::task::block_in_place(|| reseal(&id, &sealed))?;
            db.execute(
                "UPDATE data_source SET password_enc = $2 WHERE seq = $1",
                &[&seq, &resealed],
            )
            .await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(Some(Resealed { seq, id, note }))
        })
        .await
    }

    /// As `SqliteStore::complete_rotation`, in one transaction with every straggler locked.
    pub async fn complete_rotation<T, E, F>(
        &self,
        prefix: Vec<u8>,
        key_check: Vec<u8>,
        mut reseal: F,
    ) -> Result<Vec<Resealed<T>>, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&str, &[u8]) -> Result<(Vec<u8>, T), E> + Send + 'static,
    {
        self.run("write", move |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(StoreError::from)?;
            let db = Db::Tx(&tx);
            let stragglers = db
                .query(
                    &format!(
                        "SELECT seq, id, password_enc FROM data_source \
                         WHERE password_enc IS NOT NULL AND NOT {} ORDER BY seq FOR UPDATE",
                        prefix_matches(&prefix, 1)
                    ),
                    &[&prefix],
                )
                .await?;
            let mut done = Vec::with_capacity(stragglers.len());
            for row in stragglers {
                let seq: i64 = row.try_get(0).map_err(StoreError::from)?;
                let id: String = row.try_get(1).map_err(StoreError::from)?;
                let sealed: Vec<u8> = row.try_get(2).map_err(StoreError::from)?;
                let (resealed, note) = tokio::task::block_in_place(|| reseal(&id, &sealed))?;
                db.execute(
                    "UPDATE data_source SET password_enc = $2 WHERE seq = $1",
                    &[&seq, &resealed],
                )
                .await?;
                done.push(Resealed { seq, id, note });
            }
            db.execute(UPSERT_META, &[&KEY_CHECK, &key_check]).await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(done)
        })
        .await
    }

    pub async fn passwords_sealed_with(
        &self,
        prefix: Vec<u8>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let rows = Db::Client(&client)
                .query(
                    &format!(
                        "SELECT id, password_enc FROM data_source \
                         WHERE password_enc IS NOT NULL AND {} ORDER BY seq",
                        prefix_matches(&prefix, 1)
                    ),
                    &[&prefix],
                )
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
        .await
    }

    pub async fn replace_sealed_password(
        &self,
        id: &str,
        old: Vec<u8>,
        new: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.run("write", |pool| async move {
            let client = connection(&pool).await?;
            Ok(Db::Client(&client)
                .execute(
                    "UPDATE data_source SET password_enc = $3 WHERE id = $1 AND password_enc = $2",
                    &[&id, &old, &new],
                )
                .await?
                == 1)
        })
        .await
    }
}
