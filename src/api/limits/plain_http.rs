//! Who may speak plain HTTP: with `[server] require_tls` on and no TLS of Jackal's own, only
//! loopback peers (a TLS endpoint on the same host).

use std::net::IpAddr;

use actix_web::dev::ServiceRequest;

use super::Limits;
use crate::api::error::{ApiError, ErrorCode};

/// The refusal of plain HTTP from a peer other than loopback, with `require_tls` on and no
/// TLS of this server's own.
pub(super) fn refusal_for(req: &ServiceRequest, limits: &Limits) -> Option<ApiError> {
    let peer = req.peer_addr().map(|a| a.ip());
    refuses_plain_http(limits.plain_http_only_from_loopback, peer).then(|| {
        ApiError::new(
            ErrorCode::TlsRequired,
            "this server accepts plain HTTP only from its own host ([server] require_tls = true): \
             use https:// through a TLS endpoint on this host, or set [server] tls_cert and \
             tls_key so Jackal serves HTTPS itself",
        )
    })
}

/// Whether a plain-HTTP request from `peer` is refused. An unknown peer is refused: only a
/// known loopback address proves the request never crossed a network.
pub fn refuses_plain_http(plain_http_only_from_loopback: bool, peer: Option<IpAddr>) -> bool {
    plain_http_only_from_loopback && !peer.is_some_and(is_loopback)
}

/// 127.0.0.0/8, ::1, and IPv4 loopback written as IPv6 (`::ffff:127.x.y.z`).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn plain_http_is_refused_to_every_non_loopback_peer() {
        // The API tests can only send traffic over loopback, so the refusal itself is proven
        // here, on the decision, with the addresses a real remote client would have.
        for remote in [
            "10.0.0.7",
            "192.168.1.20",
            "203.0.113.9",
            "0.0.0.0",
            "2001:db8::1",
            "fe80::1",
            "::ffff:10.0.0.7",
            "::",
        ] {
            assert!(refuses_plain_http(true, Some(ip(remote))), "{remote}");
            assert!(!refuses_plain_http(false, Some(ip(remote))), "{remote}");
        }
        assert!(refuses_plain_http(true, None), "an unknown peer");
        for local in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(!refuses_plain_http(true, Some(ip(local))), "{local}");
        }
    }
}
