//! Schema snapshots on PostgreSQL: the last introspection of each data source, removed with
//! the data source by its foreign key.

use super::{connection, resolve_data_source, Db, PgStore};
use crate::store::{SchemaSnapshotRow, StoreError};

impl PgStore {
    pub async fn put_schema_snapshot(
        &self,
        key: &str,
        mut row: SchemaSnapshotRow,
    ) -> Result<SchemaSnapshotRow, StoreError> {
        let key = key.to_owned();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            row.data_source_id = resolve_data_source(db, &key, false).await?.id;
            db.execute(
                "INSERT INTO schema_snapshot (data_source_id, fetched_at, duration_ms, snapshot) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (data_source_id) DO UPDATE SET \
                 fetched_at = excluded.fetched_at, duration_ms = excluded.duration_ms, \
                 snapshot = excluded.snapshot",
                &[
                    &row.data_source_id,
                    &row.fetched_at,
                    &row.duration_ms,
                    &row.snapshot,
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(row)
        })
        .await
    }

    pub async fn find_schema_snapshot(
        &self,
        key: &str,
    ) -> Result<Option<SchemaSnapshotRow>, StoreError> {
        let key = key.to_owned();
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let id = resolve_data_source(db, &key, false).await?.id;
            db.query_opt(
                "SELECT data_source_id, fetched_at, duration_ms, snapshot FROM schema_snapshot \
                 WHERE data_source_id = $1",
                &[&id],
            )
            .await?
            .map(|r| {
                Ok(SchemaSnapshotRow {
                    data_source_id: r.try_get(0)?,
                    fetched_at: r.try_get(1)?,
                    duration_ms: r.try_get(2)?,
                    snapshot: r.try_get(3)?,
                })
            })
            .transpose()
        })
        .await
    }

    pub async fn delete_schema_snapshot(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.run("write", |pool| async move {
            let client = connection(&pool).await?;
            let db = Db::Client(&client);
            let id = resolve_data_source(db, &key, false).await?.id;
            Ok(db
                .execute(
                    "DELETE FROM schema_snapshot WHERE data_source_id = $1",
                    &[&id],
                )
                .await?
                > 0)
        })
        .await
    }

    pub async fn purge_data_source_results(&self, key: &str) -> Result<(bool, bool), StoreError> {
        let key = key.to_owned();
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            let db = Db::Tx(&tx);
            let row = resolve_data_source(db, &key, true).await?;
            let snapshot = db
                .execute(
                    "DELETE FROM schema_snapshot WHERE data_source_id = $1",
                    &[&row.id],
                )
                .await?
                > 0;
            db.execute(
                "UPDATE data_source SET last_test_ok = NULL, last_tested_at = NULL WHERE id = $1",
                &[&row.id],
            )
            .await?;
            tx.commit().await?;
            Ok((snapshot, row.last_test_ok.is_some()))
        })
        .await
    }
}
