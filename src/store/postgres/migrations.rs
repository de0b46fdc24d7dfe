//! Applies the shared migrations (`store/migrations.rs`) to a PostgreSQL store.
//!
//! Stores made before the shared numbering counted their own: 1 was what is now 3 (people,
//! roles, permissions and the audit trail came in one file), 2 is now 4 and 3 is now 5. Such a
//! store is recognised by its `jackal_schema` table lacking the `sequence` column; its version
//! is translated, once, in the same transaction as any migration it still lacks.

use std::path::Path;

use deadpool_postgres::Pool;

use super::connection;
pub use crate::store::migrations::LATEST;
use crate::store::migrations::MIGRATIONS;
use crate::store::StoreError;

/// What the versions of the old PostgreSQL-only numbering are in the shared one.
const LEGACY_VERSIONS: &[(i64, i64)] = &[(1, 3), (2, 4), (3, 5)];

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
        let version: i64 = tx
            .query_one("SELECT version FROM jackal_schema", &[])
            .await?
            .try_get(0)?;
        let shared: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'jackal_schema' \
                 AND column_name = 'sequence')",
                &[],
            )
            .await?
            .try_get(0)?;
        if shared {
            version
        } else {
            let Some(&(_, translated)) = LEGACY_VERSIONS.iter().find(|(old, _)| *old == version)
            else {
                return Err(StoreError::NewerSchema {
                    path: location.to_owned(),
                    found: version,
                    known: LATEST,
                });
            };
            tx.batch_execute(
                "ALTER TABLE jackal_schema ADD COLUMN sequence TEXT NOT NULL DEFAULT 'shared'",
            )
            .await?;
            tx.execute("UPDATE jackal_schema SET version = $1", &[&translated])
                .await?;
            translated
        }
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
    for migration in MIGRATIONS.iter().skip(version as usize) {
        tx.batch_execute(migration.postgres).await?;
    }
    if version < LATEST {
        tx.execute("UPDATE jackal_schema SET version = $1", &[&LATEST])
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
