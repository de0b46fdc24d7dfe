//! Which hosts a request may name (`[server] allowed_hosts`). A web page can make a browser
//! send requests to a server on the browser's own machine or network under a name the page's
//! site controls (DNS rebinding); such a request names that site's host, not this server's, and
//! is answered 421 before it is routed or authenticated, so no answer, public or not, reaches
//! the page.
//!
//! Every host the request names must be listed: its one `Host` header, and the authority of an
//! absolute request URI (`GET http://host/path`), which HTTP says takes precedence. A request
//! without a `Host`, or with several, names no host and is refused too.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::Limits;
use crate::api::error::{ApiError, ErrorCode};
use crate::domain::host::{AllowedHost, HostPort};

/// The 421 for `req` when `[server] allowed_hosts` is set and `req` names another host.
pub(super) fn refusal_for(req: &HttpRequest, limits: &Limits) -> Option<ApiError> {
    (!limits.allowed_hosts.is_empty())
        .then(|| refusal(req, &limits.allowed_hosts))
        .flatten()
}

/// The 421 for `req` unless every host it names is in `allowed` (which is not empty).
fn refusal(req: &HttpRequest, allowed: &[AllowedHost]) -> Option<ApiError> {
    let mut host_headers = req.headers().get_all(header::HOST);
    let (Some(host), None) = (host_headers.next(), host_headers.next()) else {
        return Some(misdirected(
            "the request must carry exactly one Host header naming this server",
        ));
    };
    let uri_host = req.uri().authority().map(|a| a.as_str());
    let named = std::iter::once(host.to_str().ok()).chain(uri_host.map(Some));
    for text in named {
        let admitted = text
            .and_then(HostPort::parse)
            .is_some_and(|named| allowed.iter().any(|host| host.admits(&named)));
        if !admitted {
            return Some(misdirected(
                "the request names a host this server does not answer for ([server] allowed_hosts): \
                 use one of the server's configured names",
            ));
        }
    }
    None
}

fn misdirected(message: &str) -> ApiError {
    ApiError::new(ErrorCode::MisdirectedRequest, message)
}
