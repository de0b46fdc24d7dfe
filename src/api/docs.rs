//! The pieces of the OpenAPI document the handlers name in their `#[utoipa::path]` attributes
//! and views: path parameters (also the handlers' path extractors), the timestamp and text
//! schemas, and the error responses. Handlers depend on this module, never on
//! [`super::openapi`], which lists the handlers.

use serde::Deserialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response};
use utoipa::{IntoParams, ToResponse, ToSchema};

// Path parameters: how a path names each kind of object.

/// `{data_source}`: a data source's id, else its alias.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DataSourceKey {
    /// A data source's id (`D` + 16 base62 characters), else its alias.
    #[param(example = "some-db")]
    pub data_source: String,
}

impl std::ops::Deref for DataSourceKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.data_source
    }
}

/// `{person}`: a person's id, else a username, else an email.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PersonKey {
    /// A person's id (`P` + 16 base62 characters), else their username, else their email.
    #[param(example = "ann")]
    pub person: String,
}

impl std::ops::Deref for PersonKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.person
    }
}

/// `{role}`: a role's id, else its name.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RoleKey {
    /// A role's id (`R` + 16 base62 characters), else its name.
    #[param(example = "Finance")]
    pub role: String,
}

impl std::ops::Deref for RoleKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.role
    }
}

/// `{permission}`: a permission's id.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PermissionKey {
    /// A permission's id: a decimal integer (anything else names no permission: 404).
    #[param(example = "1")]
    pub permission: String,
}

impl std::ops::Deref for PermissionKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.permission
    }
}

// Schema pieces shared by the views.

/// A UTC timestamp as every one is rendered: `YYYY-MM-DDTHH:MM:SS.mmmZ`, exactly three
/// fractional digits (inputs take any RFC 3339 form).
pub struct Timestamp;

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> RefOr<utoipa::openapi::Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .pattern(Some(
                "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
            ))
            .examples([serde_json::json!("2015-03-12T20:25:00.760Z")])
            .into()
    }
}

impl ToSchema for Timestamp {}

// The text arguments, as the server checks them: trimmed of white space (Rust's, that is
// Unicode's White_Space), then 1-255 characters without control characters (Unicode Cc).

/// White space that is trimmed.
const WS: &str =
    "\\t\\n\\x0B\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
/// Control characters, refused.
const CC: &str = "\\x00-\\x1F\\x7F-\\x9F";

/// A label of 1-255 characters after trimming, none of them a control character nor in
/// `forbidden`; with `may_be_blank`, only white space (or nothing) is accepted too.
fn label_pattern(forbidden: &str, may_be_blank: bool) -> String {
    let edge = format!("[^{WS}{CC}{forbidden}]");
    let inner = format!("[^{CC}{forbidden}]");
    let core = format!("{edge}({inner}{{0,253}}{edge})?");
    let core = if may_be_blank {
        format!("({core})?")
    } else {
        core
    };
    format!("^[{WS}]*{core}[{WS}]*$")
}

/// A JSON body may send a number or boolean for a text argument: it is read as its text, which
/// every label rule accepts. The pattern applies to strings.
fn text(pattern: String, description: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Boolean,
        ]))
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([serde_json::json!(example)])
}

/// A data source's or person's name.
pub fn name_schema() -> ObjectBuilder {
    text(
        label_pattern("", false),
        "1-255 characters after trimming, no control characters",
        "Ann Lee",
    )
}

/// A role's name.
pub fn role_name_schema() -> ObjectBuilder {
    text(
        label_pattern("/", false),
        "Unique: 1-255 characters after trimming, no control characters, no `/`, and not \
         shaped like a role id (`R` + 16 letters or digits)",
        "Finance",
    )
}

/// A data source's alias, as an argument.
pub fn alias_schema() -> ObjectBuilder {
    text(
        label_pattern("/", true),
        "Unique: 1-255 characters after trimming, no control characters, no `/`, and not \
         shaped like a data source id (`D` + 16 letters or digits). Empty (or JSON `null`) \
         means none.",
        "some-db",
    )
    .schema_type(SchemaType::from_iter([
        Type::String,
        Type::Number,
        Type::Boolean,
        Type::Null,
    ]))
}

