//! Files on the Jackal server that a configUri names (the SQLite file, `sslRootCert`): opened
//! once, and every decision made on what was opened, never on a second lookup of the name.
//!
//! A name is resolved exactly once, by an `O_PATH` open (which never blocks, not even on a FIFO,
//! and has no side effect on a device). What that descriptor refers to is then checked: a
//! regular file, whose real path (the kernel's, read back from `/proc/self/fd`) lies under an
//! allowed directory. A symbolic link, a trailing `/.` or a link flipped mid-way can change what
//! the name meant, but not what was opened and checked. Reading goes through the same
//! descriptor (re-opened through `/proc/self/fd`, which names the open file, not a path), with
//! a size limit.
//!
//! Every open of this module holds one process-wide lock, so that [`sqlite`](crate::sqlite) can
//! tell which descriptor SQLite itself opened (see `opened_by_sqlite`).
//!
//! Linux only: elsewhere every such file is refused.

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Why a file could not be used. `Outside` depends only on the name as written and the
/// configured directories; every other case is what the file system said, which a caller may
/// fold into one answer (as `sslRootCert` does) so as to be no oracle for what exists where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The name, as written, is not under any allowed directory (or has a `..` component).
    Outside,
    /// The name could not be opened: nothing exists there, a component before the last is not
    /// a directory, or the lookup failed another way (which may be about a place a symbolic
    /// link points to, outside the allowed directories).
    Missing,
    /// A directory, FIFO, socket or device, inside the allowed directories.
    NotRegular,
    /// The name leads, through a symbolic link, to something outside the allowed directories
    /// (of whatever type).
    LeadsOutside,
    /// Larger than the caller's limit.
    TooLarge,
    /// Anything else (permissions, I/O); the text is for the server's log only.
    Unreadable(String),
}

impl Refusal {
    /// Every failed lookup is `Missing`: through a symbolic link, an error such as `EACCES` or
    /// `ELOOP` would tell the caller about the place the link points to.
    fn from_open(_: &std::io::Error) -> Self {
        Refusal::Missing
    }
}

/// A regular file under an allowed directory, held open by an `O_PATH` descriptor.
#[derive(Debug)]
pub(crate) struct Opened {
    handle: File,
    meta: Metadata,
    /// The path the kernel gives for the open file: absolute, with no symbolic link in it.
    real: PathBuf,
}

static OPEN_LOCK: Mutex<()> = Mutex::new(());

/// Held while a file is opened here (and while SQLite opens what was checked).
pub(crate) fn open_lock() -> MutexGuard<'static, ()> {
    OPEN_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `path`, as written, lies under one of `dirs` (each as configured or resolved).
fn written_under(path: &Path, dirs: &[PathBuf]) -> bool {
    if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
        return false;
    }
    dirs.iter().any(|dir| {
        path.starts_with(dir) || dir.canonicalize().is_ok_and(|real| path.starts_with(real))
    })
}

impl Opened {
    /// Opens `path` if it is a regular file under one of `dirs` (`None`: anywhere, for files an
    /// admin names in Jackal's own settings).
    pub(crate) fn open(path: &Path, dirs: Option<&[PathBuf]>) -> Result<Opened, Refusal> {
        if let Some(dirs) = dirs {
            if !written_under(path, dirs) {
                return Err(Refusal::Outside);
            }
        }
        let _lock = open_lock();
        Self::open_locked(path, dirs)
    }

