//! Applies the shared migrations (`store/migrations.rs`) to an SQLite store.

use rusqlite::{Connection, TransactionBehavior};

pub use crate::store::migrations::LATEST;
use crate::store::migrations::MIGRATIONS;

pub fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Applies every migration above `current`, each in its own transaction with its version bump.
pub fn apply(conn: &mut Connection, current: i64) -> rusqlite::Result<()> {
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(migration.sqlite)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
