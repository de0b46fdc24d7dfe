//! Encryption at rest for database passwords: AES-256-GCM with keys kept in files beside the store.
//!
//! Each sealed value names the key that sealed it and is bound to the row it belongs to by the
//! associated data, so a sealed password copied onto another data source will not open (the
//! format is in `sealed`). A `SecretBox` holds a key ring: the store's key, and during a key
//! rotation (`rotation`, run by `jackal secrets rotate` in another process) the new key too.
//!
//! A server's box keeps up with a rotation by itself:
//! - before sealing, it reads the store's key meta; if a rotation started or finished since it
//!   last looked, it reloads its keys (the configured key file, and the pending rotation's key
//!   file), then seals with the newest key;
//! - when it meets a value sealed with a key it does not hold, it reloads and tries once more;
//! - a background task does the same every few seconds. Keys the store no longer uses are kept
//!   for a minute, during which any password still sealed with them (a write that raced the
//!   end of a rotation) is re-sealed with the current key; then they are forgotten.

pub mod rotation;
mod sealed;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use sealed::{Fingerprint, Key, Parsed};

use crate::store::KeyMeta;
use crate::store::{SealedColumn, Store, StoreError};

/// How often a server's box looks for a rotation on its own.
const REFRESH_INTERVAL: Duration = Duration::from_secs(2);
/// How long keys the store stopped using are kept for re-sealing late writes.
const RETIRED_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    // The I/O error is in the message, so it is not also a `source` (that would print it twice).
    #[error("cannot read the secret key file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot create the secret key file {path}: {error}")]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot replace the secret key file {path}: {error}")]
    Replace {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the secret key file {path} is not valid: it must hold 64 hexadecimal characters (a 256-bit key)")]
    Malformed { path: PathBuf },
    #[error("the secret key file {path} is missing, but the store {store} holds passwords encrypted with it: restore the file (or point JACKAL_SECRET_KEY_FILE at it); a new key cannot read them")]
    Missing { path: PathBuf, store: PathBuf },
    #[error("the secret key in {path} is not the key the store {store} was encrypted with: point JACKAL_SECRET_KEY_FILE at the right key file")]
    WrongKey { path: PathBuf, store: PathBuf },
    #[error("a key rotation of the store {store} to the new key file {path} is pending, but {path} is missing: restore it (passwords may already be encrypted with it), then run `jackal secrets rotate --new-key-file {path}` again to finish")]
    RotationKeyMissing { path: PathBuf, store: PathBuf },
    #[error("the new key file {path} does not hold the key the pending rotation of the store {store} started with: restore the original {path}, then run `jackal secrets rotate --new-key-file {path}` again to finish")]
    RotationKeyWrong { path: PathBuf, store: PathBuf },
    #[error("a stored password could not be decrypted with the secret key (the store or key file was altered)")]
    Undecryptable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The loaded keys. Clones share them. `Debug` shows nothing of them.
#[derive(Clone)]
pub struct SecretBox {
    ring: Arc<Ring>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

struct Ring {
    keys: RwLock<KeySet>,
    /// Where to look again for keys; `None` for a fixed set of keys.
    source: Option<Source>,
    /// One reload at a time.
    reloading: Mutex<()>,
}

struct Source {
    key_file: PathBuf,
    store: Store,
}

#[derive(Clone)]
struct Held {
    key: Key,
    /// When the store stopped using it; such a key only opens, and only for a while.
    retired_at: Option<Instant>,
}

#[derive(Clone)]
struct KeySet {
    /// The store's key first, then the sealing key, then the rest.
    held: Vec<Held>,
    /// The key the store's key check names.
    store_key: Fingerprint,
    /// The key new values are sealed with: a pending rotation's, else the store's.
    sealing_key: Fingerprint,
    /// The store's key meta these keys were loaded for.
    seen: Option<KeyMeta>,
}

impl KeySet {
    fn single(key: Key) -> KeySet {
        let fingerprint = key.fingerprint();
        KeySet {
            held: vec![Held {
                key,
                retired_at: None,
            }],
            store_key: fingerprint,
            sealing_key: fingerprint,
            seen: None,
        }
    }

    fn get(&self, fingerprint: Fingerprint) -> Option<&Key> {
        self.held
            .iter()
            .find(|h| h.key.fingerprint() == fingerprint)
            .map(|h| &h.key)
    }

    fn store(&self) -> &Key {
        self.get(self.store_key).expect("the store's key is held")
    }

    fn sealing(&self) -> &Key {
        self.get(self.sealing_key).expect("the sealing key is held")
    }

    /// Opens with the key the value names, else (a legacy value) with each key in turn.
    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, Miss> {
        let named = match sealed::parse(sealed) {
            Parsed::Named {
                fingerprint,
                header,
                nonce,
                body,
            } => {
                let key = self.get(fingerprint);
                if let Some(plain) = key.and_then(|k| k.open_named(header, nonce, body, aad)) {
                    return Ok(plain);
                }
                Some(key.is_some())
            }
            Parsed::Legacy => None,
        };
        // A legacy value (or, however unlikely, one whose nonce starts like a header).
        if let Some(plain) = self
            .held
            .iter()
            .find_map(|h| h.key.open_legacy(sealed, aad))
        {
            return Ok(plain);
        }
        match named {
            Some(false) => Err(Miss::UnknownKey),
            _ => Err(Miss::Undecryptable),
        }
    }

    /// Puts the store's key first and the sealing key second.
    fn order(&mut self) {
        let (store, sealing) = (self.store_key, self.sealing_key);
        self.held.sort_by_key(|h| {
            let fp = h.key.fingerprint();
            (fp != store, fp != sealing, h.retired_at.is_some())
        });
    }
}

enum Miss {
    /// The value names a key this box does not hold.
    UnknownKey,
    Undecryptable,
}

/// The keys found in the files the configuration and the store's key meta name.
struct Found {
    configured: Option<Key>,
    /// The pending rotation's key, if one is pending and its file exists.
    pending: Option<Key>,
}

impl Found {
    /// Reads the configured key file and the pending rotation's key file.
    fn read(key_file: &Path, meta: &KeyMeta) -> Result<Found, SecretError> {
        let configured = Key::read_file(key_file)?;
        let pending = match &meta.pending {
            Some(p) => Key::read_file(&p.key_file)?,
            None => None,
        };
        Ok(Found {
            configured,
            pending,
        })
    }

    /// The keys, checked strictly against the store: the store's key check must be opened by the
    /// configured key or the pending rotation's, and a pending rotation's key file must be there
    /// and hold the key it started with.
    fn check(self, key_file: &Path, store: &Path, meta: &KeyMeta) -> Result<KeySet, SecretError> {
        let pending = match &meta.pending {
            None => None,
            Some(p) => match self.pending {
                None => {
                    return Err(SecretError::RotationKeyMissing {
                        path: p.key_file.clone(),
                        store: store.to_owned(),
                    })
                }
                Some(key) if key.matches_key_check(&p.key_check) => Some(key),
                Some(_) => {
                    return Err(SecretError::RotationKeyWrong {
                        path: p.key_file.clone(),
                        store: store.to_owned(),
                    })
                }
            },
        };
        let check = meta.key_check.as_deref().unwrap_or_default();
        let keys: Vec<Key> = self.configured.iter().chain(&pending).cloned().collect();
        let Some(store_key) = keys.iter().find(|k| k.matches_key_check(check)) else {
            return Err(match self.configured {
                None => SecretError::Missing {
                    path: key_file.to_owned(),
                    store: store.to_owned(),
                },
                Some(_) => SecretError::WrongKey {
                    path: key_file.to_owned(),
                    store: store.to_owned(),
                },
            });
        };
        let store_key = store_key.fingerprint();
        let sealing_key = pending.as_ref().map_or(store_key, Key::fingerprint);
        let mut set = KeySet {
            held: Vec::new(),
            store_key,
            sealing_key,
            seen: Some(meta.clone()),
        };
        for key in keys {
            if set.get(key.fingerprint()).is_none() {
                set.held.push(Held {
                    key,
                    retired_at: None,
                });
            }
        }
        set.order();
        Ok(set)
    }
}

impl SecretBox {
    pub fn from_key_bytes(bytes: &[u8; 32]) -> Self {
        Self::fixed(KeySet::single(Key::from_bytes(bytes)))
    }

    fn fixed(keys: KeySet) -> Self {
        Self {
            ring: Arc::new(Ring {
                keys: RwLock::new(keys),
                source: None,
                reloading: Mutex::new(()),
            }),
        }
    }

    /// Reads the key file. `Ok(None)` when it does not exist.
    pub fn read_key_file(path: &Path) -> Result<Option<Self>, SecretError> {
        Ok(Key::read_file(path)?.map(|key| Self::fixed(KeySet::single(key))))
    }

    /// Generates a new random key into `path` (which must not exist), readable by the owner only.
    pub fn create_key_file(path: &Path) -> Result<Self, SecretError> {
        let key = Key::generate();
        key.write_new_file(path)
            .map_err(|error| SecretError::Create {
                path: path.to_owned(),
                error,
            })?;
        Ok(Self::fixed(KeySet::single(key)))
    }

    /// The keys for a keyed store: the configured key file's, and a pending rotation's. Refused,
    /// naming the file, when neither opens the store's key check, or when a pending rotation's
    /// key file is missing or holds another key. The box reloads from the same places when the
    /// store's key meta changes or a value names a key it does not hold.
    pub async fn load(key_file: &Path, store: &Store) -> Result<Self, SecretError> {
        let meta = key_meta(store).await?;
        let keys = Found::read(key_file, &meta)?.check(key_file, store.location(), &meta)?;
        Ok(Self {
            ring: Arc::new(Ring {
                keys: RwLock::new(keys),
                source: Some(Source {
                    key_file: key_file.to_owned(),
                    store: store.clone(),
                }),
                reloading: Mutex::new(()),
            }),
        })
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.ring
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Seals with the newest key: during a rotation, the new key.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        self.refresh_if_changed();
        self.keys().sealing().seal(plaintext, aad)
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretError> {
        let first = self.keys().open(sealed, aad);
        match first {
            Ok(plain) => Ok(plain),
            Err(Miss::UnknownKey) if self.ring.source.is_some() => {
                // Sealed by a rotation in another process: look for its key, once.
                self.reload();
                self.keys()
                    .open(sealed, aad)
                    .map_err(|_| SecretError::Undecryptable)
            }
            Err(_) => Err(SecretError::Undecryptable),
        }
    }

    /// A check value sealed with the store's key.
    pub fn key_check(&self) -> Vec<u8> {
        self.keys().store().key_check()
    }

    /// Whether the store's key opens this check value.
    pub fn matches_key_check(&self, sealed: &[u8]) -> bool {
        self.keys().store().matches_key_check(sealed)
    }

    /// Reloads the keys if the store's key meta changed since they were loaded.
    fn refresh_if_changed(&self) {
        let Some(source) = &self.ring.source else {
            return;
        };
        match key_meta_blocking(&source.store) {
            Ok(meta) => {
                let unchanged = self.keys().seen.as_ref() == Some(&meta);
                if !unchanged {
                    self.reload_for(meta);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the store's key meta"),
        }
    }

    fn reload(&self) {
        let Some(source) = &self.ring.source else {
            return;
        };
        match key_meta_blocking(&source.store) {
            Ok(meta) => self.reload_for(meta),
            Err(e) => tracing::warn!(error = %e, "cannot read the store's key meta"),
        }
    }

    /// Loads the keys `meta` names. Never fails: what cannot be read is logged, and keys the
    /// store no longer uses are kept a while, retired, so a running server never loses one.
    fn reload_for(&self, meta: KeyMeta) {
        let Some(source) = &self.ring.source else {
            return;
        };
        let _one_at_a_time = self
            .ring
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A file that cannot be read is logged and retires nothing.
        let mut complete = true;
        let mut read = |path: &Path| match Key::read_file(path) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reload a secret key");
                complete = false;
                None
            }
        };
        let configured = read(&source.key_file);
        let pending = meta
            .pending
            .as_ref()
            .and_then(|p| read(&p.key_file).filter(|key| key.matches_key_check(&p.key_check)));
        let mut keys = self.keys().clone();
        let now = Instant::now();
        let loaded: Vec<Key> = configured.into_iter().chain(pending.clone()).collect();
        for held in &mut keys.held {
            let still_used = loaded
                .iter()
                .any(|k| k.fingerprint() == held.key.fingerprint());
            if still_used {
                held.retired_at = None;
            } else if complete && held.retired_at.is_none() {
                held.retired_at = Some(now);
            }
        }
        for key in loaded {
            if keys.get(key.fingerprint()).is_none() {
                keys.held.push(Held {
                    key,
                    retired_at: None,
                });
            }
        }
        let check = meta.key_check.as_deref().unwrap_or_default();
        if let Some(store_key) = keys
            .held
            .iter()
            .find(|h| h.key.matches_key_check(check))
            .map(|h| h.key.fingerprint())
        {
            keys.store_key = store_key;
        } else {
            tracing::warn!(
                key_file = %source.key_file.display(),
                "no key file holds the store's key any more; keeping the key loaded before"
            );
        }
        // The store's key and the sealing key are never retired.
        keys.sealing_key = pending.as_ref().map_or(keys.store_key, Key::fingerprint);
        let (store_key, sealing_key) = (keys.store_key, keys.sealing_key);
        for held in &mut keys.held {
            if held.key.fingerprint() == store_key || held.key.fingerprint() == sealing_key {
                held.retired_at = None;
            }
        }
        keys.order();
        // After a failed read, the next seal looks again.
        keys.seen = complete.then_some(meta);
        tracing::info!(
            key_file = %source.key_file.display(),
            keys = keys.held.iter().filter(|h| h.retired_at.is_none()).count(),
            rotation_pending = keys.sealing_key != keys.store_key,
            "loaded the secret keys again"
        );
        *self
            .ring
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = keys;
    }

    /// Re-seals with `sealing` every value of `column` still sealed with the retired `key`;
    /// how many it re-sealed.
    async fn reseal_column(
        &self,
        source: &Source,
        key: &Key,
        sealing: &Key,
        column: SealedColumn,
    ) -> usize {
        let header = key.fingerprint().header().to_vec();
        let rows = match source
            .store
            .read(move |tx| Box::pin(async move { tx.sealed_with_prefix(column, &header).await }))
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, column = column.name(), "cannot look for values sealed with a retired key");
                return 0;
            }
        };
        let mut resealed = 0;
        for (id, old) in rows {
            let aad = column.aad(id.as_str());
            let Some(plain) = key.open(&old, &aad) else {
                tracing::warn!(data_source = %id, column = column.name(), "a stored sealed value does not open");
                continue;
            };
            let new = sealing.seal(&plain, &aad);
            let which = id.clone();
            let swapped = source
                .store
                .write(move |tx| {
                    Box::pin(async move { tx.reseal(column, &which, Some(&old), &new).await })
                })
                .await;
            match swapped {
                Ok(true) => {
                    resealed += 1;
                    tracing::info!(
                        data_source = %id,
                        column = column.name(),
                        "re-sealed a value written with a key the store no longer uses"
                    );
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(data_source = %id, error = %e, "cannot re-seal"),
            }
        }
        resealed
    }

    /// What the background task does every few seconds: reload if the store's key meta changed,
    /// re-seal with the current key any password still sealed with a retired key, and forget
    /// retired keys after a minute. Returns how many passwords it re-sealed.
    pub async fn refresh_now(&self) -> usize {
        let Some(source) = &self.ring.source else {
            return 0;
        };
        let this = self.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || this.refresh_if_changed()).await {
            tracing::warn!(error = %e, "reloading the secret keys failed");
        }
        let (retired, sealing) = {
            let keys = self.keys();
            let retired: Vec<Key> = keys
                .held
                .iter()
                .filter(|h| h.retired_at.is_some())
                .map(|h| h.key.clone())
                .collect();
            (retired, keys.sealing().clone())
        };
        let mut resealed = 0;
        for key in &retired {
            for column in SealedColumn::ALL {
                resealed += self.reseal_column(source, key, &sealing, column).await;
            }
        }
        if !retired.is_empty() {
            let mut keys = self
                .ring
                .keys
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            keys.held
                .retain(|h| h.retired_at.is_none_or(|at| at.elapsed() < RETIRED_GRACE));
        }
        resealed
    }

    /// Starts the background task that keeps a server's keys up to date with a rotation done
    /// by another process. It ends when the last clone of this box is dropped.
    pub fn spawn_refresher(&self) {
        if self.ring.source.is_none() {
            return;
        }
        let ring: Weak<Ring> = Arc::downgrade(&self.ring);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(REFRESH_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(ring) = ring.upgrade() else {
                    break;
                };
                SecretBox { ring }.refresh_now().await;
            }
        });
    }

    /// The keys for a rotation: these, plus `new` as the sealing key.
    fn with_sealing_key(&self, new: Key) -> SecretBox {
        let mut keys = self.keys().clone();
        keys.sealing_key = new.fingerprint();
        if keys.get(new.fingerprint()).is_none() {
            keys.held.push(Held {
                key: new,
                retired_at: None,
            });
        }
        keys.order();
        keys.seen = None;
        Self::fixed(keys)
    }
}

