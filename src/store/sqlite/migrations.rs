//! Schema migrations, embedded in the binary. Append only: a released migration never changes.

use rusqlite::{Connection, TransactionBehavior};

/// Migration N (1-based) brings the schema from version N-1 to N.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_people_roles_permissions.sql"),
    include_str!("migrations/0003_audit.sql"),
    include_str!("migrations/0004_schema_snapshot.sql"),
    include_str!("migrations/0005_data_source_description_and_last_test.sql"),
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Applies every migration above `current`, each in its own transaction with its version bump.
pub fn apply(conn: &mut Connection, current: i64) -> rusqlite::Result<()> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
