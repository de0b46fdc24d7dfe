//! Where connection tests run: a runtime of their own with a bounded number of tests at once.
//!
//! A test against a host that never answers holds a connection for its whole deadline. On the
//! HTTP workers, hundreds of those would compete with every other request; here they only
//! compete with each other, and the ones that wait for a slot still answer by their deadline.
//!
//! Slots are shared fairly: one API key holds at most its share of them (`[test] key_share`);
//! its further tests wait for one of its own to finish, so that a key flooding the pool with
//! tests against silent hosts cannot make every other key's tests time out in the queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jackal_drivers::{
    ConnectionSpec, ErrorCode, IntrospectionReport, ProbeContext, ProbeFailure, ProbeReport,
};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Threads for TLS handshakes and protocol work; tests mostly wait on the network.
const THREADS: usize = 2;

pub struct ProbePool {
    runtime: Option<Runtime>,
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    shares: Arc<KeyShares>,
    context: Arc<ProbeContext>,
}

/// Each key's share of the slots: a semaphore per key with tests running or waiting.
#[derive(Debug)]
struct KeyShares {
    per_key: usize,
    by_key: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl KeyShares {
    fn of(&self, key: &str) -> Arc<Semaphore> {
        let mut by_key = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        by_key
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_key)))
            .clone()
    }

    /// Forgets `key`'s semaphore once no test of it runs or waits, so the map holds only keys
    /// that are testing.
    fn release(&self, key: &str, share: Arc<Semaphore>) {
        let mut by_key = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and `share` are the only ones left: nobody holds or awaits it.
        if Arc::strong_count(&share) == 2 {
            by_key.remove(key);
        }
    }
}

impl std::fmt::Debug for ProbePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbePool")
            .field("max_concurrent", &self.max_concurrent)
            .field("per_key", &self.shares.per_key)
            .field("available", &self.slots.available_permits())
            .finish()
    }
}

impl Drop for ProbePool {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is not allowed inside the async context that
        // usually drops the pool; tests still running are abandoned with it.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl ProbePool {
    /// `max_concurrent` tests at once, at most `per_key` of them for one API key.
    pub fn new(
        context: ProbeContext,
        max_concurrent: usize,
        per_key: usize,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .thread_name("jackal-probe")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            shares: Arc::new(KeyShares {
                per_key: per_key.clamp(1, max_concurrent.max(1)),
                by_key: Mutex::new(HashMap::new()),
            }),
            context: Arc::new(context),
        })
    }

    pub fn context(&self) -> &ProbeContext {
        &self.context
    }

    /// How many tests one API key may run at once.
    pub fn per_key(&self) -> usize {
        self.shares.per_key
    }

    /// Tests `spec` for the API key `key`. The deadline counts from now and covers waiting for
    /// a slot, so the answer never comes later than the test's budget (plus scheduling slack).
    pub async fn test(&self, spec: ConnectionSpec, key: &str) -> ProbeReport {
        self.bounded(spec, key, probe_owned, failed_report).await
    }

    /// Lists `spec`'s schemas, tables and columns, on the same slots and deadline as a test.
    pub async fn introspect(&self, spec: ConnectionSpec, key: &str) -> IntrospectionReport {
        self.bounded(spec, key, introspect_owned, failed_introspection)
            .await
    }

    /// Runs `work` on the pool's runtime once a slot of `key`'s share and a slot of the pool
    /// are free, within `spec`'s budget from now. `failed` makes the report of a test that
    /// never ran (no slot in time, or a bug).
    async fn bounded<R, F, Fut>(
        &self,
        spec: ConnectionSpec,
        key: &str,
        work: F,
        failed: fn(Instant, ErrorCode, String) -> R,
    ) -> R
    where
        R: Send + 'static,
        F: FnOnce(Owned) -> Fut,
        Fut: std::future::Future<Output = R> + Send + 'static,
    {
        let started = Instant::now();
        let budget = self.context.budget(&spec);
        let deadline = started + budget;
        let slots = self.slots.clone();
        let max_concurrent = self.max_concurrent;
        let per_key = self.shares.per_key;
        let share = self.shares.of(key);
        let runtime = self
            .runtime
            .as_ref()
            .expect("runtime lives as long as the pool");
        let work = work(Owned {
            spec,
            context: self.context.clone(),
            started,
            deadline,
        });
        let shares = self.shares.clone();
        let key = key.to_owned();
        let task = runtime.spawn(async move {
            let report = async {
                let Ok(Ok(_own)) =
                    tokio::time::timeout_at(deadline, share.clone().acquire_owned()).await
                else {
                    let (code, message) = share_used_up(budget, per_key);
                    return failed(started, code, message);
                };
                let Ok(Ok(_slot)) = tokio::time::timeout_at(deadline, slots.acquire_owned()).await
                else {
                    let (code, message) = queued_too_long(budget, max_concurrent);
                    return failed(started, code, message);
                };
                work.await
            }
            .await;
            shares.release(&key, share);
            report
        });
        // The task stops itself at the deadline; this bound only guards against a bug there.
        match tokio::time::timeout_at(deadline + Duration::from_millis(250), task).await {
            Ok(Ok(report)) => report,
            Ok(Err(join_error)) => failed(
                started,
                ErrorCode::ServerError,
                format!("the connection test failed inside Jackal: {join_error}"),
            ),
            Err(_) => failed(
                started,
                ErrorCode::Timeout,
                format!(
                    "the connection test did not finish within its {} s deadline",
                    budget.as_secs_f64()
                ),
            ),
        }
    }
}

/// What the pool hands a test's task: owned, so the task can be `'static`.
struct Owned {
    spec: ConnectionSpec,
    context: Arc<ProbeContext>,
    started: Instant,
    deadline: Instant,
}

async fn probe_owned(o: Owned) -> ProbeReport {
    jackal_drivers::probe_until(&o.spec, &o.context, o.started, o.deadline).await
}

async fn introspect_owned(o: Owned) -> IntrospectionReport {
    jackal_drivers::introspect_until(&o.spec, &o.context, o.started, o.deadline).await
}

fn failed_report(started: Instant, code: ErrorCode, message: String) -> ProbeReport {
    ProbeReport {
        outcome: Err(ProbeFailure::new(code, message)),
        duration: started.elapsed(),
        phases: Vec::new(),
        address: None,
        tls: None,
    }
}

fn failed_introspection(started: Instant, code: ErrorCode, message: String) -> IntrospectionReport {
    IntrospectionReport {
        outcome: Err(ProbeFailure::new(code, message)),
        duration: started.elapsed(),
        phases: Vec::new(),
        address: None,
        tls: None,
    }
}

fn share_used_up(budget: Duration, per_key: usize) -> (ErrorCode, String) {
    (
        ErrorCode::Timeout,
        format!(
            "this API key was already running {per_key} connection tests, its share of the server's test slots, and this one waited its whole {} s deadline for one of them to finish: try again later, or raise [test] key_share or max_concurrent",
            budget.as_secs_f64()
        ),
    )
}

fn queued_too_long(budget: Duration, max_concurrent: usize) -> (ErrorCode, String) {
    (
        ErrorCode::Timeout,
        format!(
            "Jackal was already running {max_concurrent} connection tests, and this one waited its whole {} s deadline for a free slot: try again later, or raise [test] max_concurrent",
            budget.as_secs_f64()
        ),
    )
}
