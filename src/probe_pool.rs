//! Where connection tests run: a runtime of their own with a bounded number of tests at once.
//!
//! A test against a host that never answers holds a connection for its whole deadline. On the
//! HTTP workers, hundreds of those would compete with every other request; here they only
//! compete with each other, and the ones that wait for a slot still answer by their deadline.

use std::sync::Arc;
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
    context: Arc<ProbeContext>,
}

impl std::fmt::Debug for ProbePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbePool")
            .field("max_concurrent", &self.max_concurrent)
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
    pub fn new(context: ProbeContext, max_concurrent: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .thread_name("jackal-probe")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            context: Arc::new(context),
        })
    }

    pub fn context(&self) -> &ProbeContext {
        &self.context
    }

    /// Tests `spec`. The deadline counts from now and covers waiting for a slot, so the answer
    /// never comes later than the test's budget (plus scheduling slack).
    pub async fn test(&self, spec: ConnectionSpec) -> ProbeReport {
        self.bounded(
            spec,
            |spec, context, started, deadline| async move {
                jackal_drivers::probe_until(&spec, &context, started, deadline).await
            },
            failed_report,
        )
        .await
    }

    /// Lists `spec`'s schemas, tables and columns, on the same slots and deadline as a test.
    pub async fn introspect(&self, spec: ConnectionSpec) -> IntrospectionReport {
        self.bounded(
            spec,
            |spec, context, started, deadline| async move {
                jackal_drivers::introspect_until(&spec, &context, started, deadline).await
            },
            failed_introspection,
        )
        .await
    }

    /// Runs `work` on the pool's runtime once a slot is free, within `spec`'s budget from now.
    /// `failed` makes the report of a test that never ran (no slot in time, or a bug).
    async fn bounded<R, F, Fut>(
        &self,
        spec: ConnectionSpec,
        work: F,
        failed: fn(Instant, ErrorCode, String) -> R,
    ) -> R
    where
        R: Send + 'static,
        F: FnOnce(ConnectionSpec, Arc<ProbeContext>, Instant, Instant) -> Fut,
        Fut: std::future::Future<Output = R> + Send + 'static,
    {
        let started = Instant::now();
        let budget = self.context.budget(&spec);
        let deadline = started + budget;
        let slots = self.slots.clone();
        let max_concurrent = self.max_concurrent;
        let runtime = self
            .runtime
            .as_ref()
            .expect("runtime lives as long as the pool");
        let work = work(spec, self.context.clone(), started, deadline);
        let task = runtime.spawn(async move {
            let Ok(Ok(_slot)) = tokio::time::timeout_at(deadline, slots.acquire_owned()).await
            else {
                let (code, message) = queued_too_long(budget, max_concurrent);
                return failed(started, code, message);
            };
            work.await
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

fn queued_too_long(budget: Duration, max_concurrent: usize) -> (ErrorCode, String) {
    (
        ErrorCode::Timeout,
        format!(
            "Jackal was already running {max_concurrent} connection tests, and this one waited its whole {} s deadline for a free slot: try again later, or raise [test] max_concurrent",
            budget.as_secs_f64()
        ),
    )
}
