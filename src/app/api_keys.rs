//! API keys: a UUID id and a 32-character base62 secret, of which only a SHA-256 hash is stored.
//! Created by `jackal api-key create` or at start-up (`bootstrap`), checked on every request
//! (`KeyCache::verify`, from memory while the store says no key changed), revoked by
//! `jackal api-key revoke`.
//!
//! Secrets are random and long, so a fast hash is enough (no argon2 run per request); the stored
//! hash is compared in constant time.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::{ids, time};
use crate::store::{ApiKeyRow, ChangeWatch, Store, StoreError, Watched};

/// The API key that made the current request: the gate puts it in the request
/// (`crate::api::caller` reads it there), and use cases record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: String,
    pub name: String,
}

pub const SECRET_LEN: usize = 32;
/// Keys supplied through the environment may be chosen by people; refuse the guessable ones.
pub const MIN_SUPPLIED_SECRET_LEN: usize = 16;

/// An API key's id and secret. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyCredentials {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for KeyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCredentials")
            .field("id", &self.id)
            .field("secret", &"***")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("JACKDB_API_KEY_ID must be a UUID such as 0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e")]
    IdNotUuid,
    #[error("JACKDB_API_KEY_SECRET must be at least {MIN_SUPPLIED_SECRET_LEN} characters long")]
    SecretTooShort,
    #[error("JACKDB_API_KEY_ID and JACKDB_API_KEY_SECRET must be set together")]
    HalfSet,
    #[error(
        "the API key {0} in JACKDB_API_KEY_ID was revoked: choose a new id, or unset the variables"
    )]
    Revoked(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

async fn find(store: &Store, id: &str) -> Result<Option<ApiKeyRow>, StoreError> {
    let id = id.to_owned();
    store
        .read_point(move |tx| Box::pin(async move { tx.api_key(&id).await }))
        .await
}

fn caller_if_active(row: &ApiKeyRow) -> Option<Caller> {
    row.revoked_at.is_none().then(|| Caller {
        key_id: row.id.clone(),
        name: row.name.clone(),
    })
}

/// Most keys this server remembers; past it the memory is emptied and filled again. Only keys
/// that exist are remembered, so unknown ids cannot fill it.
const CACHED_KEYS: usize = 10_000;

/// The store's API keys as this server last read them, trusted only while the store's
/// [`ChangeWatch`] says no key changed since (see `store/change_watch.rs`): a key revoked by any
/// process stops working within that watch's window, and a request never waits on the store
/// for a key it has seen. Cheap to clone.
#[derive(Clone, Debug)]
pub struct KeyCache {
    store: Store,
    watch: ChangeWatch,
    keys: Arc<RwLock<HashMap<String, Remembered>>>,
}

#[derive(Debug)]
struct Remembered {
    row: ApiKeyRow,
    /// The watch's epoch before the row was read.
    epoch: u64,
}

impl KeyCache {
    /// The keys of `store`, trusted as `watch` (the store's) says.
    pub fn new(store: Store, watch: ChangeWatch) -> KeyCache {
        KeyCache {
            store,
            watch,
            keys: Arc::default(),
        }
    }

    /// The calling key when `id` and `secret` name an active key.
    pub async fn verify(&self, id: &str, secret: &str) -> Result<Option<Caller>, StoreError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let presented = hash_secret(secret);
        self.lookup(id, |row| {
            let matches: bool = row.secret_sha256.ct_eq(&presented).into();
            matches.then(|| caller_if_active(row)).flatten()
        })
        .await
    }

    /// The key `id` as a caller while it is active (not revoked), without its secret: for a
    /// status-page session, which proved the secret when it began. Same memory and watch as
    /// [`KeyCache::verify`], so a revoked key's sessions end within the watch's window.
    pub async fn active(&self, id: &str) -> Result<Option<Caller>, StoreError> {
        self.lookup(id, caller_if_active).await
    }

    /// `check` of the key `id`: of the remembered row while it can be trusted, else of the
    /// row read now (then remembered).
    async fn lookup(
        &self,
        id: &str,
        check: impl Fn(&ApiKeyRow) -> Option<Caller>,
    ) -> Result<Option<Caller>, StoreError> {
        if let Some(caller) = self.remembered(id, &check) {
            return Ok(caller);
        }
        // Taken before the read: a change the watch sees after it makes the row stale.
        let epoch = self.watch.epoch(Watched::ApiKeys);
        let Some(row) = find(&self.store, id).await? else {
            return Ok(None);
        };
        let caller = check(&row);
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= CACHED_KEYS {
            keys.clear();
        }
        keys.insert(id.to_owned(), Remembered { row, epoch });
        Ok(caller)
    }

    /// `check` of the remembered row of `id`, if it is still to be trusted.
    fn remembered<T>(&self, id: &str, check: impl Fn(&ApiKeyRow) -> T) -> Option<T> {
        if !self.watch.is_fresh() {
            return None;
        }
        let epoch = self.watch.epoch(Watched::ApiKeys);
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(id)
            .filter(|remembered| remembered.epoch == epoch)
            .map(|remembered| check(&remembered.row))
    }
}

