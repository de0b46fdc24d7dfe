//! SQLite: a local file, opened read-only and never created, only under `allowed_dirs`.

use std::path::{Component, Path, PathBuf};

use rusqlite::{Connection, ErrorCode as SqliteCode, OpenFlags};

use crate::probe::{Attempt, ProbeContext};
use crate::report::{ErrorCode, Phase, ProbeFailure, ServerVersion, TlsReport};
use crate::uri::ConnectionSpec;

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

fn open_and_query(path: &Path) -> Result<(ServerVersion, std::time::Duration), ProbeFailure> {
    let opened = std::time::Instant::now();
    // READ_ONLY without CREATE: a missing file is an error, never a new empty database.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(path, &e))?;
    let open_time = opened.elapsed();
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
        open_time,
    ))
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
) -> Result<ServerVersion, ProbeFailure> {
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
    let opened = attempt
        .run(Phase::Connect, async move {
            tokio::task::spawn_blocking(move || open_and_query(&path))
                .await
                .map_err(|e| {
                    ProbeFailure::new(
                        ErrorCode::ServerError,
                        format!("the SQLite test failed: {e}"),
                    )
                })?
        })
        .await?;
    Ok(opened.0)
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
