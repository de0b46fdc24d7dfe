//! Schema migrations for the PostgreSQL store, embedded in the binary. Append only.

use std::path::Path;

use deadpool_postgres::Pool;

use super::connection;
use crate::store::StoreError;

/// Migration N (1-based) brings the schema from version N-1 to N.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_schema_snapshot.sql"),
    include_str!("migrations/0003_data_source_description_and_last_test.sql"),
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Serializes migrations of one database: servers starting together wait for the first.
const MIGRATION_LOCK: i64 = 0x6a61_636b_616c_0001;

/// Applies every migration the database lacks, in one transaction. A database with tables of
/// its own but no Jackal schema, or with a newer Jackal schema, is refused untouched.
pub async fn apply(pool: &Pool, location: &Path) -> Result<(), StoreError> {
    let mut client = connection(pool).await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let keyed: bool = tx
        .query_one("SELECT to_regclass('jackal_schema') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    let version: i64 = if keyed {
        tx.query_one("SELECT version FROM jackal_schema", &[])
            .await?
            .try_get(0)?
    } else {
        let tables: i64 = tx
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .await?
            .try_get(0)?;
        if tables > 0 {
            return Err(StoreError::NotAStore {
                path: location.to_owned(),
            });
        }
        0
    };
    if version > LATEST {
        return Err(StoreError::NewerSchema {
            path: location.to_owned(),
            found: version,
            known: LATEST,
        });
    }
    for sql in MIGRATIONS.iter().skip(version as usize) {
        tx.batch_execute(sql).await?;
    }
    if version < LATEST {
        tx.execute("UPDATE jackal_schema SET version = $1", &[&LATEST])
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
