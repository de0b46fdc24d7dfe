//! The audit trail on PostgreSQL: append-only (a trigger refuses updates, deletes and
//! truncation), written in the same transaction as the change it records.

use serde_json::Value;
use tokio_postgres::Row;

use super::{connection, map_all, record, Db, PgStore};
use crate::store::{AuditContext, AuditEvent, AuditFilter, AuditRow, StoreError, TestOutcome};

fn audit_from_row(row: &Row) -> Result<AuditRow, StoreError> {
    let changes: String = row.try_get(7)?;
    Ok(AuditRow {
        id: row.try_get(0)?,
        at: row.try_get(1)?,
        api_key_id: row.try_get(2)?,
        client_addr: row.try_get(3)?,
        action: row.try_get(4)?,
        object_type: row.try_get(5)?,
        object_id: row.try_get(6)?,
        changes: serde_json::from_str(&changes).unwrap_or(Value::String(changes)),
    })
}

impl PgStore {
    pub async fn record_audit(
        &self,
        ctx: AuditContext,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        self.run("write", |pool| async move {
            let client = connection(&pool).await?;
            record(Db::Client(&client), &ctx, &event).await
        })
        .await
    }

    /// Records a connection test's outcome without waiting for the WAL flush
    /// (`synchronous_commit = off` for this transaction only), as the SQLite store does: a
    /// crash of the database server within a fraction of a second may lose the record; every
    /// change and password read stays fully durable. A saved data source's outcome goes in the
    /// same transaction.
    pub async fn record_test(
        &self,
        ctx: AuditContext,
        event: AuditEvent,
        outcome: Option<TestOutcome>,
    ) -> Result<(), StoreError> {
        self.run("write", |pool| async move {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await?;
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .await?;
            if let Some(o) = &outcome {
                Db::Tx(&tx)
                    .execute(
                        "UPDATE data_source SET last_test_ok = $2, last_tested_at = $3 WHERE id = $1",
                        &[&o.data_source_id, &o.ok, &o.at],
                    )
                    .await?;
            }
            record(Db::Tx(&tx), &ctx, &event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub async fn list_audit(&self, filter: AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        self.run("read", |pool| async move {
            let client = connection(&pool).await?;
            let order = if filter.newest { "DESC" } else { "ASC" };
            let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
            let rows = Db::Client(&client)
                .query(
                    &format!(
                        "SELECT id, at, api_key_id, client_addr, action, object_type, object_id, \
                         changes FROM audit_event \
                         WHERE ($1::BIGINT IS NULL OR at >= $1) AND ($2::BIGINT IS NULL OR at < $2) \
                           AND ($3::TEXT IS NULL OR object_id = $3) \
                           AND ($4::BIGINT IS NULL OR id > $4) \
                         ORDER BY id {order} LIMIT $5"
                    ),
                    &[
                        &filter.since,
                        &filter.until,
                        &filter.object_id,
                        &filter.after_id,
                        &limit,
                    ],
                )
                .await?;
            let mut rows = map_all(rows, audit_from_row)?;
            if filter.newest {
                rows.reverse();
            }
            Ok(rows)
        })
        .await
    }
}
