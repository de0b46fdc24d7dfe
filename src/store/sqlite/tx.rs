//! [`Tx`] on SQLite: a connection held for the work, in `BEGIN IMMEDIATE` when it writes.
//! Every statement runs at once (SQLite is a library), so a use case's future is complete at
//! its first poll and runs right on the blocking thread that holds the connection.

use futures_util::future::{self, BoxFuture};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};
use tokio::sync::OwnedMutexGuard;

use crate::store::tx::{sqlite_dialect, Constraint, Durability, Param, Record, Tx, Value};
use crate::store::StoreError;

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Int(v) => v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), ToSqlOutput::from),
            Param::Text(v) => v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), |s| {
                ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
            }),
            Param::Bytes(v) => v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), |b| {
                ToSqlOutput::Borrowed(ValueRef::Blob(b))
            }),
            Param::Bool(v) => v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), ToSqlOutput::from),
        })
    }
}

/// A broken unique constraint named as SQLite names it (`UNIQUE constraint failed: t.c`);
/// any other error as it is.
pub(super) fn store_error(err: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(e, Some(message)) = &err {
        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE {
            let column = message.rsplit(": ").next().unwrap_or_default();
            return StoreError::Unique(Constraint::named(column));
        }
    }
    StoreError::Sqlite(err)
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        // No column of the store is REAL; a float would be a schema change, shown as text.
        ValueRef::Real(f) => Value::Text(f.to_string()),
        ValueRef::Text(t) => Value::Text(match std::str::from_utf8(t) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}

fn query(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<Vec<Record>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&sqlite_dialect(sql))
        .map_err(store_error)?;
    let columns = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(store_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(store_error)? {
        // Sized once: collecting a fallible iterator loses the size hint and grows the vector
        // three times per row, which showed in the profile of a 1,000-row list.
        let mut record = Vec::with_capacity(columns);
        for i in 0..columns {
            record.push(value(row.get_ref(i).map_err(store_error)?));
        }
        out.push(Record(record));
    }
    Ok(out)
}

fn execute(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
    let mut stmt = conn
        .prepare_cached(&sqlite_dialect(sql))
        .map_err(store_error)?;
    let changed = stmt
        .execute(rusqlite::params_from_iter(params))
        .map_err(store_error)?;
    Ok(changed as u64)
}

/// A connection held for one piece of work; a write transaction when begun with
/// [`SqliteTx::begin`], rolled back if dropped before [`SqliteTx::commit`].
pub(super) struct SqliteTx {
    conn: OwnedMutexGuard<Connection>,
    open: bool,
    durability: Durability,
}

impl SqliteTx {
    /// Statements on `conn`, each on its own (a read connection).
    pub(super) fn reading(conn: OwnedMutexGuard<Connection>) -> Self {
        Self {
            conn,
            open: false,
            durability: Durability::Flushed,
        }
    }

    /// A write transaction on `conn` (the writer). `BEGIN IMMEDIATE` takes the write lock at
    /// once: a deferred transaction that reads then writes would have to upgrade its lock, and
    /// SQLite does not wait (busy handler) for that upgrade.
    pub(super) fn begin(
        conn: OwnedMutexGuard<Connection>,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        if durability == Durability::Observation {
            // Only outside a transaction may the level change; restored when this ends.
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(store_error)?;
        }
        let mut tx = Self {
            conn,
            open: false,
            durability,
        };
        tx.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(store_error)?;
        tx.open = true;
        Ok(tx)
    }

    pub(super) fn commit(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT").map_err(store_error)?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if self.durability == Durability::Observation {
            // The writer connection is shared by every change: back to FULL, whatever happened.
            let _ = self.conn.pragma_update(None, "synchronous", "FULL");
        }
    }
}

impl Tx for SqliteTx {
    fn query<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>> {
        Box::pin(future::ready(query(&self.conn, sql, params)))
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: &'a [Param<'a>],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(future::ready(execute(&self.conn, sql, params)))
    }
}
