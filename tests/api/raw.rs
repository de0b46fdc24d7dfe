//! HTTP/1.1 written byte for byte: paths exactly as spelled (an HTTP client library would
//! resolve `.` and `..` or re-encode them), and requests no library would send.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, USER_AGENT};

/// A response as read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts an error with `status` and `code` in either dialect's shape: the contract's
    /// `{"error": {"message", "code"}}` or the Mode dialect's `{"id", "message"}`.
    pub fn refused(&self, status: u16, code: &str) {
        if self.header("content-type") == Some("application/hal+json; charset=utf-8") {
            assert_eq!(self.status, status, "{self:?}");
            let value: Value = serde_json::from_str(&self.body).unwrap();
            assert_eq!(value["id"], code, "{self:?}");
        } else {
            self.error(status, code);
        }
    }

    /// Asserts the contract's JSON error with `status` and `code`; returns the body.
    pub fn error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8"),
            "{self:?}"
        );
        let value: Value = serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {self:?}");
        });
        assert_eq!(value["error"]["code"], code, "{self:?}");
        assert!(value["error"]["message"].as_str().unwrap().len() > 10);
        value
    }
}

/// The server's address, `127.0.0.1:port`.
pub fn addr(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Sends `request` as is on a new connection and reads the answer until the server closes.
pub async fn send(addr: &str, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes));
    // A reset after the answer (the server closing with unread bytes) still leaves the answer.
    let _ = read.await.expect("the server answers within 10 s");
    parse(&bytes)
}

pub fn parse(bytes: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// `method path` with the vendor headers and `extra` header lines, no body, and
/// `Connection: close`.
pub fn request(method: &str, path: &str, extra: &[String]) -> Vec<u8> {
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {USER_AGENT}\r\nAccept: application/vnd.jackdb.v2+json\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// `Authorization: Basic …` for `user` and `password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
