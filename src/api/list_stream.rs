//! Lists answered as they are read: rows come from the store [`CHUNK`] at a time, each chunk
//! after the last row of the one before (by the list's order key, so no row is skipped or
//! repeated however many there are), and each chunk's JSON is sent before the next is read.
//! A list of 100,000 data sources holds a few hundred rows in memory, never the whole answer;
//! the bytes are the same as one `serde_json::to_vec` of the whole list.
//!
//! The first chunk is read before the answer starts, so a store that fails at once gets the
//! usual JSON error. A later failure cannot change a status already sent: the connection is
//! closed mid-body, and the client sees a truncated answer, never a complete-looking short one.

use std::future::Future;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use futures_util::{stream, StreamExt};
use serde::Serialize;

use super::error::{ApiError, JSON_CONTENT_TYPE};
use crate::app::{AppError, AppState};
use crate::store::Page;

/// Rows read and sent at a time: large enough that the per-chunk query is cheap beside the
/// rows, small enough that a chunk of the largest rows stays well under a megabyte.
pub const CHUNK: u64 = 500;

/// Where a chunk starts: `None` for the first (which applies the list's own offset), else
/// after the row at this position.
pub type After = Option<i64>;

/// The JSON around the array: `[` and `]`, or an envelope such as Mode's HAL object.
pub struct Frame {
    pub content_type: &'static str,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

impl Frame {
    /// A bare JSON array, as the contract's lists are.
    pub fn array() -> Frame {
        Frame {
            content_type: JSON_CONTENT_TYPE,
            before: b"[".to_vec(),
            after: b"]".to_vec(),
        }
    }

    /// `envelope` with the array where `envelope` has the string `slot`: the bytes of
    /// serializing `envelope` with the array put in that place.
    pub fn around(
        content_type: &'static str,
        envelope: &impl Serialize,
        slot: &str,
    ) -> Result<Frame, ApiError> {
        let text = serde_json::to_vec(envelope).map_err(ApiError::internal)?;
        let marker = serde_json::to_vec(slot).map_err(ApiError::internal)?;
        let at = text
            .windows(marker.len())
            .position(|w| w == marker.as_slice())
            .ok_or_else(|| ApiError::internal("the list's envelope lost its slot"))?;
        let mut before = text[..at].to_vec();
        before.push(b'[');
        let mut after = b"]".to_vec();
        after.extend_from_slice(&text[at + marker.len()..]);
        Ok(Frame {
            content_type,
            before,
            after,
        })
    }
}

/// How a list is read and shown.
pub struct Listing<T, V, R, Fut, E>
where
    R: Fn(After, u64) -> Fut,
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    /// At most this many rows in all (`None`: every row).
    pub total: Option<u64>,
    /// Reads up to the given number of rows from the given place, in the list's order.
    pub read: R,
    /// A row's place in that order (its `seq`, or its id where ids are ordered).
    pub position: fn(&T) -> i64,
    /// What the answer shows of a row.
    pub view: fn(&T) -> Result<V, ApiError>,
    pub frame: Frame,
}

/// A contract list of `page` as a JSON array: `list` reads one chunk of it (the page narrowed
/// by [`Page::chunk`]) through the use case.
pub async fn page_of<T, V, L, Fut>(
    state: web::Data<AppState>,
    page: Page,
    list: L,
    position: fn(&T) -> i64,
    view: fn(&T) -> Result<V, ApiError>,
) -> Result<HttpResponse, ApiError>
where
    T: 'static,
    V: Serialize + 'static,
    L: Fn(web::Data<AppState>, Page) -> Fut + 'static,
    Fut: Future<Output = Result<Vec<T>, AppError>> + 'static,
{
    respond(Listing {
        total: page.limit,
        read: move |after, size| list(state.clone(), page.chunk(after, size)),
        position,
        view,
        frame: Frame::array(),
    })
    .await
}

