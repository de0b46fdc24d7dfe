//! When a request's head had arrived: stamped by the outermost middleware, before the host
//! check, the gate, authentication and limits, so that whatever the request then waits on
//! (a store read for its key, a delayed failure, a busy worker) counts against the time its
//! body has to arrive (`[server] body_timeout`, see [`super::body`]).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};

/// The instant the request entered the application.
#[derive(Debug, Clone, Copy)]
pub struct Received(pub Instant);

/// Middleware, wrapped outermost: stamps the request with [`Received`].
pub async fn stamp(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    req.extensions_mut().insert(Received(Instant::now()));
    next.call(req).await
}

/// When `req` entered the application; now for a request that was never stamped (a handler
/// run outside [`crate::startup::app`]), which only makes its deadline later.
pub fn at(req: &HttpRequest) -> Instant {
    req.extensions()
        .get::<Received>()
        .map_or_else(Instant::now, |received| received.0)
}