    #[cfg(target_os = "linux")]
    fn open_locked(path: &Path, dirs: Option<&[PathBuf]>) -> Result<Opened, Refusal> {
        use std::os::unix::fs::OpenOptionsExt;

        let handle = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Refusal::from_open(&e))?;
        // Where it is, before what it is: nothing about a file outside the allowed directories
        // (its type, its size) may show in the answer.
        let real = std::fs::read_link(proc_fd(&handle))
            .map_err(|e| Refusal::Unreadable(format!("real path: {e}")))?;
        if let Some(dirs) = dirs {
            let inside = dirs
                .iter()
                .filter_map(|dir| dir.canonicalize().ok())
                .any(|dir| real.starts_with(dir));
            if !inside {
                return Err(Refusal::LeadsOutside);
            }
        }
        let meta = handle
            .metadata()
            .map_err(|e| Refusal::Unreadable(format!("stat: {e}")))?;
        if !meta.is_file() {
            return Err(Refusal::NotRegular);
        }
        Ok(Opened { handle, meta, real })
    }

    #[cfg(not(target_os = "linux"))]
    fn open_locked(_: &Path, _: Option<&[PathBuf]>) -> Result<Opened, Refusal> {
        Err(Refusal::Unreadable(
            "files named in a configUri are only opened on Linux".to_owned(),
        ))
    }

    /// The path the kernel gives for the open file (no symbolic link in it).
    pub(crate) fn real_path(&self) -> &Path {
        &self.real
    }

    /// The file's whole content, if it is at most `max` bytes. Read from the open file itself,
    /// without blocking (`O_NONBLOCK`), so a file swapped in after the check is never read.
    #[cfg(target_os = "linux")]
    pub(crate) fn read_at_most(&self, max: u64) -> Result<Vec<u8>, Refusal> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

        let unreadable = |why: String| Refusal::Unreadable(why);
        if self.meta.len() > max {
            return Err(Refusal::TooLarge);
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(proc_fd(&self.handle))
            .map_err(|e| unreadable(format!("open for reading: {e}")))?;
        let meta = file
            .metadata()
            .map_err(|e| unreadable(format!("stat: {e}")))?;
        if (meta.dev(), meta.ino()) != (self.meta.dev(), self.meta.ino()) || !meta.is_file() {
            return Err(unreadable("changed while it was opened".to_owned()));
        }
        let mut content = Vec::with_capacity(meta.len().min(max) as usize);
        file.take(max + 1)
            .read_to_end(&mut content)
            .map_err(|e| unreadable(format!("read: {e}")))?;
        if content.len() as u64 > max {
            return Err(Refusal::TooLarge);
        }
        Ok(content)
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn read_at_most(&self, _: u64) -> Result<Vec<u8>, Refusal> {
        Err(Refusal::Unreadable(
            "files named in a configUri are only opened on Linux".to_owned(),
        ))
    }

    /// The descriptors of this process open on the same file as this one (this one included).
    #[cfg(target_os = "linux")]
    pub(crate) fn descriptors_of_same_file(&self) -> HashSet<String> {
        use std::os::unix::fs::MetadataExt;

        let identity = (self.meta.dev(), self.meta.ino());
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
            return HashSet::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|entry| {
                // `metadata` follows the link: it describes the open file, not the link.
                std::fs::metadata(entry.path())
                    .is_ok_and(|meta| (meta.dev(), meta.ino()) == identity)
            })
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn descriptors_of_same_file(&self) -> HashSet<String> {
        HashSet::new()
    }
}

/// `/proc/self/fd/N` for `file`: a name for the open file itself.
#[cfg(target_os = "linux")]
fn proc_fd(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn dirs(dir: &Path) -> Vec<PathBuf> {
        vec![dir.to_owned()]
    }

    #[test]
    fn a_regular_file_under_an_allowed_directory_is_opened_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, b"hello").unwrap();
        let opened = Opened::open(&file, Some(&dirs(dir.path()))).unwrap();
        assert_eq!(opened.real_path(), file.canonicalize().unwrap());
        assert_eq!(opened.read_at_most(5).unwrap(), b"hello");
        assert_eq!(opened.read_at_most(4).unwrap_err(), Refusal::TooLarge);
    }

    #[test]
    fn names_written_outside_are_refused_before_anything_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dirs(dir.path());
        for outside in [
            PathBuf::from("/etc/passwd"),
            dir.path().join("../x"),
            PathBuf::from("relative.db"),
        ] {
            assert_eq!(
                Opened::open(&outside, Some(&allowed)).unwrap_err(),
                Refusal::Outside,
                "{}",
                outside.display()
            );
        }
        assert_eq!(
            Opened::open(&dir.path().join("x"), Some(&[])).unwrap_err(),
            Refusal::Outside
        );
    }

    #[test]
    fn links_out_directories_fifos_and_devices_are_refused_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret.db");
        std::fs::write(&secret, b"x").unwrap();
        std::os::unix::fs::symlink(&secret, dir.path().join("link.db")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let allowed = dirs(dir.path());
        for (name, refusal) in [
            ("link.db", Refusal::LeadsOutside),
            ("link.db/.", Refusal::Missing),
            // Where before what: a device outside is outside, not "not regular".
            ("zero", Refusal::LeadsOutside),
            ("sub", Refusal::NotRegular),
            ("sub/.", Refusal::NotRegular),
            ("fifo", Refusal::NotRegular),
            ("missing.db", Refusal::Missing),
        ] {
            let result = Opened::open(&dir.path().join(name), Some(&allowed));
            assert_eq!(result.unwrap_err(), refusal, "{name}");
        }
    }

    #[test]
    fn a_link_to_a_file_inside_is_followed_to_its_real_path() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        std::fs::write(&real, b"x").unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link.db")).unwrap();
        let opened = Opened::open(&dir.path().join("link.db"), Some(&dirs(dir.path()))).unwrap();
        assert_eq!(opened.real_path(), real.canonicalize().unwrap());
        assert_eq!(opened.descriptors_of_same_file().len(), 1);
    }
}
