//! Operations endpoints (contract §6), outside `/api/v2`: no vendor headers, no credentials.
//! They reveal no stored data: a status word, and counters keyed by route pattern.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::error::JSON_CONTENT_TYPE;
use crate::app::AppState;

/// How long `/readyz` waits for the store. A load balancer polls it every few seconds; a store
/// slower than this is as good as unreachable to the requests it would route here.
const READY_DEADLINE: Duration = Duration::from_secs(2);

fn json(status: actix_web::http::StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, JSON_CONTENT_TYPE))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body.to_string())
}

/// The process is up and answering HTTP.
pub async fn healthz() -> HttpResponse {
    json(actix_web::http::StatusCode::OK, json!({"status": "ok"}))
}

/// The store answers a query within `READY_DEADLINE`; 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let failure = match tokio::time::timeout(READY_DEADLINE, state.store_answers()).await {
        Ok(Ok(())) => return json(actix_web::http::StatusCode::OK, json!({"status": "ready"})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the store failed a query");
            "the store failed a query"
        }
        Err(_) => {
            tracing::warn!(
                deadline_s = READY_DEADLINE.as_secs(),
                "readiness check: the store did not answer in time"
            );
            "the store did not answer within 2 s"
        }
    };
    // The cause (which can name files) goes to the log, not to an unauthenticated caller.
    json(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        json!({"status": "unavailable", "message": format!("{failure}: see the server log")}),
    )
}

/// Prometheus text exposition format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (body, content_type) = state.metrics.render();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
