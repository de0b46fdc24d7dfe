//! One log line per request: method, path, status and latency. Never headers, query strings or
//! bodies, which can carry credentials. The same figures, by route pattern, go to `/metrics`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;

use super::routing::RoutePattern;
use crate::app::AppState;

/// The method as a metric label: the standard ones, anything else as "other", so a client
/// inventing methods cannot create time series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let result = next.call(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    if let Ok(res) = &result {
        // The pattern (`/api/v2/data-source/{data_source}`), never the path: paths are
        // unbounded, and an unknown one would be a new series for every probe of a scanner.
        let request = res.request();
        let route = request.app_data::<RoutePattern>();
        if let Some(state) = request.app_data::<web::Data<AppState>>() {
            state.metrics.observe_request(
                route.map_or("unmatched", |r| r.0.as_str()),
                method_label(&method),
                status,
                elapsed,
            );
        }
    }
    tracing::info!(
        %method,
        path,
        status,
        latency_ms = elapsed * 1000.0,
        "request"
    );
    result
}
