//! How a server learns that the store changed, whoever changed it: this server, `jackal api-key
//! revoke` in another process, or another server on the same PostgreSQL store.
//!
//! A server keeps the keys it has checked (`crate::app::api_keys::KeyCache`) and, on SQLite,
//! the data sources it has read (`crate::app::data_source_cache`) in memory; each remembered
//! row carries the [`ChangeWatch::epoch`] it was read in, and is trusted only while that epoch
//! is unchanged and the watch [`ChangeWatch::is_fresh`]. The watch moves an epoch on every
//! change of what it tells ([`Watched`]), and counts as fresh only for a short while after each
//! time it has made sure it saw every change so far. A stalled or broken watch therefore never
//! leaves a revoked key working or an old row served: the memory stops being trusted and every
//! request reads the store again.
//!
//! - SQLite: every [`SQLITE_POLL`] a connection of the watch's own asks `PRAGMA data_version`,
//!   which moves when any other connection, in any process, committed (the commits); only then
//!   it reads the counter that a trigger on `api_key` moves (migration 0010), so writes of
//!   other rows (audit records) do not empty the keys' memory.
//! - PostgreSQL: a connection of the watch's own `LISTEN`s on `jackal_api_key`, which a trigger
//!   on `api_key` notifies when the change commits; a `SELECT 1` every [`PG_HEARTBEAT`] proves
//!   the connection still delivers (PostgreSQL sends pending notifications before it answers).
//!   It does not tell other commits: several servers share the store, and a server that served
//!   rows from memory would serve another server's write late, where today it reads it at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_postgres::AsyncMessage;

/// How often the SQLite watch looks at the file.
pub const SQLITE_POLL: Duration = Duration::from_millis(10);
/// How long after a look the SQLite watch still counts as fresh: several polls, so that one
/// late wake-up on a busy machine does not send every request to the store.
const SQLITE_FRESH_FOR: Duration = Duration::from_millis(50);
/// How often the PostgreSQL watch proves its connection.
pub const PG_HEARTBEAT: Duration = Duration::from_millis(40);
/// How long after a heartbeat's answer the PostgreSQL watch still counts as fresh.
const PG_FRESH_FOR: Duration = Duration::from_millis(90);
/// How long the PostgreSQL watch waits before connecting again after its connection failed.
const PG_RECONNECT: Duration = Duration::from_millis(500);

/// A handle on the watch; cheap to clone. The watch stops when the last handle is dropped.
#[derive(Clone, Debug)]
pub struct ChangeWatch {
    state: Arc<WatchState>,
}

/// What a [`ChangeWatch`] tells changes of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// The `api_key` table.
    ApiKeys = 0,
    /// Anything at all, committed by any connection: SQLite only (on PostgreSQL this epoch
    /// moves only when the watch loses track).
    SqliteCommits = 1,
}

const WATCHED: [Watched; 2] = [Watched::ApiKeys, Watched::SqliteCommits];

#[derive(Debug)]
struct WatchState {
    /// By [`Watched`].
    epochs: [AtomicU64; 2],
    /// Nanoseconds since `base` until which the watch counts as fresh (0: not fresh).
    fresh_until: AtomicU64,
    base: Instant,
}

impl WatchState {
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn changed(&self, what: Watched) {
        self.epochs[what as usize].fetch_add(1, Ordering::SeqCst);
    }

    /// Everything committed before `started` (this clock's reading, taken before the look
    /// began) has been seen: trust until `started + valid_for`. Counted from the start of the
    /// look, never its end, so a look that stalled cannot extend trust past the limit.
    fn confirmed(&self, started: u64, valid_for: Duration) {
        let until = started.saturating_add(valid_for.as_nanos() as u64);
        self.fresh_until.fetch_max(until, Ordering::SeqCst);
    }

    /// The watch cannot tell what changed: nothing read before is trusted again.
    fn lost(&self) {
        self.fresh_until.store(0, Ordering::SeqCst);
        for what in WATCHED {
            self.changed(what);
        }
    }
}

impl ChangeWatch {
    fn new() -> (ChangeWatch, Weak<WatchState>) {
        let state = Arc::new(WatchState {
            epochs: [AtomicU64::new(0), AtomicU64::new(0)],
            fresh_until: AtomicU64::new(0),
            base: Instant::now(),
        });
        let weak = Arc::downgrade(&state);
        (ChangeWatch { state }, weak)
    }

    /// Moves on every change of `what` in the store the watch has seen.
    pub fn epoch(&self, what: Watched) -> u64 {
        self.state.epochs[what as usize].load(Ordering::SeqCst)
    }

    /// Whether the watch has recently made sure it saw every change so far.
    pub fn is_fresh(&self) -> bool {
        self.state.now() < self.state.fresh_until.load(Ordering::SeqCst)
    }

    /// Watches the SQLite store at `path` on a thread of its own.
    pub(super) fn sqlite(path: PathBuf) -> Result<ChangeWatch, std::io::Error> {
        let (watch, weak) = ChangeWatch::new();
        std::thread::Builder::new()
            .name("jackal-change-watch".to_owned())
            .spawn(move || watch_sqlite(&path, &weak))?;
        Ok(watch)
    }

    /// Watches a PostgreSQL store through connections made with `config`, on `runtime`.
    pub(super) fn postgres(
        config: tokio_postgres::Config,
        tls: tokio_postgres_rustls::MakeRustlsConnect,
        runtime: &tokio::runtime::Handle,
    ) -> ChangeWatch {
        let (watch, weak) = ChangeWatch::new();
        runtime.spawn(watch_postgres(config, tls, weak));
        watch
    }
}

