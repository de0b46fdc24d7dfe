//! Building the application: store, secrets, API keys, HTTP server. `main` and the tests share it,
//! so the tests run exactly what ships, on a listener of their own (port 0).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use std::future::ready;

use actix_http::error::DispatchError;
use actix_http::HttpService;
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use anyhow::Context;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::api;
use crate::app::api_keys::{self, Bootstrap, KeyCredentials};
use crate::app::AppState;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::protocol_errors::JsonProtocolErrors;

pub struct Application {
    port: u16,
    server: Server,
    bootstrap: Bootstrap,
    tls: bool,
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
        let state = AppState::open(settings, clock.clone()).await?;
        let bootstrap = api_keys::bootstrap(&state.store, supplied_key).await?;
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let limits = api::limits::Limits::new(settings, tls.is_some(), clock);
        let serves_tls = tls.is_some();
        let server = run(listener, state, limits, settings.server.workers, tls)?;
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

/// actix-web's defaults for `HttpServer`, kept: an idle keep-alive connection is closed after
/// 5 s, a request head must arrive within 5 s (else 408), a TLS handshake within 3 s.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// The application: routes and middleware, over `state` and `limits`. The server runs one per
/// worker; tests and fuzz targets can run it in process.
pub fn app(
    state: web::Data<AppState>,
    limits: web::Data<api::limits::Limits>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(limits)
        .configure(api::routes::routes)
        .default_service(web::to(api::routing::route_not_found))
        // Wrapped last runs first: note when the request arrived, log, refuse a host this
        // server does not answer for, refuse plain HTTP where TLS is required, then the gate
        // (normalize the path, authenticate every request but the public ones).
        .wrap(from_fn(api::gate::gate))
        .wrap(from_fn(api::limits::admit))
        .wrap(from_fn(api::request_log::log_request))
        .wrap(from_fn(api::received::stamp))
}

/// HTTP/1.1 over a connection's stream `T`, to a fresh `app` (one per worker).
fn http<T: AsyncRead + AsyncWrite + Unpin + 'static>(
    state: &web::Data<AppState>,
    limits: &web::Data<api::limits::Limits>,
    local_addr: std::net::SocketAddr,
    shutdown: &actix_server::GracefulShutdownSignal,
) -> impl ServiceFactory<
    (T, Option<std::net::SocketAddr>),
    Config = (),
    Response = (),
    Error = DispatchError,
    InitError = (),
> {
    let app = app(state.clone(), limits.clone())
        .into_factory()
        .map_err(|err: actix_web::Error| err.error_response());
    let shutdown = shutdown.clone();
    HttpService::build()
        // Idle keep-alive connections close when the server stops, instead of holding the
        // graceful stop for their whole keep-alive time.
        .graceful_shutdown_signal(move || {
            let signal = shutdown.clone();
            async move { signal.notified().await }
        })
        .keep_alive(KEEP_ALIVE)
        .client_request_timeout(REQUEST_HEAD_TIMEOUT)
        .client_disconnect_timeout(DISCONNECT_TIMEOUT)
        .local_addr(local_addr)
        // Only the connection info's scheme and host come from this config, and no handler
        // reads them.
        .h1(map_config(app, |_| AppConfig::default()))
}

/// Serves on `listener`: HTTPS when `tls` is given, else plain HTTP.
///
/// This is what actix-web's `HttpServer` assembles, with one part more: each connection's
/// stream is wrapped so that the answers actix-http writes itself (an unparsable request, an
/// oversized or slow head) carry the contract's JSON body (see `protocol_errors`).
pub fn run(
    listener: TcpListener,
    state: AppState,
    limits: api::limits::Limits,
    workers: usize,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let local_addr = listener.local_addr()?;
    let metrics = state.metrics.clone();
    let state = web::Data::new(state);
    if let Some(interval) = state.monitor_interval {
        tokio::spawn(crate::app::monitor::run(state.clone(), interval));
    }
    let limits = web::Data::new(limits);
    let mut builder = actix_server::Server::build()
        // Blocking threads only wait on the store's five SQLite connections and the occasional
        // password seal; actix's default (512 / cores per worker) let the pools grow to dozens
        // of threads under load, each with its own stack and malloc arena, so memory crept up
        // for the whole 10-minute load test instead of levelling off.
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER);
    if workers > 0 {
        builder = builder.workers(workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let builder = match tls {
        None => builder.listen("jackal-http", listener, move || {
            let metrics = metrics.clone();
            fn_service(move |io: actix_web::rt::net::TcpStream| {
                let peer = io.peer_addr().ok();
                ready(Ok::<_, DispatchError>((
                    JsonProtocolErrors::new(io, metrics.clone()),
                    peer,
                )))
            })
            .and_then(http(&state, &limits, local_addr, &shutdown))
        })?,
        Some(config) => builder.listen("jackal-https", listener, move || {
            let metrics = metrics.clone();
            let mut acceptor = Acceptor::new(config.clone());
            acceptor.set_handshake_timeout(TLS_HANDSHAKE_TIMEOUT);
            acceptor
                .map_err(|e| tracing::debug!(error = ?e, "TLS handshake failed"))
                .and_then(fn_service(
                    move |io: TlsStream<actix_web::rt::net::TcpStream>| {
                        let peer = io.get_ref().0.peer_addr().ok();
                        ready(Ok::<_, ()>((
                            JsonProtocolErrors::new(io, metrics.clone()),
                            peer,
                        )))
                    },
                ))
                .and_then(
                    http(&state, &limits, local_addr, &shutdown)
                        .map_err(|e| tracing::debug!(error = %e, "connection ended")),
                )
        })?,
    };
    Ok(builder.run())
}
