//! SQLite: a local file, opened read-only and never created, only under `allowed_dirs`.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, ErrorCode as SqliteCode, InterruptHandle, OpenFlags};

use crate::probe::{Attempt, Found, ProbeContext, Work};
use crate::report::{ErrorCode, Phase, ProbeFailure, ServerVersion, TlsReport};
use crate::schema::{Builder, Column, SchemaSnapshot, TableKind};
use crate::uri::ConnectionSpec;

/// The one schema an SQLite file is listed with.
const MAIN: &str = "main";

/// Tables and views of `main`, without SQLite's own (`sqlite_%`, which the LIKE matches in any
/// case, as SQLite reserves the prefix in any case).
const TABLES: &str = r"SELECT name, type FROM main.sqlite_master
WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY name";

/// The columns of one table or view of `main`, in declaration order.
const COLUMNS: &str =
    r#"SELECT name, type, "notnull" FROM pragma_table_info(?1, 'main') ORDER BY cid"#;

fn denied(path: &Path) -> ProbeFailure {
    ProbeFailure::new(
        ErrorCode::DeniedByPolicy,
        format!(
            "{} is not under a directory listed in [drivers.sqlite] allowed_dirs of Jackal's config.toml; nothing was opened. An admin can add its directory there",
            path.display()
        ),
    )
}

/// Whether `path` lies under one of `dirs`, compared after resolving symbolic links, so a link
/// inside an allowed directory cannot lead outside it. A missing file is checked lexically.
fn is_allowed(path: &Path, dirs: &[PathBuf]) -> bool {
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return false;
    }
    let real = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    dirs.iter().any(|dir| {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        real.starts_with(&dir)
    })
}

/// Opens `path` read-only and asks its version. The connection is kept only for `work` that
/// needs it (and otherwise closed on this blocking thread).
fn open_and_query(
    path: &Path,
    work: Work,
) -> Result<(ServerVersion, Option<Connection>), ProbeFailure> {
    // READ_ONLY without CREATE: a missing file is an error, never a new empty database.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(path, &e))?;
    // Reading the schema proves the file is a database (opening alone reads nothing).
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| classify(path, &e))?;
    let version: String = conn
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .map_err(|e| classify(path, &e))?;
    Ok((
        ServerVersion::from_text("SQLite", &version, version.clone()),
        (work == Work::Schema).then_some(conn),
    ))
}

/// The `main` schema of `conn`: its tables and views, each with its columns.
///
/// One statement lists the tables and views; one prepared statement, run once per table,
/// lists its columns. A view whose columns cannot be worked out (it names a table dropped
/// since) is listed without columns rather than failing the whole listing. Stops early when
/// `cancelled` is set (the deadline passed; the interrupt stops a running statement).
fn list_schemas(
    conn: &Connection,
    path: &Path,
    cancelled: &AtomicBool,
) -> Result<SchemaSnapshot, ProbeFailure> {
    let failed = |e: rusqlite::Error| classify(path, &e);
    let mut builder = Builder::new();
    builder.schema(MAIN);
    let mut tables = conn.prepare(TABLES).map_err(failed)?;
    let mut columns = conn.prepare(COLUMNS).map_err(failed)?;
    let mut rows = tables.query([]).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        if cancelled.load(Ordering::Relaxed) {
            return Err(interrupted());
        }
        let name: String = row.get(0).map_err(failed)?;
        let kind = match row
            .get_ref(1)
            .map_err(failed)?
            .as_str()
            .map_err(|e| failed(e.into()))?
        {
            "view" => TableKind::View,
            _ => TableKind::Table,
        };
        let table = Some((name.as_str(), kind));
        builder.row(MAIN, table, None);
        let listed = (|| {
            let mut rows = columns.query([&name])?;
            while let Some(row) = rows.next()? {
                let column = Column {
                    name: row.get(0)?,
                    // As declared: '' when the column was declared without a type.
                    data_type: row.get(1)?,
                    nullable: row.get::<_, i64>(2)? == 0,
                };
                builder.row(MAIN, table, Some(column));
            }
            Ok(())
        })();
        match listed {
            Ok(()) => {}
            Err(_) if cancelled.load(Ordering::Relaxed) => return Err(interrupted()),
            Err(_) if kind == TableKind::View => {}
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(builder.finish())
}

/// What a listing stopped by the deadline returns (the caller reports the timeout instead).
fn interrupted() -> ProbeFailure {
    ProbeFailure::new(ErrorCode::Timeout, "the SQLite listing was interrupted")
}

/// Stops a listing running on a blocking thread when dropped (by the deadline dropping the
/// phase's future): sets the flag checked between tables and interrupts the running statement.
struct Cancel {
    handle: InterruptHandle,
    cancelled: Arc<AtomicBool>,
}

impl Drop for Cancel {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
        // A no-op once the connection is closed, as it is after a listing that finished.
        self.handle.interrupt();
    }
}

