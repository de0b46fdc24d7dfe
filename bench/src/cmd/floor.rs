//! `jackal-bench floor` (a hidden subcommand, which `api` and `run` start as a process of its
//! own): the floor of `jackal-bench api`. A bare actix-web server that checks the Authorization
//! header and answers each known route with fixed JSON bytes from memory: what an
//! API server costs when it does no work. Reads the body of every request, as Jackal must.
//!
//! With `--pg HOST:PORT` it is also `jackal-bench run`'s HTTP floor of a connection test:
//! `POST /api/v2/pg-floor/plain` and `/api/v2/pg-floor/tls` run the direct tokio-postgres
//! connect + `SELECT version()` + close (the floor) in the handler, on the HTTP worker, and
//! answer `{"success": true, "durationMs": ...}`: what a connection test costs over HTTP on
//! this machine when the server does nothing else.
//!
//! Usage: `jackal-bench floor --authorization 'Basic ...' [--workers N] [--pg HOST:PORT]
//! [--route 'GET /api/v2/data-source/ID' FILE ...]`; prints `listening on PORT`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use jackal_bench::pg_floor::{floor_once, floor_tls};
use jackal_bench::Result;
use tokio_postgres_rustls::MakeRustlsConnect;

struct Floor {
    authorization: String,
    /// "METHOD PATH" → body.
    routes: HashMap<String, web::Bytes>,
    /// `--pg`: where the connection-test floor connects, and its TLS set-up.
    pg: Option<(String, u16, MakeRustlsConnect)>,
}

impl Floor {
    fn authorized(&self, req: &HttpRequest) -> bool {
        req.headers()
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == self.authorization.as_bytes())
    }
}

/// The connection-test floor: `mode` is `plain` or `tls`.
async fn pg_floor(
    req: HttpRequest,
    mode: web::Path<String>,
    floor: web::Data<Arc<Floor>>,
) -> HttpResponse {
    if !floor.authorized(&req) {
        return HttpResponse::Unauthorized().finish();
    }
    let Some((host, port, tls)) = &floor.pg else {
        return HttpResponse::NotFound().body("start with --pg HOST:PORT");
    };
    let tls = match mode.as_str() {
        "plain" => None,
        "tls" => Some(tls),
        _ => return HttpResponse::NotFound().finish(),
    };
    match floor_once(host, *port, tls).await {
        Ok((sample, _)) => HttpResponse::Ok().json(serde_json::json!({
            "success": true,
            "durationMs": sample.total.as_secs_f64() * 1000.0,
        })),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

async fn answer(req: HttpRequest, _body: web::Bytes, floor: web::Data<Arc<Floor>>) -> HttpResponse {
    if !floor.authorized(&req) {
        return HttpResponse::Unauthorized().finish();
    }
    match floor
        .routes
        .get(&format!("{} {}", req.method(), req.path()))
    {
        Some(body) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
            .body(body.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Where the connection-test floor connects: `HOST:PORT`.
fn host_port(value: &str) -> std::result::Result<(String, u16), String> {
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| format!("takes HOST:PORT, not {value:?}"))?;
    let port = port.parse().map_err(|e| format!("port {port:?}: {e}"))?;
    Ok((host.to_owned(), port))
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Authorization header every request must carry, byte for byte.
    #[arg(long)]
    authorization: String,
    /// HTTP worker threads (0: actix-web's default, one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Serve `POST /api/v2/pg-floor/{plain|tls}` against this PostgreSQL (`HOST:PORT`).
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port)]
    pg: Option<(String, u16)>,
    /// Answer `METHOD PATH` with the bytes of FILE (repeatable).
    #[arg(long, num_args = 2, value_names = ["ROUTE", "FILE"], action = clap::ArgAction::Append)]
    route: Vec<String>,
}

pub fn run(args: Args) -> ExitCode {
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jackal-bench floor: {e}");
            ExitCode::FAILURE
        }
    }
}

#[actix_web::main]
async fn serve(args: Args) -> Result<()> {
    let mut routes = HashMap::new();
    for pair in args.route.chunks(2) {
        let [route, file] = pair else {
            return Err("--route takes ROUTE FILE".into());
        };
        routes.insert(route.clone(), web::Bytes::from(std::fs::read(file)?));
    }
    let pg = match args.pg {
        Some((host, port)) => Some((host, port, floor_tls()?)),
        None => None,
    };
    let workers = args.workers;
    let floor = Arc::new(Floor {
        authorization: args.authorization,
        routes,
        pg,
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    println!("listening on {}", listener.local_addr()?.port());
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(floor.clone()))
            .route("/api/v2/pg-floor/{mode}", web::post().to(pg_floor))
            .default_service(web::to(answer))
    })
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    server.run().await?;
    Ok(())
}