fn watch_sqlite(path: &std::path::Path, state: &Weak<WatchState>) {
    let mut conn = None;
    // (data_version, the keys' counter) at the last look.
    let mut seen: Option<(i64, i64)> = None;
    let mut warned = false;
    loop {
        let Some(state) = state.upgrade() else {
            return;
        };
        let started = state.now();
        match look(path, &mut conn, &mut seen) {
            Ok(changed) => {
                for what in changed {
                    state.changed(what);
                }
                state.confirmed(started, SQLITE_FRESH_FOR);
                warned = false;
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, "cannot watch the store for changes; checking each request against the store");
                    warned = true;
                }
                conn = None;
                seen = None;
                state.lost();
            }
        }
        drop(state);
        std::thread::sleep(SQLITE_POLL);
    }
}

/// One look at the file: what changed since the last one (everything, at the first).
fn look(
    path: &std::path::Path,
    conn: &mut Option<rusqlite::Connection>,
    seen: &mut Option<(i64, i64)>,
) -> rusqlite::Result<Vec<Watched>> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?),
    };
    let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
    if seen.is_some_and(|(v, _)| v == version) {
        return Ok(Vec::new());
    }
    let counter: i64 = conn.query_row(
        "SELECT generation FROM api_key_generation WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    let mut changed = vec![Watched::SqliteCommits];
    if seen.is_none_or(|(_, c)| c != counter) {
        changed.push(Watched::ApiKeys);
    }
    *seen = Some((version, counter));
    Ok(changed)
}

async fn watch_postgres(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    state: Weak<WatchState>,
) {
    let mut warned = false;
    loop {
        let Some(strong) = state.upgrade() else {
            return;
        };
        drop(strong);
        let ended = listen(&config, tls.clone(), &state).await;
        let Some(strong) = state.upgrade() else {
            return;
        };
        strong.lost();
        drop(strong);
        if let Err(e) = ended {
            if !warned {
                tracing::warn!(error = %e, "cannot watch the store for changes; checking each request against the store");
                warned = true;
            }
        }
        tokio::time::sleep(PG_RECONNECT).await;
    }
}

/// Why the PostgreSQL watch stopped listening.
#[derive(Debug, thiserror::Error)]
enum Ended {
    #[error("{}", super::postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the store took over {} ms to answer a heartbeat", PG_FRESH_FOR.as_millis())]
    Slow,
}

/// Listens until the connection fails or the watch is dropped.
async fn listen(
    config: &tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    state: &Weak<WatchState>,
) -> Result<(), Ended> {
    let (client, mut connection) = config.connect(tls).await?;
    let (notified, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    // The connection's messages: notifications go to the loop below; its end ends the channel.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(_) = message {
                if notified.send(()).is_err() {
                    break;
                }
            }
        }
    });
    let _stop_driver = AbortOnDrop(driver);
    client.batch_execute("LISTEN jackal_api_key").await?;
    let mut heartbeat = tokio::time::interval(PG_HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        tokio::select! {
            // A waiting notification before another heartbeat, always.
            biased;
            message = notifications.recv() => {
                let Some(()) = message else { return Ok(()) };
                let Some(state) = state.upgrade() else { return Ok(()) };
                state.changed(Watched::ApiKeys);
            }
            _ = heartbeat.tick() => {
                let Some(started) = state.upgrade().map(|s| s.now()) else { return Ok(()) };
                match tokio::time::timeout(PG_FRESH_FOR, client.simple_query("SELECT 1")).await {
                    Ok(answer) => drop(answer?),
                    Err(_) => return Err(Ended::Slow),
                }
                let Some(state) = state.upgrade() else { return Ok(()) };
                // PostgreSQL sends a pending notification before its answer: whatever came
                // with this one is a change seen before the trust is renewed.
                let mut changed = std::mem::take(&mut first);
                while notifications.try_recv().is_ok() {
                    changed = true;
                }
                if changed {
                    // Also at the first answer: what changed before LISTEN took effect was
                    // not notified.
                    state.changed(Watched::ApiKeys);
                }
                state.confirmed(started, PG_FRESH_FOR);
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_watch_is_not_fresh_and_moves_the_epoch() {
        let (watch, _) = ChangeWatch::new();
        assert!(!watch.is_fresh());
        watch
            .state
            .confirmed(watch.state.now(), Duration::from_secs(60));
        assert!(watch.is_fresh());
        let before = WATCHED.map(|what| watch.epoch(what));
        watch.state.lost();
        assert!(!watch.is_fresh());
        for what in WATCHED {
            assert_ne!(watch.epoch(what), before[what as usize], "{what:?}");
        }
    }

    #[test]
    fn trust_is_counted_from_the_start_of_a_look() {
        let (watch, _) = ChangeWatch::new();
        let started = watch.state.now();
        std::thread::sleep(Duration::from_millis(30));
        // A look that began 30 ms ago cannot make the watch fresh for 20 ms from now.
        watch.state.confirmed(started, Duration::from_millis(20));
        assert!(!watch.is_fresh());
    }

    #[test]
    fn freshness_runs_out() {
        let (watch, _) = ChangeWatch::new();
        watch
            .state
            .confirmed(watch.state.now(), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!watch.is_fresh());
    }
}