/// Creates a key and returns its credentials: the only time the secret exists outside a hash.
pub async fn create(store: &Store, name: &str) -> Result<KeyCredentials, StoreError> {
    let credentials = KeyCredentials {
        id: uuid::Uuid::new_v4().to_string(),
        secret: ids::random_base62(SECRET_LEN),
    };
    insert(
        store,
        ApiKeyRow {
            id: credentials.id.clone(),
            name: name.to_owned(),
            secret_sha256: hash_secret(&credentials.secret),
            created_at: time::now_millis(),
            revoked_at: None,
        },
    )
    .await?;
    Ok(credentials)
}

async fn insert(store: &Store, row: ApiKeyRow) -> Result<(), StoreError> {
    store
        .write(move |tx| Box::pin(async move { tx.insert_api_key(&row).await }))
        .await
}

/// Every key (ids, names, dates; the hashes stay in the store's rows).
pub async fn list(store: &Store) -> Result<Vec<ApiKeyRow>, StoreError> {
    store
        .read(|tx| Box::pin(async move { tx.api_keys().await }))
        .await
}

/// How many keys are not revoked.
async fn count_active(store: &Store) -> Result<usize, StoreError> {
    let keys = list(store).await?;
    Ok(keys.iter().filter(|k| k.revoked_at.is_none()).count())
}

/// Revokes the active key `id`; `false` when there is none.
pub async fn revoke(store: &Store, id: &str, at: i64) -> Result<bool, StoreError> {
    let id = id.to_owned();
    store
        .write(move |tx| Box::pin(async move { tx.revoke_api_key(&id, at).await }))
        .await
}

