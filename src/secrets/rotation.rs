//! `jackal secrets rotate`: re-encrypt every stored password with a new key.
//!
//! The steps, each safe to interrupt (running the command again resumes):
//! 1. Get the new key: read the new key file, or create it with a fresh key (mode 0600, never
//!    over an existing file). Killed here: the file exists, and the next run reads it.
//! 2. Record in the store that a rotation to that file is pending, with a check value sealed
//!    with the new key. From then on both keys are accepted: a server (re)started now loads
//!    both, and a running server loads the new one as soon as it seals, or meets a value it
//!    cannot name.
//! 3. Re-seal the passwords, one transaction per data source (read, open with the key the value
//!    names, seal with the new key, write). Values already sealed with the new key are skipped,
//!    so a killed run loses nothing and the next one resumes.
//! 4. In one transaction, re-seal whatever is still not under the new key (written by a server
//!    meanwhile) and make the new key the store's key (its key check). The rotation stays
//!    recorded, so the configured key file, which still holds the old key, is still accepted.
//! 5. Install the new key: copy the configured key file to `<key file>.old-<UTC time>` (0600),
//!    write the new key to a temporary file, sync it, rename it over the configured key file,
//!    sync the directory. Skipped if the file already holds the new key.
//! 6. Clear the pending rotation. The old key is no longer accepted.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::sealed::{self, Key};
use super::{Found, SecretBox, SecretError};
use crate::store::{PendingRotation, SealedColumn, SealedCounts, Store, StoreError};

/// Progress is reported every this many passwords.
const PROGRESS_EVERY: u64 = 100;

#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// Where the new key is, or is to be created.
    pub new_key_file: PathBuf,
    /// Re-seal at most this many passwords in this run; if any are left, stop without finishing.
    pub limit: Option<u64>,
}

/// What a run did. Holds no key and no password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub store: PathBuf,
    pub key_file: PathBuf,
    pub new_key_file: PathBuf,
    /// The new key file was created by this run.
    pub created_new_key_file: bool,
    /// A rotation to the same file was already pending (an earlier run stopped).
    pub resumed: bool,
    pub data_sources: u64,
    pub with_password: u64,
    /// Passwords already sealed with the new key when this run started.
    pub already_new: u64,
    /// Passwords this run re-sealed.
    pub resealed: u64,
    /// Of those, values in the legacy format (which names no key).
    pub legacy_upgraded: u64,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The store already used the key in the new key file, and the configured file held it.
    NothingToDo,
    /// `--limit` was reached with passwords left under the old key; the rotation stays pending.
    Stopped { remaining: u64 },
    /// The new key is the store's key and the configured key file holds it.
    Finished {
        /// Where the old key was kept; `None` if the configured file already held the new key.
        old_key_kept_in: Option<PathBuf>,
    },
}

pub use crate::store::rotation_lock_path as lock_path;

/// The store's rotation lock: two rotations of one store at once would each install their own
/// key file over the other's. A file beside an SQLite store, an advisory lock on PostgreSQL.
async fn lock(store: &Store) -> anyhow::Result<crate::store::ExclusiveLock> {
    match store.try_rotation_lock().await? {
        Some(lock) => Ok(lock),
        None => anyhow::bail!(
            "another `jackal secrets rotate` is running on the store {} (it holds {}): wait for \
             it to finish, then run this again if it was stopped",
            store.location().display(),
            store.rotation_lock_name()
        ),
    }
}

