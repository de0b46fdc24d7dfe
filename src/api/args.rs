//! Request arguments from a form-encoded (curl `-d`) or JSON body, with one error contract for
//! both: malformed bodies, unknown or repeated arguments and oversized bodies all answer JSON.

use actix_web::http::header;
use actix_web::{dev::Payload, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_aux::serde_introspection::serde_introspect;
use serde_json::Value;

use super::body;
pub use super::body::MAX_BODY_BYTES;
use super::error::{ApiError, ErrorCode};

/// The arguments of one request, in the order sent.
#[derive(Debug, Default)]
pub struct Args {
    values: Vec<(String, String)>,
    /// The form arguments whose text held a `+`, which form decoding made a space.
    plus_as_space: PlusAsSpace,
}

/// The names of the form arguments whose text held a `+` (which a form value reads as a space),
/// kept in the request by [`Body`] for [`plus_became_space`].
#[derive(Debug, Default, Clone)]
struct PlusAsSpace(Vec<String>);

/// Whether the argument `name` of this request came form-encoded with a `+` in its text, now a
/// space: a `+` meant literally must be sent as `%2B` (curl `--data-urlencode`).
pub fn plus_became_space(req: &HttpRequest, name: &str) -> bool {
    req.extensions()
        .get::<PlusAsSpace>()
        .is_some_and(|names| names.0.iter().any(|n| n == name))
}

fn unsupported_type(what: &str) -> ApiError {
    ApiError::new(ErrorCode::UnsupportedMediaType,
        format!("{what}: send arguments as application/x-www-form-urlencoded (curl -d) or application/json"),
    )
}

impl FromRequest for Args {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            let body = body::read(&req, payload).await?;
            Args::parse(content_type.as_deref(), &body)
        })
    }
}

impl Args {
    /// The arguments in a complete body of the given `Content-Type`; what the extractor does
    /// once the body is read (public so the fuzz target runs exactly this).
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, ApiError> {
        if body.is_empty() {
            return Ok(Args::default());
        }
        let Some(content_type) = content_type else {
            return Err(unsupported_type("the body has no Content-Type"));
        };
        let mime: mime::Mime = content_type.parse().map_err(|_| {
            unsupported_type(&format!(
                "Content-Type {content_type:?} is not a media type"
            ))
        })?;
        match mime.essence_str() {
            "application/x-www-form-urlencoded" => Args::from_form(body),
            "application/json" => Args::from_json(body),
            other => Err(unsupported_type(&format!(
                "Content-Type {other} is not accepted"
            ))),
        }
    }

