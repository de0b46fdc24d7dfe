//! Request bodies: read once, bounded in size and in time, and parsed strictly and in bounded
//! work: a JSON key repeated in an object is refused, as a repeated form field is, instead of the
//! last one silently winning; a body of more than [`MAX_ARGUMENTS`] arguments is refused before
//! it is parsed further.
//!
//! The bounds depend on who is asking. A request that authenticated may send
//! [`MAX_BODY_BYTES`] within `[server] body_timeout`; any other (the sign-in form, or whatever
//! public route reads a body next) [`PUBLIC_MAX_BODY_BYTES`] within [`PUBLIC_BODY_TIMEOUT`], so
//! that connections anyone can open cost little memory and are let go soon. Both times count
//! from the end of the request's head ([`super::received`]), not from the first read.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::{Stream, StreamExt};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::{ApiError, ErrorCode};
use super::limits::Limits;
use super::received;
use crate::app::api_keys::Caller;

/// Bodies above this answer 413, for a caller who authenticated.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Bodies above this answer 413 when the caller has not authenticated: the sign-in form is
/// two short fields.
pub const PUBLIC_MAX_BODY_BYTES: usize = 4 * 1024;

/// How long a body may take when the caller has not authenticated (or `[server] body_timeout`
/// when that is shorter).
pub const PUBLIC_BODY_TIMEOUT: Duration = Duration::from_secs(3);

/// The body timeout when the server has no `Limits` (never, outside unit tests).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What one request's body may cost.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    max_bytes: usize,
    timeout: Duration,
    /// The caller did not authenticate (the bounds of [`PUBLIC_MAX_BODY_BYTES`]).
    public: bool,
}

impl Allowance {
    fn of(req: &HttpRequest) -> Self {
        let body_timeout = req
            .app_data::<web::Data<Limits>>()
            .map_or(DEFAULT_TIMEOUT, |limits| limits.body_timeout());
        // The gate puts the caller in the request once its credentials (or session) are proven.
        if req.extensions().contains::<Caller>() {
            Allowance {
                max_bytes: MAX_BODY_BYTES,
                timeout: body_timeout,
                public: false,
            }
        } else {
            Allowance {
                max_bytes: PUBLIC_MAX_BODY_BYTES,
                timeout: body_timeout.min(PUBLIC_BODY_TIMEOUT),
                public: true,
            }
        }
    }

    fn too_large(&self) -> ApiError {
        let whose = if self.public {
            " (the limit for a request without credentials, such as the sign-in form): send only the form's fields"
        } else {
            ": send less, e.g. one resource per request"
        };
        ApiError::new(
            ErrorCode::BodyTooLarge,
            format!(
                "the request body is larger than {} bytes{whose}",
                self.max_bytes
            ),
        )
        // The rest of the body is not read: the connection cannot be reused.
        .closing_connection()
    }

    fn timed_out(&self) -> ApiError {
        let setting = if self.public {
            "for a request without credentials"
        } else {
            "[server] body_timeout"
        };
        ApiError::new(
            ErrorCode::BodyTimeout,
            format!(
                "the request body did not arrive within {} s of the request's head ({setting}): send the whole body at once, with a Content-Length that matches it",
                self.timeout.as_secs_f64()
            ),
        )
        // The rest of the body may still come; the connection cannot be reused.
        .closing_connection()
    }
}

/// The whole body of `req`: refused (413) when its `Content-Length` or what arrives exceeds the
/// caller's limit, and (408) unless it has all arrived within the caller's time of the end of
/// the request's head.
pub async fn read(
    req: &HttpRequest,
    mut payload: impl Stream<Item = Result<Bytes, PayloadError>> + Unpin,
) -> Result<Bytes, ApiError> {
    let allowance = Allowance::of(req);
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_length.is_some_and(|n| n > allowance.max_bytes) {
        return Err(allowance.too_large());
    }
    let deadline = received::at(req) + allowance.timeout;
    let reading = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidBody,
                    format!("the request body could not be read: {e}"),
                )
            })?;
            if body.len() + chunk.len() > allowance.max_bytes {
                return Err(allowance.too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    // A body that had all arrived by then is still taken: the future is polled before the
    // deadline is looked at.
    tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), reading)
        .await
        .unwrap_or_else(|_| Err(allowance.timed_out()))
}

/// The most arguments a body may hold: every endpoint takes a handful, so a body of more is
/// refused before it is parsed any further (a million fields used to cost seconds of CPU).
pub const MAX_ARGUMENTS: usize = 64;

/// The most values a JSON body may hold in all, nested ones included: what a Mode update sends
/// is a few dozen. It bounds the memory and time a body of tiny nested values can cost.
pub const MAX_JSON_VALUES: usize = 4096;

