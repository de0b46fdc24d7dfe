//! Logging through `tracing`. Request lines never carry headers or bodies, so no secret reaches a log.

use std::io::IsTerminal;

use tracing::{Level, Metadata};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Whether `meta` is actix-http's ERROR about one connection: a peer that sent bytes that are
/// not HTTP, a head too large, or went away. Anyone who reaches the port can cause those at
/// will, so they would be log lines an unauthenticated client writes; they are answered with
/// the contract's error and counted in `jackal_http_protocol_errors_total` instead (see
/// `protocol_errors`).
fn is_peer_noise(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::ERROR && meta.target().starts_with("actix_http::h1")
}

/// Lines waiting for the log's thread, at most. The queue is allocated whole at start (32 bytes
/// a line): tracing-appender's default of 128,000 added 4 MiB to an idle server, where a batch
/// at 60,000 requests a second is a few hundred lines.
const QUEUED_LINES: usize = 4_096;

/// Installs the global subscriber once; `RUST_LOG` overrides `default_filter`. Keep the
/// returned guard while the program logs: dropping it writes out what is still buffered.
///
/// Lines are written by a thread of their own, in batches: everything that arrived while it
/// wrote the last batch goes out in one `write` (at most 8 KiB each). A request's line used to
/// be one `write` system call on the worker that served it, 7% of a GET's CPU at 32 clients,
/// and a wake-up of whatever reads the log. While the server runs no line is dropped: when
/// `QUEUED_LINES` wait, the request that logs waits too, as it waited on a full pipe before.
/// When the guard drops, tracing-appender waits at most 1.1 s for the queue to be written out.
pub fn init(default_filter: &str) -> WorkerGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("jackal-log")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        // Colour codes only for a person at a terminal, never in files or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter.and(filter_fn(|meta| !is_peer_noise(meta))));
    // A second init (tests) is harmless, so its error is ignored.
    let _ = tracing_subscriber::registry().with(layer).try_init();
    guard
}