/// Rotates the store's secret key to the key in `options.new_key_file` (created if absent).
/// `progress(done, to_do)` is called every hundred passwords.
pub async fn rotate(
    key_file: &Path,
    store: &Store,
    options: &RotateOptions,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<RotationReport> {
    let new_key_file = std::path::absolute(&options.new_key_file).with_context(|| {
        format!(
            "cannot resolve the new key file {}",
            options.new_key_file.display()
        )
    })?;
    if same_file(key_file, &new_key_file) {
        anyhow::bail!(
            "the new key file {} is the configured secret key file itself: give another path \
             (a new key is created there if the file does not exist)",
            new_key_file.display()
        );
    }
    // Held until this function returns; the kernel releases it if the process dies.
    let _lock = lock(store).await?;
    let meta = store
        .read(|tx| Box::pin(async move { tx.key_meta().await }))
        .await?;
    let Some(key_check) = meta.key_check.clone() else {
        anyhow::bail!(
            "the store {} has no secret key yet, so there is nothing to rotate: start the server \
             once (it creates {}), or point JACKAL_STORE at the store to rotate",
            store.location().display(),
            key_file.display()
        );
    };
    if let Some(pending) = &meta.pending {
        if pending.key_file != new_key_file {
            anyhow::bail!(
                "a key rotation of the store {} to {} is pending: finish it first with \
                 `jackal secrets rotate --new-key-file {}`",
                store.location().display(),
                pending.key_file.display(),
                pending.key_file.display()
            );
        }
    }

    // 1. The new key.
    let (new_key, created_new_key_file) = match Key::read_file(&new_key_file)? {
        Some(key) => (key, false),
        None if meta.pending.is_some() => {
            return Err(SecretError::RotationKeyMissing {
                path: new_key_file,
                store: store.location().to_owned(),
            }
            .into())
        }
        None => {
            let key = Key::generate();
            key.write_new_file(&new_key_file)
                .map_err(|error| SecretError::Create {
                    path: new_key_file.clone(),
                    error,
                })?;
            (key, true)
        }
    };
    // The keys the store is sealed with now; refused as at start-up if they do not fit.
    let current = Found {
        configured: Key::read_file(key_file)?,
        pending: meta.pending.as_ref().map(|_| new_key.clone()),
    };
    let configured_is_new = current
        .configured
        .as_ref()
        .is_some_and(|k| k.fingerprint() == new_key.fingerprint());
    let current = current.check(key_file, store.location(), &meta)?;
    let ring = SecretBox::fixed(current).with_sealing_key(new_key.clone());

    let prefix = new_key.fingerprint().header().to_vec();
    let counts = sealed_counts(store, &prefix).await?;
    let mut report = RotationReport {
        store: store.location().to_owned(),
        key_file: key_file.to_owned(),
        new_key_file: new_key_file.clone(),
        created_new_key_file,
        resumed: meta.pending.is_some(),
        data_sources: counts.data_sources,
        with_password: counts.with_password,
        already_new: counts.with_prefix,
        resealed: 0,
        legacy_upgraded: 0,
        outcome: Outcome::NothingToDo,
    };
    let store_key_is_new = new_key.matches_key_check(&key_check);
    if meta.pending.is_none() && store_key_is_new && configured_is_new {
        return Ok(report);
    }

    // 2. Record the rotation (a resumed one keeps its record).
    let pending = match meta.pending {
        Some(pending) => pending,
        None => {
            let pending = PendingRotation {
                key_file: new_key_file.clone(),
                key_check: new_key.key_check(),
            };
            let record = pending.clone();
            store
                .write(move |tx| Box::pin(async move { tx.set_pending_rotation(&record).await }))
                .await?;
            pending
        }
    };

    // 3. Re-seal, one value per transaction: the passwords, then the SSH secrets.
    let to_do = counts.with_password - counts.with_prefix;
    for column in SealedColumn::ALL {
        let mut after = 0;
        loop {
            if options.limit.is_some_and(|limit| report.resealed >= limit) {
                let left = sealed_counts(store, &prefix).await?;
                let remaining = left.with_password - left.with_prefix;
                if remaining > 0 {
                    report.outcome = Outcome::Stopped { remaining };
                    return Ok(report);
                }
                break;
            }
            let (ring, prefix) = (ring.clone(), prefix.clone());
            let next = store
                .write(move |tx| {
                    Box::pin(async move {
                        let Some((seq, id, old)) = tx
                            .sealed_without_prefix(column, after, &prefix, Some(1))
                            .await?
                            .pop()
                        else {
                            return Ok::<_, anyhow::Error>(None);
                        };
                        let (new, legacy) = reseal(&ring, column, id.as_str(), &old)?;
                        tx.reseal(column, &id, None, &new).await?;
                        Ok(Some((seq, legacy)))
                    })
                })
                .await?;
            let Some((seq, legacy)) = next else {
                break;
            };
            after = seq;
            report.resealed += 1;
            report.legacy_upgraded += u64::from(legacy);
            if report.resealed.is_multiple_of(PROGRESS_EVERY) {
                progress(report.resealed, to_do);
            }
        }
    }

    // 4. Sweep what was written meanwhile, and make the new key the store's key.
    let (sweep, key_check) = (ring.clone(), pending.key_check.clone());
    let stragglers = store
        .write(move |tx| {
            Box::pin(async move {
                tx.lock_key_meta().await?;
                let mut legacy = Vec::new();
                for column in SealedColumn::ALL {
                    for (_, id, old) in tx.sealed_without_prefix(column, 0, &prefix, None).await? {
                        let (new, was_legacy) = reseal(&sweep, column, id.as_str(), &old)?;
                        tx.reseal(column, &id, None, &new).await?;
                        legacy.push(was_legacy);
                    }
                }
                tx.set_key_check(&key_check).await?;
                Ok::<_, anyhow::Error>(legacy)
            })
        })
        .await?;
    report.resealed += stragglers.len() as u64;
    report.legacy_upgraded += stragglers.iter().map(|&l| u64::from(l)).sum::<u64>();

    // 5. The configured key file gets the new key; the old one is kept beside it.
    let old_key_kept_in = install_key(key_file, &new_key)?;

    // 6. Done: the old key is no longer accepted (unless another run recorded another
    // rotation meanwhile, which then stays).
    store
        .write(move |tx| {
            Box::pin(async move {
                tx.lock_key_meta().await?;
                if tx.key_meta().await?.pending.as_ref() == Some(&pending) {
                    tx.clear_pending_rotation().await?;
                }
                Ok::<_, anyhow::Error>(())
            })
        })
        .await?;
    report.outcome = Outcome::Finished { old_key_kept_in };
    Ok(report)
}

/// The counts over every sealed column: `with_password` counts sealed values (a data source
/// with a password, SSH secrets and TLS material counts three times), as that is what is
/// re-sealed.
async fn sealed_counts(store: &Store, prefix: &[u8]) -> anyhow::Result<SealedCounts> {
    let prefix = prefix.to_vec();
    Ok(store
        .read(move |tx| {
            Box::pin(async move {
                let mut total = SealedCounts::default();
                for column in SealedColumn::ALL {
                    let counts = tx.sealed_counts(column, &prefix).await?;
                    total.data_sources = counts.data_sources;
                    total.with_password += counts.with_password;
                    total.with_prefix += counts.with_prefix;
                }
                Ok::<_, StoreError>(total)
            })
        })
        .await?)
}

/// Opens `old` with whichever key it names and seals it with the new key; notes whether it was
/// a legacy value.
fn reseal(
    ring: &SecretBox,
    column: SealedColumn,
    id: &str,
    old: &[u8],
) -> anyhow::Result<(Vec<u8>, bool)> {
    let aad = column.aad(id);
    let plain = ring.open(old, &aad).map_err(|_| {
        anyhow::anyhow!(
            "the {} of data source {id} cannot be decrypted with the old or the new key \
             (the store or a key file was altered); the rotation stopped and nothing was lost. \
             Fix or delete that data source, then run the command again",
            match column {
                SealedColumn::Password => "password",
                SealedColumn::SshSecret => "SSH secrets",
                SealedColumn::TlsSecret => "TLS material (client certificate and key)",
            }
        )
    })?;
    Ok((ring.seal(&plain, &aad), sealed::is_legacy(old)))
}

/// Whether two paths name the same file: the same absolute path, or the same inode.
fn same_file(a: &Path, b: &Path) -> bool {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    if absolute(a) == absolute(b) {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes `key` into `key_file` atomically, keeping the file's old content as
/// `<key_file>.old-<UTC time>` (mode 0600). Returns where the old key went, or `None` when the
/// file already held `key` (or did not exist).
fn install_key(key_file: &Path, key: &Key) -> Result<Option<PathBuf>, SecretError> {
    let replace_err = |error| SecretError::Replace {
        path: key_file.to_owned(),
        error,
    };
    if Key::read_file(key_file)
        .ok()
        .flatten()
        .is_some_and(|k| k.fingerprint() == key.fingerprint())
    {
        return Ok(None);
    }
    let kept = match std::fs::read(key_file) {
        Ok(old) => Some(keep_old_key(key_file, &old)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(SecretError::Read {
                path: key_file.to_owned(),
                error,
            })
        }
    };
    let temporary = with_suffix(key_file, ".new");
    match std::fs::remove_file(&temporary) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(replace_err(e)),
        _ => {}
    }
    key.write_new_file(&temporary).map_err(replace_err)?;
    std::fs::rename(&temporary, key_file).map_err(replace_err)?;
    let dir = match key_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(replace_err)?;
    Ok(kept)
}

/// Copies the old key file's content to a new `<key_file>.old-<UTC time>[-n]`, mode 0600.
fn keep_old_key(key_file: &Path, old: &[u8]) -> Result<PathBuf, SecretError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    for n in 1.. {
        let suffix = match n {
            1 => format!(".old-{stamp}"),
            n => format!(".old-{stamp}-{n}"),
        };
        let path = with_suffix(key_file, &suffix);
        match sealed::write_new_private_file(&path, old) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(SecretError::Create { path, error }),
        }
    }
    unreachable!("some suffix is free")
}