/// The store's key check and pending rotation.
async fn key_meta(store: &Store) -> Result<KeyMeta, StoreError> {
    store
        .read(|tx| Box::pin(async move { tx.key_meta().await }))
        .await
}

/// `key_meta` for synchronous code on a blocking thread (sealing checks it first).
fn key_meta_blocking(store: &Store) -> Result<KeyMeta, StoreError> {
    store.read_blocking(|tx| Box::pin(async move { tx.key_meta().await }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sealed_password_opens_only_with_the_same_associated_data() {
        let key = SecretBox::from_key_bytes(&[7; 32]);
        let sealed = key.seal(b"t0ps3cret", b"Dabc");
        assert!(!sealed.windows(9).any(|w| w == b"t0ps3cret"));
        assert_eq!(key.open(&sealed, b"Dabc").unwrap(), b"t0ps3cret");
        assert!(key.open(&sealed, b"Dother").is_err());
    }

    #[test]
    fn another_key_fails_the_key_check() {
        let check = SecretBox::from_key_bytes(&[1; 32]).key_check();
        assert!(SecretBox::from_key_bytes(&[1; 32]).matches_key_check(&check));
        assert!(!SecretBox::from_key_bytes(&[2; 32]).matches_key_check(&check));
    }

    #[test]
    fn created_key_file_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let created = SecretBox::create_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let read = SecretBox::read_key_file(&path).unwrap().unwrap();
        assert!(read.matches_key_check(&created.key_check()));
        assert!(
            SecretBox::create_key_file(&path).is_err(),
            "never overwrites"
        );
    }

    #[test]
    fn malformed_key_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "not hex").unwrap();
        let err = SecretBox::read_key_file(&path).unwrap_err().to_string();
        assert!(err.contains(path.to_str().unwrap()), "{err}");
    }

    #[test]
    fn debug_hides_the_key() {
        let key = SecretBox::from_key_bytes(&[0xab; 32]);
        assert_eq!(format!("{key:?}"), "SecretBox(***)");
        let rotating = key.with_sealing_key(Key::from_bytes(&[0xcd; 32]));
        assert_eq!(format!("{rotating:?}"), "SecretBox(***)");
    }

    #[test]
    fn a_ring_opens_with_either_key_and_seals_with_the_new_one() {
        let old = SecretBox::from_key_bytes(&[1; 32]);
        let by_old = old.seal(b"a", b"D1");
        let ring = old.with_sealing_key(Key::from_bytes(&[2; 32]));
        let by_new = ring.seal(b"b", b"D2");
        assert_eq!(ring.open(&by_old, b"D1").unwrap(), b"a");
        assert_eq!(ring.open(&by_new, b"D2").unwrap(), b"b");
        assert!(old.open(&by_new, b"D2").is_err(), "names a key it lacks");
        assert!(
            ring.matches_key_check(&old.key_check()),
            "the store key is still the old one"
        );
    }
}
