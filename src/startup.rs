//! Building the application: store, secrets, API keys, HTTP server. `main` and the tests share it,
//! so the tests run exactly what ships, on a listener of their own (port 0).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, NormalizePath, TrailingSlash};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use jackal_drivers::{EgressPolicy, ProbeContext, SystemResolver};

use crate::api;
use crate::auth::{self, Bootstrap, KeyCredentials};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::probe_pool::ProbePool;
use crate::secrets::{SecretBox, SecretError};
use crate::store::Store;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub secrets: SecretBox,
    pub probes: Arc<ProbePool>,
    pub clock: Arc<dyn Clock>,
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
}

/// Loads the key file, or creates one when the store has never been keyed. The store records a
/// check value sealed with the key, so a missing or wrong key is caught here, naming the file.
pub async fn load_secrets(key_file: &Path, store: &Store) -> anyhow::Result<SecretBox> {
    let check = store.key_check().await?;
    let key = match (SecretBox::read_key_file(key_file)?, check) {
        (Some(key), Some(check)) if key.matches_key_check(&check) => return Ok(key),
        (Some(_), Some(_)) => {
            return Err(SecretError::WrongKey {
                path: key_file.to_owned(),
                store: store.path().to_owned(),
            }
            .into())
        }
        (None, Some(_)) => {
            return Err(SecretError::Missing {
                path: key_file.to_owned(),
                store: store.path().to_owned(),
            }
            .into())
        }
        (Some(key), None) => key,
        (None, None) => {
            tracing::info!(path = %key_file.display(), "created a new secret key file");
            SecretBox::create_key_file(key_file)?
        }
    };
    store.set_key_check(key.key_check()).await?;
    Ok(key)
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
        let store = Store::open(&settings.store.path).await?;
        let secrets = load_secrets(&settings.key_file(), &store).await?;
        let bootstrap = auth::bootstrap(&store, supplied_key).await?;
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let probes = Arc::new(ProbePool::new(
            probe_context(settings),
            settings.test.max_concurrent,
        )?);
        let server = run(
            listener,
            AppState {
                store,
                secrets,
                probes,
                clock,
            },
            settings.server.workers,
        )?;
        Ok(Application {
            port,
            server,
            bootstrap,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
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

pub fn run(listener: TcpListener, state: AppState, workers: usize) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(api::routes)
            .default_service(web::to(api::route_not_found))
            // Wrapped last runs first: log, normalize the trailing slash, then the conventions.
            .wrap(from_fn(api::conventions::enforce))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(from_fn(api::request_log::log_request))
    })
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}