impl fmt::Display for RotationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let new = self.new_key_file.display();
        writeln!(
            f,
            "Secret key rotation of the store {}",
            self.store.display()
        )?;
        if self.created_new_key_file {
            writeln!(f, "  new key: created {new} (mode 0600) with a fresh key")?;
        } else if self.resumed {
            writeln!(f, "  new key: {new}, resuming the rotation started earlier")?;
        } else {
            writeln!(f, "  new key: read from {new}")?;
        }
        writeln!(
            f,
            "  data sources: {}, with a password: {}; already sealed with the new key: {}",
            self.data_sources, self.with_password, self.already_new
        )?;
        writeln!(
            f,
            "  re-sealed now: {} (of which {} in the old format, now upgraded)",
            self.resealed, self.legacy_upgraded
        )?;
        match &self.outcome {
            Outcome::NothingToDo => writeln!(
                f,
                "Nothing to do: the store already uses the key in {new}, and {} holds it.",
                self.key_file.display()
            ),
            Outcome::Stopped { remaining } => writeln!(
                f,
                "Stopped (--limit) with {remaining} password(s) still sealed with the old key. \
                 The rotation stays pending: both keys are accepted until it completes. Run the \
                 same command again to continue, and keep {new} until then."
            ),
            Outcome::Finished { old_key_kept_in } => {
                writeln!(
                    f,
                    "Finished: every password is sealed with the new key, and {} now holds it.",
                    self.key_file.display()
                )?;
                match old_key_kept_in {
                    Some(old) => writeln!(
                        f,
                        "The old key was kept in {} (mode 0600); the store no longer needs it.",
                        old.display()
                    )?,
                    None => writeln!(
                        f,
                        "There was no old key to keep: {} already held the new key, or was missing.",
                        self.key_file.display()
                    )?,
                }
                writeln!(
                    f,
                    "{new} holds the same key as {} and may be deleted.",
                    self.key_file.display()
                )
            }
        }
    }
}