    /// The arguments, unless one is repeated: form fields and JSON keys alike.
    fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        if let Some(name) = body::first_repeated(pairs.iter().map(|(name, _)| name.as_str())) {
            return Err(ApiError::new(
                ErrorCode::DuplicateArgument,
                format!("the argument {name:?} was sent more than once: send it once"),
            ));
        }
        Ok(Self {
            values: pairs,
            plus_as_space: PlusAsSpace::default(),
        })
    }

    fn from_form(body: &[u8]) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::new(
                ErrorCode::InvalidForm,
                "the body is not valid application/x-www-form-urlencoded UTF-8 text",
            )
        };
        // serde_urlencoded replaces invalid UTF-8 with U+FFFD, which would silently change a
        // password; a multi-byte sequence cannot span the ASCII `&`, `=` or `+`, so checking the
        // whole decoded body checks every argument.
        // Counted before anything is decoded: a million fields are refused in microseconds.
        if memchr::memchr_iter(b'&', body).count() >= body::MAX_ARGUMENTS {
            let fields = body.split(|&b| b == b'&').filter(|f| !f.is_empty()).count();
            if fields > body::MAX_ARGUMENTS {
                return Err(body::too_many_arguments());
            }
        }
        if percent_encoding::percent_decode(body)
            .decode_utf8()
            .is_err()
        {
            return Err(invalid());
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| invalid())?;
        let plus_as_space = body
            .split(|&b| b == b'&')
            .filter_map(|field| {
                let (name, value) = field.split_at(memchr::memchr(b'=', field)?);
                value.contains(&b'+').then(|| form_name(name))
            })
            .collect();
        Ok(Self {
            plus_as_space: PlusAsSpace(plus_as_space),
            ..Self::from_pairs(pairs)?
        })
    }

    fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        let Some(members) = body::json_members(body)? else {
            return Err(ApiError::new(
                ErrorCode::InvalidJson,
                "the JSON body must be an object of arguments, such as {\"name\": \"Ledger\"}",
            ));
        };
        let pairs = members
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    Some(Value::String(s)) => s,
                    Some(Value::Number(n)) => number_text(&n),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(Value::Null) => String::new(),
                    Some(Value::Array(_) | Value::Object(_)) | None => {
                        return Err(ApiError::new(
                            ErrorCode::InvalidArgument,
                            format!("the argument {name:?} must be a string, number or boolean"),
                        ))
                    }
                };
                Ok((name, text))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_pairs(pairs)
    }

    /// Refuses any argument not in `accepted`, naming it and the accepted ones.
    pub fn only(self, accepted: &[&str]) -> Result<Self, ApiError> {
        if let Some((name, _)) = self
            .values
            .iter()
            .find(|(name, _)| !accepted.contains(&name.as_str()))
        {
            let hint = if accepted.contains(&"configUri") {
                "; if it belongs to configUri, percent-encode the configUri (curl --data-urlencode)"
            } else {
                ""
            };
            let list = if accepted.is_empty() {
                "this endpoint takes no arguments".to_owned()
            } else {
                format!("accepted arguments are {}", accepted.join(", "))
            };
            return Err(ApiError::new(
                ErrorCode::UnknownArgument,
                format!("unknown argument {name:?}: {list}{hint}"),
            ));
        }
        Ok(self)
    }

    /// The arguments as the body struct `T`, whose fields (serde's names, in declaration order)
    /// are the accepted arguments: anything else is refused by [`Args::only`]. Every field of a
    /// body struct is an `Option<String>`, so that "missing" and "invalid" stay the handler's
    /// to tell apart, in the order of its fields.
    pub fn into_body<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        let args = self.only(serde_introspect::<T>())?;
        let object = args
            .values
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        serde_json::from_value(Value::Object(object)).map_err(ApiError::internal)
    }
}

/// A request body declared once: the struct `T` is what the handler reads (form-encoded or
/// JSON, through [`Args`]) and, with `ToSchema`, the OpenAPI schema of the body.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let args = Args::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let mut args = args.await?;
            let plus_as_space = std::mem::take(&mut args.plus_as_space);
            if !plus_as_space.0.is_empty() {
                req.extensions_mut().insert(plus_as_space);
            }
            args.into_body().map(Body)
        })
    }
}

/// A form field's name as form decoding reads it (`+` a space, `%XX` a byte).
fn form_name(raw: &[u8]) -> String {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// A required argument's value; `what` completes "NAME is required: ...".
pub fn required(value: Option<String>, name: &str, what: &str) -> Result<String, ApiError> {
    value.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingArgument,
            format!("{name} is required: {what}"),
        )
    })
}

