//! SQLite: a local file under `allowed_dirs`, opened read-only as immutable, so that nothing is
//! ever created (no database, no `-wal` or `-shm` beside it), and decided on as opened (see
//! [`crate::local_file`]): a link or a race cannot lead the test to another file.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, ErrorCode as SqliteCode, InterruptHandle, OpenFlags};

use crate::attempt::{Attempt, Found, ProbeContext, Work};
use crate::local_file::{self, Opened, Refusal};
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

/// Why `path` (as the configUri names it) could not be opened, as a test result.
fn refused(path: &Path, refusal: Refusal) -> ProbeFailure {
    let shown = path.display();
    match refusal {
        Refusal::Outside => denied(path),
        // One answer whether or not a link's target outside exists, so that a test is no
        // oracle for what exists beyond allowed_dirs.
        Refusal::LeadsOutside | Refusal::Missing => ProbeFailure::new(
            ErrorCode::UnknownDatabase,
            format!("no SQLite file Jackal may open is at {shown}: check the path in configUri. Jackal opens only a file inside the directories of [drivers.sqlite] allowed_dirs, follows a symbolic link only to a file inside them, and never creates one"),
        ),
        Refusal::NotRegular => ProbeFailure::new(
            ErrorCode::ServerError,
            format!("{shown} is not a regular file (a directory, FIFO, socket or device): name an SQLite database file"),
        ),
        Refusal::TooLarge | Refusal::Unreadable(_) => ProbeFailure::new(
            ErrorCode::ServerError,
            format!("{shown} could not be opened for reading: check that the Jackal server may read it"),
        ),
    }
}

/// A `file:` URI for `path` that asks SQLite to treat the file as `immutable`: no lock, no
/// journal, no `-wal` or `-shm` file, nothing created beside it. A WAL database is read as its
/// main file holds it (changes not yet checkpointed are not seen), which is all a test needs.
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    // Everything but unreserved characters and `/` is escaped: `?`, `#` and `%` would end or
    // change the path in a URI.
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!(
        "file:{}?immutable=1",
        percent_encoding::percent_encode(path.as_os_str().as_bytes(), PATH)
    )
}

/// Opens the checked file read-only and asks its version. The connection is kept only for
/// `work` that needs it (and otherwise closed on this blocking thread).
///
/// SQLite opens files by name. It is given the real path of the file that was opened and
/// checked (no symbolic link in it, and `NOFOLLOW` so that one put there since is refused),
/// and it must then hold a descriptor of that same file: one that did not exist before it
/// opened. Anything else (a directory swapped for a link in between) is refused before a byte
/// is read. The lock keeps any other open of this kind from adding descriptors meanwhile.
fn open_and_query(
    path: &Path,
    opened: &Opened,
    work: Work,
) -> Result<(ServerVersion, Option<Connection>), ProbeFailure> {
    let conn = {
        let _lock = local_file::open_lock();
        let before = opened.descriptors_of_same_file();
        let conn = Connection::open_with_flags(
            immutable_uri(opened.real_path()),
            // READ_ONLY without CREATE: a missing file is an error, never a new empty database.
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NOFOLLOW
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(path, &e))?;
        let after = opened.descriptors_of_same_file();
        if after.is_subset(&before) {
            return Err(ProbeFailure::new(
                ErrorCode::DeniedByPolicy,
                format!("{} changed while it was being opened (a file or directory was moved or replaced); nothing was read. Try again, and check who can write to that directory", path.display()),
            ));
        }
        conn
    };
    // Reading the schema proves the file is a database (opening alone reads nothing).
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| classify(path, &e))?;
    let version: String = conn
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .map_err(|e| classify(path, &e))?;
    let mut found = ServerVersion::from_text("SQLite", &version, version.clone());
    found.version_string = Some(version);
    Ok((found, (work == Work::Schema).then_some(conn)))
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
        Some(SqliteCode::CannotOpen) | Some(SqliteCode::PermissionDenied) => ProbeFailure::new(
            ErrorCode::ServerError,
            format!(
                "{} could not be opened for reading: check that the Jackal server may read it",
                path.display()
            ),
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
    let opened = attempt
        .run(
            Phase::Resolve,
            blocking(move || {
                Opened::open(&checked, Some(&dirs)).map_err(|refusal| refused(&checked, refusal))
            }),
        )
        .await?;
    attempt.tls = Some(TlsReport::off());
    let opened_path = path.clone();
    let (version, conn) = attempt
        .run(
            Phase::Connect,
            blocking(move || open_and_query(&opened_path, &opened, work)),
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
    fn immutable_uris_escape_what_would_end_the_path() {
        assert_eq!(
            immutable_uri(Path::new("/data/a b?#%.db")),
            "file:/data/a%20b%3F%23%25.db?immutable=1"
        );
    }
}
