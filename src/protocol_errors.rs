//! The contract's JSON body for the answers actix-http writes by itself, before any handler or
//! middleware runs: 400 for a request it cannot parse, 431 for a head over its limit, 408 for a
//! head that never finishes, and 500 for a connection it cannot carry on. actix writes those
//! with an empty body and offers no hook for them, so this wraps each connection's stream and
//! rewrites them on their way out.
//!
//! What is rewritten is exactly actix's own form of them: a response head that starts a write
//! (actix writes a whole head at once) with one of those statuses, whose headers are only
//! `content-length: 0`, `connection` and `date`. Jackal's own answers always carry a
//! `content-type` and a body, so no answer of Jackal's has that form, and no body can contain it
//! (JSON and the metrics text never hold a raw CR LF). Everything else passes through untouched.
//!
//! One exception: a connection on which no byte of a request ever arrived is closed without
//! actix's 408. A client with a connection pool may open a connection it does not use at once
//! (hyper races a new connection against the pool); had the server written a 408 into it, that
//! client would read the 408 as the answer to the request it sends next on it.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::api::error::{ApiError, ErrorCode, JSON_CONTENT_TYPE};
use crate::metrics::Metrics;

/// Where a response head starts. A write split at each occurrence keeps every head at the start
/// of a write, where it is recognised.
const HEAD_START: &[u8] = b"HTTP/1.1 ";

/// The error actix answered, as the contract words it.
fn error_for(status: u16) -> Option<ApiError> {
    Some(match status {
        400 => ApiError::new(ErrorCode::MalformedRequest,
            "the request is not valid HTTP/1.1 (its request line, a header or a chunked body could not be parsed): check that the URL is percent-encoded and that every header is a valid Name: value line",
        ),
        431 => ApiError::new(ErrorCode::HeadersTooLarge,
            "the request's head (its request line and headers) is larger than 128 KiB, or has more than 96 headers: send fewer or shorter headers",
        ),
        408 => ApiError::new(ErrorCode::RequestTimeout,
            "the request's head did not arrive within 5 s of connecting: send the request line and headers at once",
        ),
        500 => ApiError::new(ErrorCode::InternalError,
            "the server failed to handle this request; its log has the details",
        ),
        _ => return None,
    })
}

/// If `buf` starts with a whole response head of actix's own error form, its length and status.
fn actix_error_head(buf: &[u8]) -> Option<(usize, u16)> {
    let rest = buf.strip_prefix(HEAD_START)?;
    let end = memchr::memmem::find(buf, b"\r\n\r\n")? + 4;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    error_for(status)?;
    let head = std::str::from_utf8(&buf[..end - 4]).ok()?;
    let mut empty_body = false;
    for line in head.split("\r\n").skip(1) {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value.trim() == "0" => empty_body = true,
            "connection" | "date" => {}
            _ => return None,
        }
    }
    empty_body.then_some((end, status))
}

/// `head` (actix's error head of `status`) with the contract's body: the same status line,
/// `connection` and `date`, plus `content-type` and the body's length.
fn with_json_body(head: &[u8], status: u16) -> Vec<u8> {
    let error = error_for(status).expect("only known statuses are rewritten");
    let body =
        serde_json::json!({"error": {"message": error.message, "code": error.code}}).to_string();
    let mut out = Vec::with_capacity(head.len() + body.len() + 64);
    for line in head[..head.len() - 2].split_inclusive(|&b| b == b'\n') {
        if line.to_ascii_lowercase().starts_with(b"content-length:") {
            out.extend_from_slice(format!("content-type: {JSON_CONTENT_TYPE}\r\n").as_bytes());
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        } else {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

/// A connection's stream, with actix's bodiless error answers given the contract's body.
pub struct JsonProtocolErrors<IO> {
    io: IO,
    /// A rewritten answer not yet written out.
    pending: Vec<u8>,
    written: usize,
    metrics: Metrics,
    /// Whether any byte has arrived: until one does, a 408 is a close, not an answer.
    read_any: bool,
}

impl<IO> JsonProtocolErrors<IO> {
    pub fn new(io: IO, metrics: Metrics) -> Self {
        Self {
            io,
            pending: Vec::new(),
            written: 0,
            metrics,
            read_any: false,
        }
    }

    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

impl<IO: AsyncWrite + Unpin> JsonProtocolErrors<IO> {
    /// Writes what is pending; ready once nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonProtocolErrors<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        this.read_any |= buf.filled().len() > before;
        read
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonProtocolErrors<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some((head_len, status)) = actix_error_head(buf) {
            if status == 408 && !this.read_any {
                // Nothing was asked: nothing to answer. actix closes the connection next.
                return Poll::Ready(Ok(head_len));
            }
            this.metrics.count_protocol_error(status);
            tracing::debug!(
                status,
                "answered a request actix-http refused before routing"
            );
            this.pending = with_json_body(&buf[..head_len], status);
            // The rewritten answer is accepted now and written by the next poll; an error here
            // is the connection's, reported by that poll too.
            let _ = this.poll_pending(cx)?;
            return Poll::Ready(Ok(head_len));
        }
        // Stop short of the next response head, so that it starts the next write.
        let end = memchr::memmem::find(buf.get(1..).unwrap_or_default(), HEAD_START)
            .map_or(buf.len(), |i| i + 1);
        Pin::new(&mut this.io).poll_write(cx, &buf[..end])
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIX_400: &[u8] =
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Thu, 03 Dec 2026 12:00:00 GMT\r\n\r\n";

    #[test]
    fn actix_error_heads_are_recognised_and_get_the_contract_body() {
        let (len, status) = actix_error_head(ACTIX_400).unwrap();
        assert_eq!((len, status), (ACTIX_400.len(), 400));
        let out = String::from_utf8(with_json_body(ACTIX_400, 400)).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("content-type: application/json; charset=utf-8"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close") && head.contains("date: Thu"));
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(value["error"]["code"], "malformed_request");
        let large =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(actix_error_head(large), Some((large.len(), 431)));
    }

    #[test]
    fn answers_of_jackal_itself_are_never_rewritten() {
        for own in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 60\r\ncontent-type: application/json; charset=utf-8\r\ndate: x\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ncontent-type: text/plain\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"{\"name\": \"HTTP/1.1 400 Bad Request\"}",
        ] {
            assert_eq!(actix_error_head(own), None, "{}", String::from_utf8_lossy(own));
        }
    }
}
