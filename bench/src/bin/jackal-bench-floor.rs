//! `jackal-bench-floor`: the floor of `jackal-bench-api`. A bare actix-web server that checks the
//! Authorization header and answers each known route with fixed JSON bytes from memory: what an
//! API server costs when it does no work. Reads the body of every request, as Jackal must.
//!
//! Usage: `jackal-bench-floor --authorization 'Basic ...' [--workers N]
//! --route 'GET /api/v2/data-source/ID' FILE [--route ...]`; prints `listening on PORT`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use jackal_bench::{Args, Result};

struct Floor {
    authorization: String,
    /// "METHOD PATH" → body.
    routes: HashMap<String, web::Bytes>,
}

async fn answer(req: HttpRequest, _body: web::Bytes, floor: web::Data<Arc<Floor>>) -> HttpResponse {
    let authorized = req
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == floor.authorization.as_bytes());
    if !authorized {
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
    let mut args = Args::from_env();
    while let Some(flag) = args.flag() {
        match flag.as_str() {
            "--authorization" => authorization = Some(args.value(&flag)?),
            "--workers" => workers = args.parsed(&flag)?,
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
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    println!("listening on {}", listener.local_addr()?.port());
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(floor.clone()))
            .default_service(web::to(answer))
    })
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    server.run().await?;
    Ok(())
}