/// Runs `work` on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProbeFailure> + Send + 'static,
) -> Result<T, ProbeFailure> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ProbeFailure::new(
            ErrorCode::ServerError,
            format!("the SQLite test failed: {e}"),
        )
    })?
}

fn classify(path: &Path, err: &rusqlite::Error) -> ProbeFailure {
    let code = match err {
        rusqlite::Error::SqliteFailure(e, _) => Some(e.code),
        _ => None,
    };
    match code {
        Some(SqliteCode::CannotOpen) if !path.exists() => ProbeFailure::new(
            ErrorCode::UnknownDatabase,
            format!("no SQLite file exists at {}: check the path in configUri (Jackal never creates one)", path.display()),
        ),
        Some(SqliteCode::CannotOpen) | Some(SqliteCode::PermissionDenied) => ProbeFailure::new(
            ErrorCode::ServerError,
            format!("{} could not be opened for reading: check that the Jackal server may read it", path.display()),
        ),
        Some(SqliteCode::NotADatabase) => ProbeFailure::new(
            ErrorCode::ServerError,
            format!("{} is not an SQLite database", path.display()),
        ),
        _ => ProbeFailure::new(
            ErrorCode::ServerError,
            format!("reading {} failed: {err}", path.display()),
        ),
    }
}

pub(crate) async fn probe(
    spec: &ConnectionSpec,
    ctx: &ProbeContext,
    attempt: &mut Attempt,
    work: Work,
) -> Result<Found, ProbeFailure> {
    let Some(path) = spec.sqlite_path().map(Path::to_owned) else {
        return Err(ProbeFailure::new(
            ErrorCode::InvalidUri,
            "configUri names no SQLite file",
        ));
    };
    let dirs = ctx.sqlite_allowed_dirs.clone();
    let checked = path.clone();
    attempt
        .run(Phase::Resolve, async move {
            if is_allowed(&checked, &dirs) {
                Ok(())
            } else {
                Err(denied(&checked))
            }
        })
        .await?;
    attempt.tls = Some(TlsReport {
        enabled: false,
        verified: false,
        protocol: None,
    });
    let opened_path = path.clone();
    let (version, conn) = attempt
        .run(
            Phase::Connect,
            blocking(move || open_and_query(&opened_path, work)),
        )
        .await?;
    let Some(conn) = conn else {
        return Ok((version, None));
    };
    let snapshot = attempt
        .run(Phase::Introspect, async move {
            let cancelled = Arc::new(AtomicBool::new(false));
            // Held by this future: dropped when it ends or when the deadline drops it.
            let _cancel = Cancel {
                handle: conn.get_interrupt_handle(),
                cancelled: cancelled.clone(),
            };
            blocking(move || list_schemas(&conn, &path, &cancelled)).await
        })
        .await?;
    Ok((version, Some(snapshot)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_components_and_outside_paths_are_not_allowed() {
        let dir = std::env::temp_dir();
        let dirs = vec![dir.clone()];
        assert!(is_allowed(&dir.join("x.db"), &dirs));
        assert!(!is_allowed(&dir.join("../etc/passwd"), &dirs));
        assert!(!is_allowed(Path::new("/etc/passwd"), &dirs));
        assert!(!is_allowed(&dir.join("x.db"), &[]));
    }
}