/// Reads `JACKDB_API_KEY_ID` / `JACKDB_API_KEY_SECRET` through `lookup`.
pub fn credentials_from_env(
    lookup: impl Fn(&'static str) -> Option<String>,
) -> Result<Option<KeyCredentials>, KeyError> {
    let id = lookup("JACKDB_API_KEY_ID").filter(|v| !v.is_empty());
    let secret = lookup("JACKDB_API_KEY_SECRET").filter(|v| !v.is_empty());
    match (id, secret) {
        (None, None) => Ok(None),
        (Some(id), Some(secret)) => {
            let id = uuid::Uuid::parse_str(&id)
                .map_err(|_| KeyError::IdNotUuid)?
                .to_string();
            if secret.chars().count() < MIN_SUPPLIED_SECRET_LEN {
                return Err(KeyError::SecretTooShort);
            }
            Ok(Some(KeyCredentials { id, secret }))
        }
        _ => Err(KeyError::HalfSet),
    }
}

/// What start-up did about API keys.
#[derive(Debug)]
pub enum Bootstrap {
    /// The supplied key exists (created or its secret brought up to date); `active` keys in all.
    Supplied { active: usize },
    /// `active` keys existed already and none was supplied.
    Existing { active: usize },
    /// The store had no active key: this one was created and must be shown once.
    Created(KeyCredentials),
}

/// Makes sure the server can be called: the supplied key exists with that secret, or, with no
/// key supplied and no active key stored, a first key is created.
pub async fn bootstrap(
    store: &Store,
    supplied: Option<&KeyCredentials>,
) -> Result<Bootstrap, KeyError> {
    if let Some(key) = supplied {
        let hash = hash_secret(&key.secret);
        match find(store, &key.id).await? {
            Some(row) if row.revoked_at.is_some() => return Err(KeyError::Revoked(row.id)),
            Some(row) if row.secret_sha256 == hash => {}
            Some(_) => {
                let id = key.id.clone();
                store
                    .write(move |tx| {
                        Box::pin(async move { tx.set_api_key_secret(&id, &hash).await })
                    })
                    .await?;
            }
            None => {
                insert(
                    store,
                    ApiKeyRow {
                        id: key.id.clone(),
                        name: "from JACKDB_API_KEY_ID".to_owned(),
                        secret_sha256: hash,
                        created_at: time::now_millis(),
                        revoked_at: None,
                    },
                )
                .await?;
            }
        }
        return Ok(Bootstrap::Supplied {
            active: count_active(store).await?,
        });
    }
    let active = count_active(store).await?;
    if active > 0 {
        return Ok(Bootstrap::Existing { active });
    }
    Ok(Bootstrap::Created(create(store, "first key").await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let key = KeyCredentials {
            id: "i".into(),
            secret: "s3cretvalue".into(),
        };
        assert!(!format!("{key:?}").contains("s3cretvalue"));
    }

    #[test]
    fn env_credentials_are_checked() {
        let env = |id: &'static str, secret: &'static str| {
            move |name: &'static str| match name {
                "JACKDB_API_KEY_ID" => Some(id.to_owned()),
                "JACKDB_API_KEY_SECRET" => Some(secret.to_owned()),
                _ => None,
            }
        };
        let id = "0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e";
        assert!(credentials_from_env(env(id, "0123456789abcdef"))
            .unwrap()
            .is_some());
        assert!(matches!(
            credentials_from_env(env("nope", "0123456789abcdef")),
            Err(KeyError::IdNotUuid)
        ));
        assert!(matches!(
            credentials_from_env(env(id, "short")),
            Err(KeyError::SecretTooShort)
        ));
        assert!(matches!(
            credentials_from_env(env(id, "")),
            Err(KeyError::HalfSet)
        ));
        assert!(credentials_from_env(|_| None).unwrap().is_none());
    }

    /// Whether `id` / `secret` verify once the cache has caught up with the store (the watch
    /// polls every few milliseconds; a second is far more than it takes).
    async fn settles_to(keys: &KeyCache, id: &str, secret: &str, valid: bool) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            if keys.verify(id, secret).await.unwrap().is_some() == valid {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    #[tokio::test]
    async fn created_key_verifies_and_revoked_key_stops_working_though_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).await.unwrap();
        let keys = KeyCache::new(store.clone(), store.watch_changes().unwrap());
        let key = create(&store, "ci").await.unwrap();
        assert_eq!(key.secret.len(), SECRET_LEN);
        assert!(key.secret.chars().all(|c| c.is_ascii_alphanumeric()));
        let caller = keys.verify(&key.id, &key.secret).await.unwrap().unwrap();
        assert_eq!(caller.name, "ci");
        assert!(keys.verify(&key.id, "wrong").await.unwrap().is_none());
        let stored = find(&store, &key.id).await.unwrap().unwrap();
        assert_ne!(stored.secret_sha256, key.secret.as_bytes());
        // Remembered, and trusted, before the revocation.
        while !keys.watch.is_fresh() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(keys.verify(&key.id, &key.secret).await.unwrap().is_some());
        assert!(keys.remembered(&key.id, |_| ()).is_some());
        assert!(revoke(&store, &key.id, 1).await.unwrap());
        assert!(settles_to(&keys, &key.id, &key.secret, false).await);
    }

    #[tokio::test]
    async fn unknown_ids_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).await.unwrap();
        let keys = KeyCache::new(store.clone(), store.watch_changes().unwrap());
        let id = uuid::Uuid::new_v4().to_string();
        assert!(keys.verify(&id, "whatever").await.unwrap().is_none());
        assert!(keys
            .verify("not-a-uuid", "whatever")
            .await
            .unwrap()
            .is_none());
        assert!(keys.keys.read().unwrap().is_empty());
    }

    #[tokio::test]
    async fn bootstrap_creates_a_first_key_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).await.unwrap();
        assert!(matches!(
            bootstrap(&store, None).await.unwrap(),
            Bootstrap::Created(_)
        ));
        assert!(matches!(
            bootstrap(&store, None).await.unwrap(),
            Bootstrap::Existing { active: 1 }
        ));
    }

    #[tokio::test]
    async fn supplied_key_is_created_then_its_secret_follows_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).await.unwrap();
        let mut key = KeyCredentials {
            id: uuid::Uuid::new_v4().to_string(),
            secret: "first-secret-0123456789".into(),
        };
        let keys = KeyCache::new(store.clone(), store.watch_changes().unwrap());
        bootstrap(&store, Some(&key)).await.unwrap();
        assert!(settles_to(&keys, &key.id, &key.secret, true).await);
        let first = key.secret.clone();
        key.secret = "second-secret-0123456789".into();
        bootstrap(&store, Some(&key)).await.unwrap();
        assert!(settles_to(&keys, &key.id, &key.secret, true).await);
        assert!(settles_to(&keys, &key.id, &first, false).await);
        revoke(&store, &key.id, 1).await.unwrap();
        assert!(matches!(
            bootstrap(&store, Some(&key)).await,
            Err(KeyError::Revoked(_))
        ));
    }
}
