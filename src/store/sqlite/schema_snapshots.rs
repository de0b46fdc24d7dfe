//! Schema snapshots: the last introspection of each data source, one row each, removed with
//! the data source by its foreign key.

use rusqlite::{params, OptionalExtension};

use super::{begin_write, SqliteStore};
use crate::store::{SchemaSnapshotRow, StoreError};

impl SqliteStore {
    /// Replaces the snapshot of the data source `key` names (id or alias); `NotFound` if it
    /// was deleted meanwhile. The row's `data_source_id` is set from `key`.
    pub async fn put_schema_snapshot(
        &self,
        key: &str,
        mut row: SchemaSnapshotRow,
    ) -> Result<SchemaSnapshotRow, StoreError> {
        let key = key.to_owned();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            row.data_source_id = SqliteStore::resolve_data_source(&tx, &key)?.id;
            tx.execute(
                "INSERT INTO schema_snapshot (data_source_id, fetched_at, duration_ms, snapshot) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (data_source_id) DO UPDATE SET \
                 fetched_at = excluded.fetched_at, duration_ms = excluded.duration_ms, \
                 snapshot = excluded.snapshot",
                params![
                    row.data_source_id,
                    row.fetched_at,
                    row.duration_ms,
                    row.snapshot
                ],
            )?;
            tx.commit()?;
            Ok(row)
        })
        .await
    }

    /// The snapshot of the data source `key` names: `NotFound` when there is no such data
    /// source, `Ok(None)` when it has none yet.
    pub async fn find_schema_snapshot(
        &self,
        key: &str,
    ) -> Result<Option<SchemaSnapshotRow>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            let id = SqliteStore::resolve_data_source(conn, &key)?.id;
            Ok(conn
                .prepare_cached(
                    "SELECT data_source_id, fetched_at, duration_ms, snapshot FROM schema_snapshot \
                     WHERE data_source_id = ?1",
                )?
                .query_row([id], |r| {
                    Ok(SchemaSnapshotRow {
                        data_source_id: r.get(0)?,
                        fetched_at: r.get(1)?,
                        duration_ms: r.get(2)?,
                        snapshot: r.get(3)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    /// Removes the snapshot of the data source `key` names; whether there was one.
    pub async fn delete_schema_snapshot(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let id = SqliteStore::resolve_data_source(&tx, &key)?.id;
            let removed = tx.execute(
                "DELETE FROM schema_snapshot WHERE data_source_id = ?1",
                [id],
            )?;
            tx.commit()?;
            Ok(removed > 0)
        })
        .await
    }

    /// Drops what tests and introspections left about the data source `key` names: its schema
    /// snapshot and its last test outcome, in one transaction. What there was:
    /// `(snapshot, test outcome)`; `NotFound` when there is no such data source.
    pub async fn purge_data_source_results(&self, key: &str) -> Result<(bool, bool), StoreError> {
        let key = key.to_owned();
        self.write(move |conn| {
            let tx = begin_write(conn)?;
            let row = SqliteStore::resolve_data_source(&tx, &key)?;
            let snapshot = tx.execute(
                "DELETE FROM schema_snapshot WHERE data_source_id = ?1",
                [&row.id],
            )? > 0;
            tx.execute(
                "UPDATE data_source SET last_test_ok = NULL, last_tested_at = NULL WHERE id = ?1",
                [&row.id],
            )?;
            tx.commit()?;
            Ok((snapshot, row.last_test_ok.is_some()))
        })
        .await
    }
}
