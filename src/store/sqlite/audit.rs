//! The audit trail: append-only records of who changed what, read a password or ran a test.
//! Changes record their event in the same transaction as the change itself.

use rusqlite::{params, Connection, Row};
use serde_json::Value;

use super::SqliteStore;
use super::{begin_write, query_all};
use crate::store::{AuditContext, AuditEvent, AuditFilter, AuditRow, StoreError, TestOutcome};

pub(super) fn record(
    conn: &Connection,
    ctx: &AuditContext,
    event: &AuditEvent,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_event (at, api_key_id, client_addr, action, object_type, object_id, changes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        ctx.at,
        ctx.api_key_id,
        ctx.client_addr,
        event.action,
        event.object_type,
        event.object_id,
        event.changes.to_string()
    ])?;
    Ok(())
}

/// The outcome (when the data source still exists) and the audit record, in one transaction.
fn record_test(
    conn: &mut Connection,
    ctx: &AuditContext,
    event: &AuditEvent,
    outcome: Option<&TestOutcome>,
) -> rusqlite::Result<()> {
    let tx = begin_write(conn)?;
    if let Some(outcome) = outcome {
        tx.prepare_cached(
            "UPDATE data_source SET last_test_ok = ?2, last_tested_at = ?3 WHERE id = ?1",
        )?
        .execute(params![outcome.data_source_id, outcome.ok, outcome.at])?;
    }
    record(&tx, ctx, event)?;
    tx.commit()
}

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRow> {
    let changes: String = row.get(7)?;
    Ok(AuditRow {
        id: row.get(0)?,
        at: row.get(1)?,
        api_key_id: row.get(2)?,
        client_addr: row.get(3)?,
        action: row.get(4)?,
        object_type: row.get(5)?,
        object_id: row.get(6)?,
        changes: serde_json::from_str(&changes).unwrap_or(Value::String(changes)),
    })
}

impl SqliteStore {
    /// Records an event that goes with no change (a password read, a connection test).
    pub async fn record_audit(
        &self,
        ctx: AuditContext,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(move |conn| Ok(record(conn, &ctx, &event)?))
            .await
    }

    /// Records a connection test's outcome without waiting for the disk flush.
    ///
    /// Tests are observations, not changes, and come in volume; an fsync per test more than
    /// doubled the overhead Jackal adds to a test (2 ms on this machine's disk). The record
    /// is committed to the WAL before the response, so it survives a crash of the server
    /// process; it reaches the disk with the next durable commit or checkpoint, so only a crash
    /// of the whole machine within that window can lose it. Reads of passwords and every
    /// change keep `synchronous=FULL`.
    ///
    /// A saved data source's outcome goes in the same transaction: on its own, under
    /// `synchronous=FULL`, it cost every `/data-source/:ds/test` a second write and an fsync.
    pub async fn record_test(
        &self,
        ctx: AuditContext,
        event: AuditEvent,
        outcome: Option<TestOutcome>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            let recorded = record_test(conn, &ctx, &event, outcome.as_ref());
            // Restored whatever happened: the writer connection is shared by every change.
            conn.pragma_update(None, "synchronous", "FULL")?;
            Ok(recorded?)
        })
        .await
    }

    pub async fn list_audit(&self, filter: AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        self.read(move |conn| {
            let order = if filter.newest { "DESC" } else { "ASC" };
            let mut rows = query_all(
                conn,
                &format!(
                    "SELECT id, at, api_key_id, client_addr, action, object_type, object_id, changes \
                     FROM audit_event \
                     WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2) \
                       AND (?3 IS NULL OR object_id = ?3) AND (?4 IS NULL OR id > ?4) \
                     ORDER BY id {order} LIMIT ?5"
                ),
                params![
                    filter.since,
                    filter.until,
                    filter.object_id,
                    filter.after_id,
                    filter.limit as i64
                ],
                audit_from_row,
            )?;
            if filter.newest {
                rows.reverse();
            }
            Ok(rows)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_cannot_be_changed_or_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        let ctx = AuditContext {
            api_key_id: Some("k".into()),
            client_addr: Some("127.0.0.1".into()),
            at: 5,
        };
        let event = AuditEvent {
            action: "data_source.test",
            object_type: "data_source",
            object_id: "D1".into(),
            changes: serde_json::json!({"success": true}),
        };
        store.record_audit(ctx, event).await.unwrap();
        let tamper = store
            .write(|conn| {
                let update = conn.execute("UPDATE audit_event SET action = 'x'", []);
                let delete = conn.execute("DELETE FROM audit_event", []);
                Ok::<_, StoreError>((update.is_err(), delete.is_err()))
            })
            .await
            .unwrap();
        assert_eq!(tamper, (true, true));
        let rows = store
            .list_audit(AuditFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].changes["success"], true);
    }

    #[tokio::test]
    async fn test_records_leave_the_writer_fully_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        let synchronous = || {
            store.write(|conn| {
                Ok::<i64, StoreError>(conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?)
            })
        };
        // 2 is FULL.
        assert_eq!(synchronous().await.unwrap(), 2);
        let event = AuditEvent {
            action: "connection.test",
            object_type: "connection_test",
            object_id: "postgresql://u@h/db".into(),
            changes: serde_json::json!({"success": false}),
        };
        // The outcome names a data source that is gone (deleted while its test ran): the
        // audit record is still written.
        let outcome = TestOutcome {
            data_source_id: "Dgone".into(),
            ok: false,
            at: 1,
        };
        store
            .record_test(
                AuditContext {
                    api_key_id: None,
                    client_addr: None,
                    at: 1,
                },
                event,
                Some(outcome),
            )
            .await
            .unwrap();
        assert_eq!(synchronous().await.unwrap(), 2);
        let rows = store
            .list_audit(AuditFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].action, "connection.test");
    }
}