/// A person's username.
pub fn username_schema() -> ObjectBuilder {
    text(
        format!("^[{WS}]*[^{WS}{CC}/@]{{1,255}}[{WS}]*$"),
        "Unique: 1-255 characters after trimming, none of them `/`, `@`, white space or \
         control characters, and not shaped like a person id (`P` + 16 letters or digits)",
        "ann",
    )
}

/// A person's email.
pub fn email_schema() -> ObjectBuilder {
    text(
        format!("^[{WS}]*[^{WS}{CC}@]+@[^{WS}{CC}@]+[{WS}]*$"),
        "Unique ignoring case: one `@` between a non-empty local part and domain, no white \
         space or control characters, at most 255 characters",
        "ann@example.com",
    )
    .schema_type(Type::String)
    .max_length(Some(255))
}

/// The configUri of `POST /connection-test`: any value is tested, and one that does not parse
/// (JSON `null` is the empty string) is a failed test, `invalid_uri`, not a 400.
pub fn any_config_uri_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Boolean,
            Type::Null,
        ]))
        .description(Some(
            "The connection URI to test; it is not saved. One that does not parse is a failed \
             test (`invalid_uri`), not a 400.",
        ))
        .examples([serde_json::json!(
            "postgresql://postgres@127.0.0.1:5432/postgres?ssl=true"
        )])
}

/// The `type` of a data source: its configUri's canonical scheme.
pub fn data_source_type() -> ObjectBuilder {
    use jackal_drivers::Kind;
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Kind::ALL.map(|k| k.as_str())))
}

// The error responses, each with the contract's error body.

fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

macro_rules! error_responses {
    ($($name:ident => $build:expr;)*) => {$(
        pub struct $name;
        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), $build.build().into())
            }
        }
    )*};
}

error_responses! {
    BadRequest => error_response(
        "A bad or missing argument or query parameter, an unknown or repeated argument, a \
         malformed body, an unparsable configUri, or a missing or blank User-Agent",
    );
    Unauthorized => error_response(
        "No, malformed or wrong HTTP Basic credentials (user `<keyId>@api`, the key's secret as \
         the password), or a revoked key",
    )
    .header("WWW-Authenticate", string_header("`Basic realm=\"jackdb\"`"));
    Forbidden => error_response(
        "Plain HTTP from another host while `[server] require_tls` is on (`tls_required`)",
    );
    NotFound => error_response(
        "No object has the id or name in the path (`data_source_not_found`, \
         `person_not_found`, `role_not_found`, `permission_not_found`)",
    );
    MethodNotAllowed => error_response(
        "The path exists but not with this method (`method_not_allowed`); `Allow` lists the \
         methods it has",
    )
    .header("Allow", string_header("The methods of this path, e.g. `GET, POST`"));
    NotAcceptable => error_response(
        "The Accept header allows neither application/vnd.jackdb.v2+json nor application/json",
    );
    Conflict => error_response(
        "A uniqueness clash (`alias_taken`, `username_taken`, `email_taken`, \
         `role_name_taken`) or a rule such as \"lock the person first\" (`person_not_locked`)",
    );
    PayloadTooLarge => error_response("The request body is larger than 1 MiB (`body_too_large`)");
    UnsupportedMediaType => error_response(
        "A body that is neither application/x-www-form-urlencoded nor application/json \
         (`unsupported_media_type`)",
    );
    TooManyRequests => error_response(
        "Too many failed authentications from this address (`too_many_auth_failures`), or, for \
         connection tests, over the API key's test rate (`rate_limited`)",
    )
    .header("Retry-After", string_header("Seconds until a retry can succeed"));
    InternalError => error_response(
        "The server failed (`internal_error`); the message is opaque, the log has the cause",
    );
}
