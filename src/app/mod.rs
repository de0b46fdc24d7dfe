//! The use cases: every rule of Jackal written once, over the store interface
//! (`crate::store`), for both dialects of the HTTP API and the command line alike.
//!
//! Its modules, one per family:
//! - [`alerts`]: each data source's state (up, down, unknown), its incidents, and the events a
//!   change puts in the outbox, in the transaction that records the test result.
//! - [`alert_sender`]: delivers the outbox to the `[[alerts.webhook]]` channels, signed.
//! - [`api_keys`]: API keys (created, checked from memory by `KeyCache`, revoked).
//! - [`audit`]: reading the audit trail, and what the command line records itself.
//! - [`connection_tests`]: connection tests and introspection on the test pool, recorded.
//! - [`data_source_cache`]: on SQLite, the rows `GET /data-source/{id}` answered with, kept in
//!   memory while nothing can have changed them.
//! - [`data_sources`]: data sources (validation, the password-retention rule, sealing, reveals).
//! - `error`: [`AppError`], why a use case refused or failed, in domain terms.
//! - [`events`]: the audit events each change records, in the same transaction as the change.
//! - [`monitor`]: periodic tests (`[monitor] interval`), each run by one server of a store.
//! - [`people`]: people (unique usernames and emails, locking, what a person can reach).
//! - [`permissions`]: permissions, one person and one data source within a window of time.
//! - [`roles`]: roles and their members, added and removed idempotently.
//! - [`status_page`]: what the status page reads, each page in one read transaction.
//! - [`test_report`]: a connection test's result as the API shows it.
//! - [`test_runs`]: fleet tests (`POST /test-run`), many saved data sources tested at once.
//! - [`ui_sessions`]: the status page's sign-in sessions and their CSRF tokens.

pub mod alert_sender;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod connection_tests;
pub mod data_source_cache;
pub mod data_sources;
mod error;
pub mod events;
pub mod keys;
pub mod monitor;
pub mod people;
pub mod permissions;
pub mod roles;
pub mod status_page;
pub mod test_report;
pub mod test_runs;
pub mod ui_sessions;

pub use error::AppError;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jackal_drivers::{EgressPolicy, ProbeContext, SystemResolver};

use crate::clock::Clock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::probe_pool::ProbePool;
use crate::secrets::SecretBox;
use crate::store::Store;

/// What every use case works with: the store, the secret key, the test pool, the clock.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// The API keys, remembered while the store says none changed.
    pub keys: crate::app::api_keys::KeyCache,
    /// On SQLite, the data sources `GET /data-source/{id}` answered with, while nothing has
    /// been committed since.
    pub data_source_cache: Option<data_source_cache::DataSourceCache>,
    pub secrets: SecretBox,
    pub probes: Arc<ProbePool>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// The Mode dialect's workspace name (`[mode] workspace`).
    pub mode_workspace: String,
    /// Test results kept per data source (`[test] history`).
    pub history: usize,
    /// `[monitor] interval`, when the monitor is on.
    pub monitor_interval: Option<std::time::Duration>,
    /// `[alerts]`: when a data source is down or up, and the channels told.
    pub alerts: Arc<alerts::Alerting>,
}

impl AppState {
    /// Opens the store (creating or upgrading it), loads the secret keys and starts the test
    /// pool, as `settings` say; "now" is `clock`.
    pub async fn open(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        let metrics = Metrics::new(settings.metrics.alias_labels);
        let store = Store::connect(&settings.store).await?;
        store.instrument(metrics.store_latency());
        let secrets = load_secrets(&settings.key_file(), &store).await?;
        let probes = Arc::new(ProbePool::new(
            probe_context(settings),
            settings.test.max_concurrent,
            settings.test.max_per_key(),
        )?);
        let watch = store.watch_changes()?;
        Ok(AppState {
            keys: crate::app::api_keys::KeyCache::new(store.clone(), watch.clone()),
            data_source_cache: data_source_cache::DataSourceCache::new(store.clone(), watch),
            store,
            secrets,
            probes,
            clock,
            metrics,
            mode_workspace: settings.mode.workspace.clone(),
            history: settings.test.history,
            monitor_interval: (settings.monitor.interval > 0.0)
                .then(|| std::time::Duration::from_secs_f64(settings.monitor.interval)),
            alerts: Arc::new(alerts::Alerting::load(&settings.alerts)?),
        })
    }
}

impl AppState {
    /// Whether the store answers a query (`/readyz`).
    pub async fn store_answers(&self) -> Result<(), crate::store::StoreError> {
        self.store
            .read(|tx| Box::pin(async move { tx.ping().await }))
            .await
    }
}

/// How connection tests resolve, where they may go and how long they may take.
pub fn probe_context(settings: &Settings) -> ProbeContext {
    ProbeContext {
        resolver: Arc::new(SystemResolver),
        egress: EgressPolicy::new(settings.egress.allow.clone(), settings.egress.deny.clone()),
        sqlite_allowed_dirs: settings.drivers.sqlite.allowed_dirs.clone(),
        ssl_root_cert_dirs: settings.drivers.tls.root_cert_dirs.clone(),
        default_timeout: Duration::from_secs_f64(settings.test.timeout),
        ssh_resolves_names: settings.egress.ssh_resolves_names,
    }
}

/// Loads the secret keys, or creates a key file when the store has never been keyed. The store
/// records a check value sealed with its key, so a missing or wrong key is caught here, naming
/// the file. While a key rotation is pending (`jackal secrets rotate`), the rotation's new key is
/// loaded too and both are accepted. The box keeps up with a rotation run by another process.
pub async fn load_secrets(key_file: &Path, store: &Store) -> anyhow::Result<SecretBox> {
    let meta = store
        .read(|tx| Box::pin(async move { tx.key_meta().await }))
        .await?;
    if meta.key_check.is_none() {
        let key = match SecretBox::read_key_file(key_file)? {
            Some(key) => key,
            None => {
                tracing::info!(path = %key_file.display(), "created a new secret key file");
                SecretBox::create_key_file(key_file)?
            }
        };
        let check = key.key_check();
        store
            .write(move |tx| Box::pin(async move { tx.set_key_check(&check).await }))
            .await?;
    }
    let secrets = SecretBox::load(key_file, store).await?;
    secrets.spawn_refresher();
    Ok(secrets)
}
