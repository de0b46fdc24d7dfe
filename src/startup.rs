//! Building the application: store, secrets, API keys, HTTP server. `main` and the tests share it,
//! so the tests run exactly what ships, on a listener of their own (port 0).

use std::net::{SocketAddr, TcpListener};
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
use crate::listen_address::ListenAddress;
use crate::protocol_errors::JsonProtocolErrors;

pub struct Application {
    /// Every address served, all on one port.
    bound: Vec<SocketAddr>,
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
        let addresses = settings.server.listen.resolve().await.with_context(|| {
            format!("cannot resolve [server] listen {}", settings.server.listen)
        })?;
        if settings.server.require_tls
            && tls.is_none()
            && !addresses
                .iter()
                .all(|address| api::limits::is_loopback(address.ip()))
        {
            tracing::warn!(
                listen = %settings.server.listen,
                "[server] require_tls is on but tls_cert/tls_key are not set: plain HTTP from \
                 other hosts will be refused (403 tls_required); only clients on this host, \
                 such as a TLS-terminating proxy, can use the API. Set tls_cert and tls_key to \
                 serve HTTPS."
            );
        }
        // Bound before a first key is made: a start that cannot listen must not create a key
        // whose secret nobody sees.
        let listeners = bind_all(&settings.server.listen, &addresses)?;
        let state = AppState::open(settings, clock.clone()).await?;
        let bootstrap = api_keys::bootstrap(&state.store, supplied_key).await?;
        let bound = listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<std::io::Result<Vec<_>>>()?;
        let limits = api::limits::Limits::new(settings, tls.is_some(), clock);
        let serves_tls = tls.is_some();
        let server = run(listeners, state, limits, settings.server.workers, tls)?;
        Ok(Application {
            bound,
            server,
            bootstrap,
            tls: serves_tls,
        })
    }

    pub fn port(&self) -> u16 {
        self.bound[0].port()
    }

    /// Every address the server listens on (`[server] listen`, resolved), with the bound port.
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.bound
    }

    /// `https` when `[server] tls_cert` and `tls_key` are set, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// What to tell whoever starts the server about its API keys: the key created because the
    /// store had none, shown this once, or else how many keys there are; either way, how to make
    /// another. Never a stored key's secret (the store has only hashes).
    pub fn key_notice(&self) -> String {
        const ANOTHER: &str = "jackal api-key create --name NAME";
        match &self.bootstrap {
            Bootstrap::Created(key) => format!(
                "\nJackal created its first API key. The secret is shown only now; keep it:\n\n  \
                 export JACKDB_API_KEY_ID={}\n  export JACKDB_API_KEY_SECRET={}\n\n\
                 Make another key later with `{ANOTHER}` (with cargo: `cargo run --release -- \
                 api-key create --name NAME`).\n",
                key.id, key.secret
            ),
            Bootstrap::Existing { active } | Bootstrap::Supplied { active } => {
                let keys = match active {
                    1 => "1 active API key".to_owned(),
                    n => format!("{n} active API keys"),
                };
                format!(
                    "The store has {keys}; `{ANOTHER}` makes another, `jackal api-key list` \
                     lists them.\n"
                )
            }
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

/// Binds every one of `addresses` (what `listen` resolved to). With port 0, the port the first
/// gets is taken for the others, so a client finds the server on one port whatever address its
/// resolver picks. An address the host does not have (`::1` where IPv6 is off) is skipped with a
/// warning, as long as one is bound.
fn bind_all(listen: &ListenAddress, addresses: &[SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    let mut listeners: Vec<TcpListener> = Vec::new();
    for address in addresses {
        let mut address = *address;
        if let Some(first) = listeners.first() {
            address.set_port(first.local_addr()?.port());
        }
        match TcpListener::bind(address) {
            Ok(listener) => listeners.push(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable && addresses.len() > 1 => {
                tracing::warn!(%listen, %address, error = %e, "not listening on an address the name resolves to: this host does not have it");
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot listen on {address} ({listen})"))
            }
        }
    }
    if listeners.is_empty() {
        anyhow::bail!("cannot listen on {listen}: none of its addresses is this host's");
    }
    Ok(listeners)
}

/// Serves on every one of `listeners`: HTTPS when `tls` is given, else plain HTTP.
///
/// This is what actix-web's `HttpServer` assembles, with one part more: each connection's
/// stream is wrapped so that the answers actix-http writes itself (an unparsable request, an
/// oversized or slow head) carry the contract's JSON body (see `protocol_errors`).
pub fn run(
    listeners: Vec<TcpListener>,
    state: AppState,
    limits: api::limits::Limits,
    workers: usize,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let metrics = state.metrics.clone();
    let state = web::Data::new(state);
    if let Some(interval) = state.monitor_interval {
        tokio::spawn(crate::app::monitor::run(state.clone(), interval));
    }
    if !state.alerts.webhooks.is_empty() {
        tokio::spawn(crate::app::alert_sender::run(state.clone()));
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
    for listener in listeners {
        let local_addr = listener.local_addr()?;
        let (state, limits, shutdown, metrics) = (
            state.clone(),
            limits.clone(),
            shutdown.clone(),
            metrics.clone(),
        );
        builder = match tls.clone() {
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
    }
    Ok(builder.run())
}
