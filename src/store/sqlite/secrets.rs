//! What the store keeps about the secret key: the key check, a pending key rotation, and the
//! sealed passwords themselves as opaque bytes (see `crate::secrets` for what they hold).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::begin_write;

use super::query_all;
use super::SqliteStore;
use crate::store::model::{KEY_CHECK, ROTATION_KEY_CHECK, ROTATION_KEY_FILE};
use crate::store::{KeyMeta, PendingRotation, Resealed, SealedCounts, StoreError};

fn read_key_meta(conn: &Connection) -> Result<KeyMeta, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM meta WHERE key IN (?1, ?2, ?3)")?;
    let rows = stmt
        .query_map(
            params![KEY_CHECK, ROTATION_KEY_FILE, ROTATION_KEY_CHECK],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut meta = KeyMeta::default();
    let (mut file, mut check) = (None, None);
    for (key, value) in rows {
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

fn prefix_matches(prefix: &[u8]) -> String {
    // substr() counts bytes on a BLOB; an empty prefix matches every value.
    format!("substr(password_enc, 1, {}) = ?", prefix.len())
}

impl SqliteStore {
    /// The key check and any pending rotation.
    pub async fn key_meta(&self) -> Result<KeyMeta, StoreError> {
        self.read(read_key_meta).await
    }

    /// As `key_meta`, from synchronous code (the secret box checks it before sealing), on one
    /// of the store's reader connections. The caller is on a blocking thread already.
    pub fn key_meta_blocking(&self) -> Result<KeyMeta, StoreError> {
        self.read_blocking(read_key_meta)
    }

    /// Records that a rotation to `pending` has started (replacing any record of one).
    pub async fn set_pending_rotation(&self, pending: PendingRotation) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let upsert = "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                          ON CONFLICT (key) DO UPDATE SET value = excluded.value";
            tx.execute(
                upsert,
                params![ROTATION_KEY_FILE, pending.key_file.as_os_str().as_bytes()],
            )?;
            tx.execute(upsert, params![ROTATION_KEY_CHECK, pending.key_check])?;
            tx.commit()?;
            Ok::<_, StoreError>(())
        })
        .await
    }

    /// Clears the pending rotation if it is still `expected`; `false` if it was not.
    pub async fn clear_pending_rotation(
        &self,
        expected: PendingRotation,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if read_key_meta(&tx)?.pending.as_ref() != Some(&expected) {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM meta WHERE key IN (?1, ?2)",
                params![ROTATION_KEY_FILE, ROTATION_KEY_CHECK],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// How many data sources there are, how many have a password, and how many of those are
    /// sealed into a value starting with `prefix`.
    pub async fn sealed_counts(&self, prefix: Vec<u8>) -> Result<SealedCounts, StoreError> {
        self.read(move |conn| {
            let (data_sources, with_password, with_prefix) = conn.query_row(
                &format!(
                    "SELECT count(*), count(password_enc), \
                     coalesce(sum(password_enc IS NOT NULL AND {}), 0) FROM data_source",
                    prefix_matches(&prefix)
                ),
                [&prefix],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?;
            Ok(SealedCounts {
                data_sources: data_sources as u64,
                with_password: with_password as u64,
                with_prefix: with_prefix as u64,
            })
        })
        .await
    }

    /// Re-seals the first password after `after_seq` (in creation order) whose sealed value does
    /// not start with `prefix`: in one write transaction it reads the row, asks `reseal` for the
    /// new value and writes it. `Ok(None)` when no such row is left. `updated_at` does not move:
    /// the data source did not change.
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
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            let found = tx
                .query_row(
                    &format!(
                        "SELECT seq, id, password_enc FROM data_source \
                         WHERE seq > ? AND password_enc IS NOT NULL AND NOT {} \
                         ORDER BY seq LIMIT 1",
                        prefix_matches(&prefix)
                    ),
                    params![after_seq, prefix],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(StoreError::from)?;
            let Some((seq, id, sealed)) = found else {
                return Ok(None);
            };
            let (resealed, note) = reseal(&id, &sealed)?;
            tx.execute(
                "UPDATE data_source SET password_enc = ?2 WHERE seq = ?1",
                params![seq, resealed],
            )
            .map_err(StoreError::from)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(Some(Resealed { seq, id, note }))
        })
        .await
    }

    /// The last step of a rotation, in one write transaction: re-seals every password still not
    /// starting with `prefix` (written while the rotation ran), then makes `key_check` the
    /// store's key check. The pending rotation stays recorded. Returns what was re-sealed.
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
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            let stragglers = query_all(
                &tx,
                &format!(
                    "SELECT seq, id, password_enc FROM data_source \
                     WHERE password_enc IS NOT NULL AND NOT {} ORDER BY seq",
                    prefix_matches(&prefix)
                ),
                [&prefix],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                },
            )?;
            let mut done = Vec::with_capacity(stragglers.len());
            for (seq, id, sealed) in stragglers {
                let (resealed, note) = reseal(&id, &sealed)?;
                tx.execute(
                    "UPDATE data_source SET password_enc = ?2 WHERE seq = ?1",
                    params![seq, resealed],
                )
                .map_err(StoreError::from)?;
                done.push(Resealed { seq, id, note });
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![KEY_CHECK, key_check],
            )
            .map_err(StoreError::from)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(done)
        })
        .await
    }

    /// Every data source id and sealed password whose sealed value starts with `prefix`.
    pub async fn passwords_sealed_with(
        &self,
        prefix: Vec<u8>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.read(move |conn| {
            query_all(
                conn,
                &format!(
                    "SELECT id, password_enc FROM data_source \
                     WHERE password_enc IS NOT NULL AND {} ORDER BY seq",
                    prefix_matches(&prefix)
                ),
                [&prefix],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .await
    }

    /// Replaces a sealed password only if it is still `old` (a concurrent update wins);
    /// `false` if it was not.
    pub async fn replace_sealed_password(
        &self,
        id: &str,
        old: Vec<u8>,
        new: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE data_source SET password_enc = ?3 WHERE id = ?1 AND password_enc = ?2",
                params![id, old, new],
            )? == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DataSourceRow;

    async fn store_with(passwords: &[Option<&[u8]>]) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        store.set_key_check(b"check".to_vec()).await.unwrap();
        let passwords = passwords_owned(passwords);
        store
            .write(move |conn| {
                for (i, pw) in passwords.into_iter().enumerate() {
                    let row = DataSourceRow {
                        id: format!("D{i}"),
                        name: "n".into(),
                        alias: None,
                        kind: "postgresql".into(),
                        config_uri: "postgresql://h".into(),
                        password_enc: pw,
                        seq: 0,
                        description: String::new(),
                        last_test_ok: None,
                        last_tested_at: None,
                        created_at: 1,
                        updated_at: 1,
                    };
                    conn.execute(
                        "INSERT INTO data_source (id, name, alias, type, config_uri, \
                         password_enc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            row.id,
                            row.name,
                            row.alias,
                            row.kind,
                            row.config_uri,
                            row.password_enc,
                            row.created_at,
                            row.updated_at
                        ],
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        (dir, store)
    }

    fn passwords_owned(passwords: &[Option<&[u8]>]) -> Vec<Option<Vec<u8>>> {
        passwords.iter().map(|p| p.map(<[u8]>::to_vec)).collect()
    }

    #[tokio::test]
    async fn pending_rotation_round_trips_and_clears_only_when_unchanged() {
        let (_dir, store) = store_with(&[]).await;
        assert_eq!(store.key_meta().await.unwrap().pending, None);
        let pending = PendingRotation {
            key_file: PathBuf::from("/keys/new \u{e9}.key"),
            key_check: vec![1, 2, 3],
        };
        store.set_pending_rotation(pending.clone()).await.unwrap();
        let meta = store.key_meta_blocking().unwrap();
        assert_eq!(meta.key_check.as_deref(), Some(&b"check"[..]));
        assert_eq!(meta.pending.as_ref(), Some(&pending));
        let other = PendingRotation {
            key_check: vec![9],
            ..pending.clone()
        };
        assert!(!store.clear_pending_rotation(other).await.unwrap());
        assert!(store.clear_pending_rotation(pending).await.unwrap());
        assert_eq!(store.key_meta().await.unwrap().pending, None);
    }

    #[tokio::test]
    async fn reseal_walks_rows_not_under_the_prefix_in_order() {
        let (_dir, store) =
            store_with(&[Some(b"old-a"), None, Some(b"NEWx"), Some(b"old-b")]).await;
        let counts = store.sealed_counts(b"NEW".to_vec()).await.unwrap();
        assert_eq!(
            counts,
            SealedCounts {
                data_sources: 4,
                with_password: 3,
                with_prefix: 1
            }
        );
        let mut after = 0;
        let mut ids = Vec::new();
        while let Some(done) = store
            .reseal_next_password(after, b"NEW".to_vec(), |_, old| {
                Ok::<_, StoreError>(([b"NEW", old].concat(), old.len()))
            })
            .await
            .unwrap()
        {
            after = done.seq;
            ids.push((done.id, done.note));
        }
        assert_eq!(ids, [("D0".to_owned(), 5), ("D3".to_owned(), 5)]);
        let counts = store.sealed_counts(b"NEW".to_vec()).await.unwrap();
        assert_eq!(counts.with_prefix, 3);
        assert_eq!(
            store
                .passwords_sealed_with(b"NEWold".to_vec())
                .await
                .unwrap(),
            [
                ("D0".to_owned(), b"NEWold-a".to_vec()),
                ("D3".to_owned(), b"NEWold-b".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn completing_sweeps_stragglers_and_sets_the_key_check() {
        let (_dir, store) = store_with(&[Some(b"NEW1"), Some(b"late")]).await;
        let done = store
            .complete_rotation(b"NEW".to_vec(), b"new-check".to_vec(), |_, old| {
                Ok::<_, StoreError>(([b"NEW", old].concat(), ()))
            })
            .await
            .unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].id, "D1");
        let meta = store.key_meta().await.unwrap();
        assert_eq!(meta.key_check.as_deref(), Some(&b"new-check"[..]));
        assert!(!store
            .replace_sealed_password("D1", b"late".to_vec(), b"x".to_vec())
            .await
            .unwrap());
        assert!(store
            .replace_sealed_password("D1", b"NEWlate".to_vec(), b"x".to_vec())
            .await
            .unwrap());
    }
}
