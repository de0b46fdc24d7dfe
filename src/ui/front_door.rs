//! The server's root, `/`, opened in a browser: the status page is what a person can use there,
//! so a browser is sent to it. Any other client (curl, a script) keeps the answer every unknown
//! path gets (401 without credentials, 404 with), so the API does not change under it.

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;

/// Where a browser is sent.
pub const STATUS_PAGE: &str = "/ui/";

/// A `303 See Other` to the status page for a browser's `GET /` (`routed`, the path the router
/// matches); `None` for any other request.
pub fn redirect(method: &Method, routed: &str, headers: &HeaderMap) -> Option<HttpResponse> {
    if method != Method::GET || routed != "/" || !accepts_html(headers) {
        return None;
    }
    Some(
        HttpResponse::build(StatusCode::SEE_OTHER)
            .insert_header((header::LOCATION, STATUS_PAGE))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    )
}

/// Whether the request asks for a page: `text/html` among its `Accept` media types, as every
/// browser's navigation sends (`text/html,application/xhtml+xml,…`) and no API client does.
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| item.split(';').next())
        .any(|media| media.trim().eq_ignore_ascii_case("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_a_browsers_get_of_the_root_is_redirected() {
        let browser = accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        let answer = redirect(&Method::GET, "/", &browser).unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(answer.headers().get(header::LOCATION).unwrap(), "/ui/");
        assert!(redirect(&Method::GET, "/", &accept("TEXT/HTML; q=1")).is_some());

        assert!(redirect(&Method::POST, "/", &browser).is_none());
        assert!(redirect(&Method::GET, "/api/v2", &browser).is_none());
        assert!(redirect(&Method::GET, "/", &accept("*/*")).is_none());
        assert!(redirect(&Method::GET, "/", &accept("application/json")).is_none());
        assert!(redirect(&Method::GET, "/", &HeaderMap::new()).is_none());
    }
}
