//! Building the application: store, secrets, API keys, HTTP server. `main` and the tests share it,
//! so the tests run exactly what ships, on a listener of their own (port 0).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use jackal_drivers::{EgressPolicy, ProbeContext, SystemResolver};

use crate::api;
use crate::auth::{self, Bootstrap, KeyCredentials};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::probe_pool::ProbePool;
use crate::secrets::SecretBox;
use crate::store::Store;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub secrets: SecretBox,
    pub probes: Arc<ProbePool>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// The Mode dialect's workspace name (`[mode] workspace`).
    pub mode_workspace: String,
}

/// How connection tests resolve, where they may go and how long they may take.
pub fn probe_context(settings: &Settings) -> ProbeContext {
    ProbeContext {
        resolver: Arc::new(SystemResolver),
        egress: EgressPolicy::new(settings.egress.allow.clone(), settings.egress.deny.clone()),
        sqlite_allowed_dirs: settings.drivers.sqlite.allowed_dirs.clone(),
        default_timeout: Duration::from_secs_f64(settings.test.timeout),
    }
}

pub struct Application {
    port: u16,
    server: Server,
    bootstrap: Bootstrap,
    tls: bool,
}

/// Loads the secret keys, or creates a key file when the store has never been keyed. The store
/// records a check value sealed with its key, so a missing or wrong key is caught here, naming
/// the file. While a key rotation is pending (`jackal secrets rotate`), the rotation's new key is
/// loaded too and both are accepted. The box keeps up with a rotation run by another process.
pub async fn load_secrets(key_file: &Path, store: &Store) -> anyhow::Result<SecretBox> {
    if store.key_check().await?.is_none() {
        let key = match SecretBox::read_key_file(key_file)? {
            Some(key) => key,
            None => {
                tracing::info!(path = %key_file.display(), "created a new secret key file");
                SecretBox::create_key_file(key_file)?
            }
        };
        store.set_key_check(key.key_check()).await?;
    }
    let secrets = SecretBox::load(key_file, store).await?;
    secrets.spawn_refresher();
    Ok(secrets)
}

impl Application {
    /// Opens the store, loads the secret key and binds `settings.server.listen`.
    /// `supplied_key` is the key from `JACKDB_API_KEY_ID` / `JACKDB_API_KEY_SECRET`, if any.
    pub async fn build(
        settings: &Settings,
        supplied_key: Option<&KeyCredentials>,
    ) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, supplied_key, Arc::new(SystemClock)).await
    }

    /// As `build`, with the clock the API uses for "now" (tests move it).
    pub async fn build_with_clock(
        settings: &Settings,
        supplied_key: Option<&KeyCredentials>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        // TLS files first: a bad certificate stops the start before anything is created.
        let tls = match (&settings.server.tls_cert, &settings.server.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
            (None, None) => None,
            _ => anyhow::bail!("[server] tls_cert and tls_key go together: set both, or neither"),
        };
        let listen_ip = settings.server.listen.ip();
        if settings.server.require_tls && tls.is_none() && !api::limits::is_loopback(listen_ip) {
            tracing::warn!(
                listen = %settings.server.listen,
                "[server] require_tls is on but tls_cert/tls_key are not set: plain HTTP from \
                 other hosts will be refused (403 tls_required); only clients on this host, \
                 such as a TLS-terminating proxy, can use the API. Set tls_cert and tls_key to \
                 serve HTTPS."
            );
        }
        let metrics = Metrics::new();
        let store = Store::connect(&settings.store).await?;
        store.instrument(metrics.store_latency());
        let secrets = load_secrets(&settings.key_file(), &store).await?;
        let bootstrap = auth::bootstrap(&store, supplied_key).await?;
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let probes = Arc::new(ProbePool::new(
            probe_context(settings),
            settings.test.max_concurrent,
        )?);
        let limits = api::limits::Limits::new(settings, tls.is_some(), clock.clone());
        let serves_tls = tls.is_some();
        let server = run(
            listener,
            AppState {
                store,
                secrets,
                probes,
                clock,
                metrics,
                mode_workspace: settings.mode.workspace.clone(),
            },
            limits,
            settings.server.workers,
            tls,
        )?;
        Ok(Application {
            port,
            server,
            bootstrap,
            tls: serves_tls,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https` when `[server] tls_cert` and `tls_key` are set, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// A key created because the store had none; the caller shows it once.
    pub fn created_key(&self) -> Option<&KeyCredentials> {
        match &self.bootstrap {
            Bootstrap::Created(key) => Some(key),
            _ => None,
        }
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Blocking threads per HTTP worker: the store's connections (one writer, four readers) plus
/// one for a password seal.
const BLOCKING_THREADS_PER_WORKER: usize = 6;

/// Serves on `listener`: HTTPS when `tls` is given, else plain HTTP.
pub fn run(
    listener: TcpListener,
    state: AppState,
    limits: api::limits::Limits,
    workers: usize,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let limits = web::Data::new(limits);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(limits.clone())
            .configure(api::routes)
            .default_service(web::to(api::route_not_found))
            // Wrapped last runs first: log, refuse plain HTTP where TLS is required, normalize
            // the trailing slash, then the conventions.
            .wrap(from_fn(api::conventions::enforce))
            .wrap(from_fn(api::path_normalize::normalize_path))
            .wrap(from_fn(api::limits::require_tls))
            .wrap(from_fn(api::request_log::log_request))
    });
    let mut server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    if workers > 0 {
        server = server.workers(workers);
    }
    // Blocking threads only wait on the store's five SQLite connections and the occasional
    // password seal; actix's default (512 / cores per worker) let the pools grow to dozens of
    // threads under load, each with its own stack and malloc arena, so memory crept up for
    // the whole 10-minute load test instead of levelling off.
    server = server.worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER);
    Ok(server.run())
}
