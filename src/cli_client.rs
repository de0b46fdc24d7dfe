//! The HTTP side of the commands that call a running server (`jackal test`): which URL is the
//! API, the client, and what a failure to ask means for whoever typed the command. Each failure
//! is one sentence that says what to do, classified from typed data (`io::ErrorKind`, rustls's
//! errors), never the client library's own words ("builder error", "error sending request").

use std::path::Path;
use std::time::Duration;

use reqwest::{StatusCode, Url};

/// How long the server has to accept the connection; the answer itself may take as long as
/// the tests it runs.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The API's base URL (`…/api/v2`, without a trailing slash) from what `--url` was given: the
/// server's base (`http://h:8080`) or the API's (`http://h:8080/api/v2`, as `JACKDB_API_URL`
/// holds it), either behind a path prefix of a proxy. The error says how to write it.
pub fn api_base(given: &str) -> Result<Url, String> {
    let example = "such as http://127.0.0.1:8080";
    let trimmed = given.trim();
    if !trimmed.contains("://") {
        let suggestion = if trimmed.is_empty() {
            "http://127.0.0.1:8080".to_owned()
        } else {
            format!("http://{trimmed}")
        };
        return Err(format!(
            "--url {given:?} has no scheme: write {suggestion} (https:// if the server serves HTTPS)"
        ));
    }
    let mut url = Url::parse(trimmed).map_err(|e| {
        format!("--url {given:?} is not a URL ({e}): write the server's address {example}")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "--url {given:?} is not an http:// or https:// address: write the server's address {example}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "--url {given:?} carries a query, a fragment or credentials: write only the server's address {example} (the API key comes from JACKDB_API_KEY_ID and JACKDB_API_KEY_SECRET)"
        ));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    let base = if path.is_empty() {
        "/api/v2".to_owned()
    } else if path.ends_with("/api/v2") {
        path
    } else {
        return Err(format!(
            "--url {given:?} has the path {:?}: give the server's address {example} or its API's, ending in /api/v2",
            url.path()
        ));
    };
    url.set_path(&base);
    Ok(url)
}

/// The URL of the API's `path` (such as `/test-run`) under `base` (from [`api_base`]).
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path()));
    url
}

/// The client: a user agent naming the command, a bounded connect, and the CA in `ca_cert`
/// trusted beside the system's roots.
pub fn client(user_agent: &str, ca_cert: Option<&Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "--ca-cert {}: {e}: give a PEM file that exists",
                path.display()
            )
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|_| {
            format!(
                "--ca-cert {} is not a PEM certificate: give the CA's certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            )
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| {
        format!(
            "the HTTP client could not start ({}): check --ca-cert",
            innermost(&e)
        )
    })
}

/// Why asking the server at `base` failed, and what to do, in one sentence.
pub fn explain_send_error(error: &reqwest::Error, base: &Url) -> String {
    let at = match (base.host_str(), base.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        _ => base.to_string(),
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(tls) = as_rustls(e) {
            return match tls {
                rustls::Error::InvalidCertificate(why) => format!(
                    "the server at {at} presented a certificate this machine does not trust ({why:?}): pass the CA that signed it with --ca-cert FILE, or use the name its certificate was made for in --url"
                ),
                other => format!(
                    "the TLS handshake with {at} failed ({other}): check that the server serves HTTPS there, or use http:// in --url if it serves plain HTTP"
                ),
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return format!(
                        "nothing is listening at {at} (connection refused): start the server (`jackal serve`) or correct --url"
                    )
                }
                std::io::ErrorKind::TimedOut => return timed_out(&at),
                _ => {}
            }
        }
        cause = e.source();
    }
    if error.is_timeout() {
        return timed_out(&at);
    }
    format!(
        "could not reach {at} ({}): check --url (https:// if the server serves HTTPS, http:// if not) and that the server is running there",
        innermost(error)
    )
}

fn timed_out(at: &str) -> String {
    format!(
        "nothing answered at {at} within {} s: check --url, and that no firewall drops the connection",
        CONNECT_TIMEOUT.as_secs()
    )
}

/// What a refusal by the server means, in one sentence; `message` is the server's own, from the
/// contract's error body.
pub fn explain_status(status: StatusCode, message: Option<&str>, base: &Url) -> String {
    let message = message.unwrap_or("no message");
    match status {
        StatusCode::UNAUTHORIZED => format!(
            "the server at {base} refused the API key in JACKDB_API_KEY_ID and JACKDB_API_KEY_SECRET (401: {message}): export a key of that server's store; `jackal api-key create --name NAME` makes one"
        ),
        StatusCode::NOT_FOUND => format!(
            "the server at {base} answered 404 ({message}): check --url and the data sources or role named"
        ),
        _ => format!("the server at {base} answered {status}: {message}"),
    }
}

/// A rustls error, directly or inside the `io::Error`s the TLS stream reports it in (an
/// `io::Error`'s `source()` skips the error it wraps, so each wrapped one is looked into here).
fn as_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut e: &(dyn std::error::Error + 'static) = e;
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
        e = inner;
    }
}

/// The last cause in `error`'s chain: the one that names what happened.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_base_and_the_api_base_name_the_same_api() {
        for given in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/api/v2",
            "http://127.0.0.1:8080/api/v2/",
            " http://127.0.0.1:8080 ",
        ] {
            let base = api_base(given).unwrap();
            assert_eq!(base.as_str(), "http://127.0.0.1:8080/api/v2", "{given}");
            assert_eq!(
                endpoint(&base, "/test-run").as_str(),
                "http://127.0.0.1:8080/api/v2/test-run"
            );
        }
        let proxied = api_base("https://ops.example.com/jackal/api/v2").unwrap();
        assert_eq!(
            endpoint(&proxied, "/test-run").as_str(),
            "https://ops.example.com/jackal/api/v2/test-run"
        );
    }

    #[test]
    fn a_url_that_is_not_the_servers_says_how_to_write_it() {
        let cases = [
            ("127.0.0.1:8080", "write http://127.0.0.1:8080"),
            ("localhost:8080", "write http://localhost:8080"),
            ("ftp://h:21", "http:// or https://"),
            ("http://h:8080/api", "ending in /api/v2"),
            ("http://h:8080/api/v2/data-source", "ending in /api/v2"),
            ("http://h:8080/?x=1", "only the server's address"),
            ("http://u:p@h:8080", "only the server's address"),
            ("http://", "not a URL"),
        ];
        for (given, says) in cases {
            let err = api_base(given).unwrap_err();
            assert!(err.contains(says), "{given}: {err}");
            assert!(!err.contains('\n'), "one sentence: {err}");
        }
    }

    #[test]
    fn refusals_say_what_to_do() {
        let base = api_base("http://127.0.0.1:8080").unwrap();
        let unauthorized = explain_status(StatusCode::UNAUTHORIZED, Some("wrong key"), &base);
        assert!(unauthorized.contains("401"), "{unauthorized}");
        assert!(
            unauthorized.contains("JACKDB_API_KEY_SECRET")
                && unauthorized.contains("jackal api-key create"),
            "{unauthorized}"
        );
    }
}