/// What refused a JSON body that is valid JSON.
#[derive(Debug, Clone)]
enum Problem {
    /// An object holds this key twice.
    Repeated(String),
    /// More than [`MAX_ARGUMENTS`] members, or [`MAX_JSON_VALUES`] values.
    TooMany,
}

/// The refusal of a body with more than [`MAX_ARGUMENTS`] arguments.
pub fn too_many_arguments() -> ApiError {
    ApiError::new(ErrorCode::TooManyArguments,
        format!(
            "the body holds more than {MAX_ARGUMENTS} arguments (or a JSON body more than {MAX_JSON_VALUES} values); every endpoint takes only a few: send just those"
        ),
    )
}

/// Counts what a JSON body holds, and notes what refused it (serde_json's errors carry only a
/// message, so the reason travels beside it).
struct JsonBudget {
    values_left: Cell<usize>,
    problem: RefCell<Option<Problem>>,
}

impl JsonBudget {
    fn new() -> Self {
        Self {
            values_left: Cell::new(MAX_JSON_VALUES),
            problem: RefCell::new(None),
        }
    }

    fn refuse<E: de::Error>(&self, problem: Problem) -> E {
        let message = match &problem {
            Problem::Repeated(key) => format!("the key {key:?} appears more than once"),
            Problem::TooMany => "too many values".to_owned(),
        };
        *self.problem.borrow_mut() = Some(problem);
        E::custom(message)
    }

    fn count<E: de::Error>(&self) -> Result<(), E> {
        match self.values_left.get().checked_sub(1) {
            Some(left) => {
                self.values_left.set(left);
                Ok(())
            }
            None => Err(self.refuse(Problem::TooMany)),
        }
    }

    /// The answer to a body that `e` refused.
    fn error(&self, e: &serde_json::Error) -> ApiError {
        match self.problem.borrow_mut().take() {
            Some(Problem::Repeated(_)) => ApiError::new(
                ErrorCode::DuplicateArgument,
                format!("the JSON body repeats a key ({e}): send each key once"),
            ),
            Some(Problem::TooMany) => too_many_arguments(),
            None => ApiError::new(
                ErrorCode::InvalidJson,
                format!("the JSON body could not be parsed: {e}"),
            ),
        }
    }
}

/// Any JSON value, with every object checked for repeated keys, within [`MAX_JSON_VALUES`].
pub fn json_value(body: &[u8]) -> Result<Value, ApiError> {
    let limits = JsonBudget::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Strict(&limits)
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|e| limits.error(&e))
}

/// A member's value as an argument takes it: a string, number, boolean or null; `None` for an
/// array or object, which no argument takes (checked to be valid JSON, never built).
pub type Member = (String, Option<Value>);

/// The members of a JSON object body, in the order sent, repeated ones included (the caller
/// refuses those by name, as for a form); `None` when the body is JSON but not an object.
/// At most [`MAX_ARGUMENTS`] members.
pub fn json_members(body: &[u8]) -> Result<Option<Vec<Member>>, ApiError> {
    let limits = JsonBudget::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Members(&limits)
        .deserialize(&mut deserializer)
        .and_then(|members| deserializer.end().map(|()| members))
        .map_err(|e| limits.error(&e))
}

/// The name of the first argument in `names` that appears twice. Linear: a body of a million
/// distinct fields costs a million hash lookups, not half a trillion comparisons.
pub fn first_repeated<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.into_iter().find(|name| !seen.insert(*name))
}

/// Deserializes a [`Value`], refusing an object that repeats a key.
struct Strict<'l>(&'l JsonBudget);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.0.count()?;
        deserializer.deserialize_any(StrictVisitor(self.0))
    }
}

struct StrictVisitor<'l>(&'l JsonBudget);

impl<'de> Visitor<'de> for StrictVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(self.0.refuse(Problem::Repeated(key)));
            }
            let value = map.next_value_seed(Strict(self.0))?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Deserializes the members of a top-level object in order (`None` for any other value).
struct Members<'l>(&'l JsonBudget);

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = Option<Vec<Member>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(MembersVisitor(self.0))
    }
}

struct MembersVisitor<'l>(&'l JsonBudget);

impl<'de> Visitor<'de> for MembersVisitor<'_> {
    type Value = Option<Vec<Member>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.len() == MAX_ARGUMENTS {
                return Err(self.0.refuse(Problem::TooMany));
            }
            members.push((key, map.next_value_seed(Scalar)?));
        }
        Ok(Some(members))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A scalar as a [`Value`]; an array or object is read through (checked, never built): `None`.
struct Scalar;

impl<'de> DeserializeSeed<'de> for Scalar {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use actix_web::test::TestRequest;

    use super::*;
    use crate::api::received::Received;

