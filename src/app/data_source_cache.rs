//! On the SQLite store, the data sources `GET /data-source/{id}` answered with, kept in memory:
//! reading one from the store was about half of that request's cost (a profile at 32 clients
//! put a quarter of the server's CPU under the read, most of it in SQLite's shared-memory locks,
//! a system call each).
//!
//! A remembered row is served only while nothing at all can have changed it:
//! - no write transaction has ended on this server since it was read ([`Store::local_writes`]),
//!   so every write made through this server is read at once;
//! - the store's [`ChangeWatch`] has seen no commit to the file since, by any process, and is
//!   fresh. So a change another process makes in the file (`jackal secrets rotate`, a hand
//!   edit, a second server on the same file) is read within the watch's window (under 100 ms,
//!   measured by `tests/api/data_source_memory.rs`), never later, even when the watch stalls.
//!
//! Not on PostgreSQL: several servers share that store, and each reads what another wrote at
//! once; a row from memory would be a write of another server read late.
//!
//! Only rows that exist are remembered (an unknown id cannot fill the memory, and a new data
//! source is found at once), and only for that one read: tests, reveals and changes read the
//! store.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::store::{ChangeWatch, DataSourceRow, Store, Watched};

/// Most lookups remembered; past it the memory is emptied and filled again.
const REMEMBERED: usize = 4_096;

/// What must not have moved since a row was read for it to be served from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    watched: u64,
    local_writes: u64,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct DataSourceCache {
    store: Store,
    watch: ChangeWatch,
    rows: Arc<RwLock<HashMap<String, Remembered>>>,
}

/// A row, as the answer to one lookup, and the token taken before it was read.
type Remembered = (Arc<DataSourceRow>, Token);

impl std::fmt::Debug for DataSourceCache {
    // The rows hold sealed secrets: only how many there are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("DataSourceCache")
            .field("remembered", &rows.len())
            .finish_non_exhaustive()
    }
}

impl DataSourceCache {
    /// The memory for `store` and its `watch`; `None` on PostgreSQL (see above).
    pub fn new(store: Store, watch: ChangeWatch) -> Option<DataSourceCache> {
        store.sqlite_path()?;
        Some(DataSourceCache {
            store,
            watch,
            rows: Arc::default(),
        })
    }

    /// Taken before a read of the store: a change after it makes the row read stale.
    pub fn token(&self) -> Token {
        Token {
            watched: self.watch.epoch(Watched::SqliteCommits),
            local_writes: self.store.local_writes(),
        }
    }

    /// The row remembered for the lookup `key` (an id or an alias), while it can be trusted.
    pub fn get(&self, key: &str) -> Option<Arc<DataSourceRow>> {
        if !self.watch.is_fresh() {
            return None;
        }
        let now = self.token();
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        rows.get(key)
            .filter(|(_, token)| *token == now)
            .map(|(row, _)| row.clone())
    }

    /// Remembers `row` as the answer to the lookup `key`, read after `token` was taken.
    pub fn remember(&self, key: &str, row: Arc<DataSourceRow>, token: Token) {
        let mut rows = self.rows.write().unwrap_or_else(PoisonError::into_inner);
        if rows.len() >= REMEMBERED {
            rows.clear();
        }
        rows.insert(key.to_owned(), (row, token));
    }
}
