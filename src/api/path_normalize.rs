//! Trailing slashes trimmed and repeated slashes merged before routing, so `/api/v2/role/` is
//! `/api/v2/role`. actix's `NormalizePath` does the same but runs a regex over every path; that
//! was a visible share of a GET's CPU, and almost no path needs it, so this checks first.
//!
//! It runs inside the gate ([`super::gate`]), before any decision: the gate, the router and the
//! handlers all see the one path this leaves.

use actix_web::dev::{ServiceRequest, Url};
use actix_web::http::Uri;

/// The normalized form of `path`, or `None` when it is already normal.
fn normalized(path: &str) -> Option<String> {
    if !path.contains("//") && (path.len() <= 1 || !path.ends_with('/')) {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    while out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    Some(out)
}

/// Rewrites `req`'s URI, and the path the router matches, to the normalized path.
pub fn normalize(req: &mut ServiceRequest) {
    if let Some(path) = normalized(req.path()) {
        let uri = req.uri();
        let rebuilt = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        // Only `/`s were removed from a path that parsed, so it still parses.
        if let Ok(new_uri) = rebuilt.parse::<Uri>() {
            req.match_info_mut().set(Url::new(new_uri.clone()));
            req.head_mut().uri = new_uri;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalized;

    #[test]
    fn trims_and_merges_only_what_needs_it() {
        assert_eq!(normalized("/api/v2/role"), None);
        assert_eq!(normalized("/"), None);
        assert_eq!(normalized("/api/v2/role/").as_deref(), Some("/api/v2/role"));
        assert_eq!(
            normalized("/api/v2/role///").as_deref(),
            Some("/api/v2/role")
        );
        assert_eq!(
            normalized("//api//v2/role").as_deref(),
            Some("/api/v2/role")
        );
        assert_eq!(normalized("///").as_deref(), Some("/"));
    }
}
