//! `jackal-bench-floor`: the floor of `jackal-bench-api`. A bare actix-web server that checks the
//! Authorization header and answers each known route with fixed JSON bytes from memory: what an
//! API server costs when it does no work. Reads the body of every request, as Jackal must.
//!
//! With `--pg HOST:PORT` it is also `jackal-bench`'s HTTP floor of a connection test:
//! `POST /api/v2/pg-floor/plain` and `/api/v2/pg-floor/tls` run the direct tokio-postgres
//! connect + `SELECT version()` + close (the floor) in the handler, on the HTTP worker, and
//! answer `{"success": true, "durationMs": ...}`: what a connection test costs over HTTP on
//! this machine when the server does nothing else.
//!
//! Usage: `jackal-bench-floor --authorization 'Basic ...' [--workers N] [--pg HOST:PORT]
//! [--route 'GET /api/v2/data-source/ID' FILE ...]`; prints `listening on PORT`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use jackal_bench::pg_floor::{floor_once, floor_tls};
use jackal_bench::{Args, Result};
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

#[actix_web::main]
async fn main() -> Result<()> {
    let mut authorization = None;
    let mut workers = 0usize;
    let mut routes = HashMap::new();
    let mut pg = None;
    let mut args = Args::from_env();
    while let Some(flag) = args.flag() {
        match flag.as_str() {
            "--authorization" => authorization = Some(args.value(&flag)?),
            "--workers" => workers = args.parsed(&flag)?,
            "--pg" => {
                let value = args.value(&flag)?;
                let (host, port) = value
                    .rsplit_once(':')
                    .ok_or_else(|| format!("--pg takes HOST:PORT, not {value:?}"))?;
                pg = Some((host.to_owned(), port.parse()?, floor_tls()?));
            }
            "--route" => {
                let route = args.value(&flag)?;
                let file = args.value(&flag)?;
                routes.insert(route, web::Bytes::from(std::fs::read(file)?));
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let floor = Arc::new(Floor {
        authorization: authorization.ok_or("--authorization is required")?,
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