/// A JSON number as text. A whole number written with a fraction (`3600.0`, as many JSON
/// encoders write a float) is the same number as `3600` in JSON, so it reads as `3600`.
fn number_text(n: &serde_json::Number) -> String {
    // Below 2^53 an f64 holds every whole number exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < EXACT => (f as i64).to_string(),
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Sample {
        name: Option<String>,
        config_uri: Option<String>,
        duration: Option<String>,
        alias: Option<String>,
        a: Option<String>,
        b: Option<String>,
        c: Option<String>,
    }

    #[test]
    fn form_and_json_give_the_same_body() {
        let form = Args::from_form(b"name=Some+DB&configUri=postgresql%3A%2F%2Fh").unwrap();
        let json = Args::from_json(br#"{"name":"Some DB","configUri":"postgresql://h"}"#).unwrap();
        let expected = Sample {
            name: Some("Some DB".into()),
            config_uri: Some("postgresql://h".into()),
            ..Sample::default()
        };
        assert_eq!(form.into_body::<Sample>().unwrap(), expected);
        assert_eq!(json.into_body::<Sample>().unwrap(), expected);
    }

    #[test]
    fn json_numbers_and_null_become_text() {
        let body: Sample = Args::from_json(br#"{"duration": 3600, "alias": null}"#)
            .unwrap()
            .into_body()
            .unwrap();
        assert_eq!(body.duration.as_deref(), Some("3600"));
        assert_eq!(body.alias.as_deref(), Some(""));
    }

    #[test]
    fn whole_json_numbers_with_a_fraction_read_as_integers() {
        let body: Sample =
            Args::from_json(br#"{"duration": 3600.0, "a": 1.5, "b": -2.0, "c": 1e300}"#)
                .unwrap()
                .into_body()
                .unwrap();
        assert_eq!(body.duration.as_deref(), Some("3600"));
        assert_eq!(body.a.as_deref(), Some("1.5"));
        assert_eq!(body.b.as_deref(), Some("-2"));
        assert_eq!(body.c.as_deref(), Some("1e+300"));
    }

    #[test]
    fn a_body_accepts_its_fields_in_declaration_order_and_nothing_else() {
        let err = Args::from_form(b"name=a&nmae=b")
            .unwrap()
            .into_body::<Sample>()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownArgument);
        assert!(
            err.message
                .contains("accepted arguments are name, configUri, duration, alias, a, b, c;"),
            "{}",
            err.message
        );
    }

    #[test]
    fn form_arguments_whose_plus_became_a_space_are_named() {
        let args =
            Args::from_form(b"name=a+b&configUri=postgresql%3A%2F%2Fu%3Ap+w%40h&alias=c%2Bd")
                .unwrap();
        assert_eq!(args.plus_as_space.0, ["name", "configUri"]);
        let json = Args::from_json(br#"{"configUri": "postgresql://u:p+w@h"}"#).unwrap();
        assert!(json.plus_as_space.0.is_empty());
    }

    #[test]
    fn a_missing_required_argument_is_named() {
        let err = required(None, "name", "the display name").unwrap_err();
        assert_eq!(err.code, ErrorCode::MissingArgument);
        assert_eq!(err.message, "name is required: the display name");
        assert_eq!(required(Some(String::new()), "name", "x").unwrap(), "");
    }

    #[test]
    fn bad_bodies_are_400_with_codes() {
        let cases: [(&[u8], bool, &str); 6] = [
            (b"{", true, "invalid_json"),
            (br#"{"name": "a", "name": "b"}"#, true, "duplicate_argument"),
            (b"[1]", true, "invalid_json"),
            (br#"{"name": [1]}"#, true, "invalid_argument"),
            (b"name=%FF", false, "invalid_form"),
            (b"name=a&name=b", false, "duplicate_argument"),
        ];
        for (body, json, code) in cases {
            let err = if json {
                Args::from_json(body)
            } else {
                Args::from_form(body)
            }
            .unwrap_err();
            assert_eq!(err.code, code, "{}", String::from_utf8_lossy(body));
            assert_eq!(err.status, actix_web::http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn unknown_argument_is_named_with_the_accepted_ones() {
        let err = Args::from_form(b"name=a&ssl=true")
            .unwrap()
            .only(&["name", "configUri"])
            .unwrap_err();
        assert_eq!(err.code, "unknown_argument");
        assert!(err.message.contains("\"ssl\""), "{}", err.message);
        assert!(err.message.contains("--data-urlencode"), "{}", err.message);
    }
}