    /// A request that entered the application `ago`, from an authenticated caller or not.
    fn request(ago: Duration, authenticated: bool) -> HttpRequest {
        let req = TestRequest::default().to_http_request();
        req.extensions_mut().insert(Received(Instant::now() - ago));
        if authenticated {
            req.extensions_mut().insert(Caller {
                key_id: "k".into(),
                name: "n".into(),
            });
        }
        req
    }

    #[tokio::test]
    async fn the_deadline_counts_from_when_the_request_arrived_not_from_the_first_read() {
        for (authenticated, timeout) in [(true, DEFAULT_TIMEOUT), (false, PUBLIC_BODY_TIMEOUT)] {
            let req = request(timeout - Duration::from_millis(200), authenticated);
            let started = Instant::now();
            let err = read(&req, futures_util::stream::pending())
                .await
                .unwrap_err();
            assert_eq!(err.code, "body_timeout", "{}", err.message);
            let took = started.elapsed();
            assert!(took < Duration::from_millis(600), "{took:?}");
        }
        // A body that is all there is taken, however late it is read.
        let req = request(Duration::from_secs(60), false);
        let body = futures_util::stream::iter([Ok(Bytes::from_static(b"keyId=&secret="))]);
        assert_eq!(read(&req, body).await.unwrap(), "keyId=&secret=");
    }

    #[tokio::test]
    async fn without_credentials_a_body_is_limited_to_4_kib_by_its_length_or_as_it_arrives() {
        let declared = TestRequest::default()
            .insert_header((header::CONTENT_LENGTH, "4097"))
            .to_http_request();
        let err = read(&declared, futures_util::stream::pending())
            .await
            .unwrap_err();
        assert_eq!(err.code, "body_too_large");
        let chunks = || {
            futures_util::stream::iter(
                (0..5).map(|_| Ok::<_, PayloadError>(Bytes::from(vec![b'a'; 1024]))),
            )
        };
        let err = read(&request(Duration::ZERO, false), chunks())
            .await
            .unwrap_err();
        assert_eq!(err.code, "body_too_large");
        assert!(err.message.contains("4096"), "{}", err.message);
        assert_eq!(
            read(&request(Duration::ZERO, true), chunks())
                .await
                .unwrap()
                .len(),
            5 * 1024
        );
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for body in [
            &br#"{"a": 1, "a": 2}"#[..],
            br#"{"data_source": {"name": "x", "name": "y"}}"#,
            br#"[{"k": 1, "k": 1}]"#,
        ] {
            let err = json_value(body).unwrap_err();
            assert_eq!(err.code, "duplicate_argument", "{}", err.message);
        }
        assert_eq!(
            json_value(br#"{"a": {"b": 1}, "b": [1, {"a": 2}]}"#).unwrap(),
            serde_json::json!({"a": {"b": 1}, "b": [1, {"a": 2}]})
        );
        assert_eq!(json_value(b"{").unwrap_err().code, "invalid_json");
        assert_eq!(json_value(b"{} x").unwrap_err().code, "invalid_json");
    }

    #[test]
    fn members_keep_their_order_and_repeats_for_the_caller() {
        let members = json_members(br#"{"b": 1, "a": "x", "b": null, "c": {"x": 1, "x": 2}}"#)
            .unwrap()
            .unwrap();
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "a", "b", "c"]);
        assert_eq!(first_repeated(names), Some("b"));
        assert_eq!(members[1].1, Some(Value::from("x")));
        assert_eq!(members[3].1, None, "objects are read through, not built");
        assert_eq!(json_members(b"[1, 2]").unwrap(), None);
        assert_eq!(json_members(b"3").unwrap(), None);
        assert_eq!(
            json_members(br#"{"a": [1, }"#).unwrap_err().code,
            "invalid_json"
        );
    }

    #[test]
    fn bodies_of_too_many_arguments_or_values_are_refused_early() {
        let members = |n: usize| {
            let body: Vec<String> = (0..n).map(|i| format!("\"f{i}\": 1")).collect();
            format!("{{{}}}", body.join(","))
        };
        assert!(json_members(members(MAX_ARGUMENTS).as_bytes()).is_ok());
        assert_eq!(
            json_members(members(MAX_ARGUMENTS + 1).as_bytes())
                .unwrap_err()
                .code,
            "too_many_arguments"
        );
        let values = format!("[{}]", vec!["1"; MAX_JSON_VALUES].join(","));
        assert_eq!(
            json_value(values.as_bytes()).unwrap_err().code,
            "too_many_arguments"
        );
        let fits = format!("[{}]", vec!["1"; MAX_JSON_VALUES - 1].join(","));
        assert!(json_value(fits.as_bytes()).is_ok());
    }
}