/// Answers `listing` as a stream of chunks.
pub async fn respond<T, V, R, Fut, E>(
    listing: Listing<T, V, R, Fut, E>,
) -> Result<HttpResponse, ApiError>
where
    T: 'static,
    V: Serialize + 'static,
    R: Fn(After, u64) -> Fut + 'static,
    Fut: Future<Output = Result<Vec<T>, E>> + 'static,
    ApiError: From<E>,
{
    let Listing {
        total,
        read,
        position,
        view,
        frame,
    } = listing;
    let size = |left: Option<u64>| left.map_or(CHUNK, |n| n.min(CHUNK));
    let first = if total == Some(0) {
        Vec::new()
    } else {
        read(None, size(total)).await.map_err(ApiError::from)?
    };
    let mut body = frame.before;
    let mut chunked = Chunked {
        left: total,
        last: None,
        done: false,
    };
    render(&first, view, &mut body, false)?;
    chunked.note(&first, size(total), position);
    if chunked.done {
        body.extend_from_slice(&frame.after);
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, frame.content_type))
            .body(body));
    }
    let closing = frame.after;
    let chunks = stream::unfold(
        (Some(chunked), read, closing),
        move |(state, read, closing)| async move {
            let mut chunked = state?;
            if chunked.done {
                return Some((Ok(Bytes::from(closing)), (None, read, Vec::new())));
            }
            let want = size(chunked.left);
            let rows = match read(chunked.last, want).await {
                Ok(rows) => rows,
                Err(e) => return Some((Err(broken(ApiError::from(e))), (None, read, closing))),
            };
            // A chunk is read only after a full one, so a row was written before it.
            let mut bytes = Vec::new();
            if let Err(e) = render(&rows, view, &mut bytes, true) {
                return Some((Err(broken(e)), (None, read, closing)));
            }
            chunked.note(&rows, want, position);
            Some((Ok(Bytes::from(bytes)), (Some(chunked), read, closing)))
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, frame.content_type))
        .streaming(
            stream::once(async move { Ok::<_, actix_web::Error>(Bytes::from(body)) }).chain(chunks),
        ))
}

/// How far a streamed list has come.
struct Chunked {
    left: Option<u64>,
    last: After,
    done: bool,
}

impl Chunked {
    /// `rows` were read where `want` were asked for.
    fn note<T>(&mut self, rows: &[T], want: u64, position: fn(&T) -> i64) {
        let got = rows.len() as u64;
        self.left = self.left.map(|n| n.saturating_sub(got));
        if let Some(last) = rows.last() {
            self.last = Some(position(last));
        }
        self.done = got < want || self.left == Some(0);
    }
}

/// `rows` as array elements, each after a comma but the list's very first.
fn render<T, V: Serialize>(
    rows: &[T],
    view: fn(&T) -> Result<V, ApiError>,
    out: &mut Vec<u8>,
    after_a_row: bool,
) -> Result<(), ApiError> {
    for (i, row) in rows.iter().enumerate() {
        if after_a_row || i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, &view(row)?).map_err(ApiError::internal)?;
    }
    Ok(())
}

/// A failure after the answer started: logged, and the connection closed.
fn broken(e: ApiError) -> actix_web::Error {
    tracing::error!(error = %e, "a list failed while it was being sent; the connection is closed");
    actix_web::error::ErrorInternalServerError(e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_is_split_around_its_slot() {
        let envelope =
            serde_json::json!({"_links": {"self": "/x"}, "_embedded": {"items": "\u{0}slot"}});
        let frame = Frame::around("application/hal+json", &envelope, "\u{0}slot").unwrap();
        let mut whole = frame.before.clone();
        whole.extend_from_slice(br#"{"a":1}"#);
        whole.extend_from_slice(&frame.after);
        let parsed: serde_json::Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(parsed["_embedded"]["items"][0]["a"], 1);
        assert_eq!(parsed["_links"]["self"], "/x");
    }

    #[test]
    fn chunks_stop_at_a_short_read_or_the_total() {
        let mut c = Chunked {
            left: Some(700),
            last: None,
            done: false,
        };
        c.note(&(1..=500).collect::<Vec<i64>>(), 500, |n| *n);
        assert_eq!((c.left, c.last, c.done), (Some(200), Some(500), false));
        c.note(&(501..=700).collect::<Vec<i64>>(), 200, |n| *n);
        assert!(c.done);
        let mut open = Chunked {
            left: None,
            last: None,
            done: false,
        };
        open.note(&[1i64, 2], 500, |n| *n);
        assert!(open.done, "fewer than asked: the end");
    }
}
