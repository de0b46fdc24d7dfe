//! `/data_sources` and `/data_sources/{token}`: Mode's Data Source objects, listed, read and
//! updated.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use jackal_drivers::{Kind, Password};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::api::error::{ApiError, ErrorCode};
use crate::api::list_stream::{self, Frame, Listing};
use crate::app::data_sources::{self, Changes};
use crate::app::{AppError, AppState};
use crate::domain::data_source;
use crate::domain::time::render_millis;
use crate::store::{AuditContext, DataSourceRow, Page};

use super::error::*;
use super::hal::*;

/// The fields `PATCH .../data_sources/{token}` takes inside `{"data_source": {...}}`.
pub(super) const UPDATE_FIELDS: &[&str] = &["name", "description", "password", "custom_attributes"];

/// Mode's Data Source object. Fields Mode describes that Jackal has no counterpart for carry
/// their empty value (`false`, `""`, `{}`); the optional ones Jackal cannot fill are left out.
#[derive(Debug, Serialize)]
pub(super) struct DataSource {
    /// The store's creation-order number for this data source.
    id: i64,
    name: String,
    description: String,
    /// The JackDB id.
    token: String,
    adapter: &'static str,
    created_at: String,
    updated_at: String,
    has_expensive_schema_updates: bool,
    public: bool,
    asleep: bool,
    /// The last connection test or introspection succeeded (false when none is on record).
    queryable: bool,
    soft_deleted: bool,
    display_name: String,
    account_username: String,
    database: String,
    host: String,
    port: String,
    ssl: bool,
    username: String,
    provider: String,
    vendor: &'static str,
    ldap: bool,
    warehouse: String,
    bridged: bool,
    adapter_version: String,
    custom_attributes: Map<String, Value>,
    #[serde(rename = "_links")]
    links: DataSourceLinks,
}

#[derive(Debug, Serialize)]
pub(super) struct DataSourceLinks {
    #[serde(rename = "self")]
    this: Link,
    /// Jackal has no web app: the API's own representation is the page to look at.
    web: Link,
    web_home: Link,
}

pub(super) fn adapter(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgresql => "jdbc:postgresql",
        Kind::Mysql => "jdbc:mysql",
        Kind::Sqlite => "jdbc:sqlite",
    }
}

impl DataSource {
    fn new(row: &DataSourceRow, paths: &Paths<'_>) -> Result<Self, ModeError> {
        let spec = data_sources::stored_spec(row)?;
        let database = match spec.sqlite_path() {
            Some(path) => path.display().to_string(),
            None => spec.database().unwrap_or_default().to_owned(),
        };
        let href = paths.data_source(row.id.as_str());
        Ok(Self {
            id: row.seq,
            name: row.name.clone(),
            description: row.description.clone(),
            token: row.id.to_string(),
            adapter: adapter(spec.kind()),
            created_at: render_millis(row.created_at),
            updated_at: render_millis(row.updated_at),
            has_expensive_schema_updates: false,
            public: false,
            asleep: false,
            queryable: row.last_test_ok == Some(true),
            soft_deleted: false,
            display_name: row.name.clone(),
            account_username: paths.workspace.to_owned(),
            database,
            host: spec.host().unwrap_or_default().to_owned(),
            port: spec
                .effective_port()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            ssl: spec.ssl(),
            username: spec.user().unwrap_or_default().to_owned(),
            provider: String::new(),
            vendor: spec.kind().as_str(),
            ldap: false,
            warehouse: String::new(),
            bridged: false,
            adapter_version: String::new(),
            custom_attributes: Map::new(),
            links: DataSourceLinks {
                this: link(href.clone()),
                web: link(href),
                web_home: link(paths.list()),
            },
        })
    }
}

/// `GET /api/{workspace}/data_sources`: every data source, oldest first, as
/// `{"_links": {...}, "_embedded": {"data_sources": [...]}}`.
pub async fn list(
    state: web::Data<AppState>,
    workspace_name: web::Path<String>,
) -> Result<HttpResponse, ModeError> {
    let paths = workspace(&state, &workspace_name)?;
    const SLOT: &str = "\u{0}data_sources";
    let frame = Frame::around(
        super::HAL_CONTENT_TYPE,
        &json!({
            "_links": {"self": link(paths.list()), "web": link(paths.list())},
            "_embedded": {"data_sources": SLOT},
        }),
        SLOT,
    )?;
    // The view is a plain function: each row carries the workspace its links name.
    let workspace: Arc<str> = Arc::from(state.mode_workspace.as_str());
    Ok(list_stream::respond(Listing {
        total: None,
        read: move |after, size| {
            let state = state.clone();
            let workspace = workspace.clone();
            async move {
                let rows = data_sources::list(&state, Page::ALL.chunk(after, size)).await?;
                Ok::<_, AppError>(
                    rows.into_iter()
                        .map(|row| (row, workspace.clone()))
                        .collect(),
                )
            }
        },
        position: |(row, _)| row.seq,
        // As a JSON value, keys sorted, as this list has always been written (the single
        // data source's answer keeps the fields' order).
        view: |(row, workspace)| {
            let data_source = DataSource::new(row, &Paths { workspace }).map_err(|e| e.error)?;
            serde_json::to_value(data_source).map_err(ApiError::internal)
        },
        frame,
    })
    .await?)
}

/// `GET /api/{workspace}/data_sources/{token}`.
pub async fn retrieve(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ModeError> {
    let (paths, row) = located(&state, path.into_inner()).await?;
    hal(StatusCode::OK, &DataSource::new(&row, &paths)?)
}

/// The JSON body of a request (see [`super::body`]); `Value::Null` when there is none.
pub(super) async fn json_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Value, ModeError> {
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or("");
        let is_json = content_type.parse::<mime::Mime>().is_ok_and(|m| {
            m.subtype().as_str() == "json" || m.suffix().is_some_and(|s| s.as_str() == "json")
        });
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "Content-Type {content_type:?} is not accepted: send application/json, \
                     e.g. {{\"data_source\": {{\"name\": \"Updated name\"}}}}"
                ),
            )
            .into());
        }
    }
    let body = crate::api::body::read(req, payload).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    Ok(crate::api::body::json_value(&body)?)
}

/// What an update asks for, checked.
#[derive(Debug, Default)]
pub(super) struct Update {
    name: Option<String>,
    description: Option<String>,
    password: Option<String>,
}

pub(super) fn string_field(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ModeError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(
            ErrorCode::InvalidArgument,
            format!("data_source.{name} must be a string"),
        )),
    }
}

/// `{"data_source": {"name", "description", "password", "custom_attributes"}}`.
pub(super) fn parse_update(body: Value) -> Result<Update, ModeError> {
    const SHAPE: &str = "send {\"data_source\": {\"name\": ..., \"description\": ..., \
                         \"password\": ...}}";
    let Value::Object(mut top) = body else {
        return Err(bad_request(
            ErrorCode::InvalidJson,
            format!("the body must be a JSON object: {SHAPE}"),
        ));
    };
    let Some(fields) = top.remove("data_source") else {
        return Err(bad_request(
            ErrorCode::MissingArgument,
            format!("data_source is required: {SHAPE}"),
        ));
    };
    if let Some(other) = top.keys().next() {
        return Err(bad_request(
            ErrorCode::UnknownArgument,
            format!("unknown argument {other:?}: {SHAPE}"),
        ));
    }
    let Value::Object(fields) = fields else {
        return Err(bad_request(
            ErrorCode::InvalidArgument,
            format!("data_source must be an object: {SHAPE}"),
        ));
    };
    if let Some(file) = ["certificate", "key", "wallet"]
        .into_iter()
        .find(|f| fields.contains_key(*f))
    {
        return Err(bad_request(
            ErrorCode::InvalidArgument,
            format!(
                "data_source.{file} is for Vertica, BigQuery and Oracle data sources, which \
                 Jackal does not connect to; Jackal takes name, description and password"
            ),
        ));
    }
    if let Some(unknown) = fields.keys().find(|k| !UPDATE_FIELDS.contains(&k.as_str())) {
        return Err(bad_request(
            ErrorCode::UnknownArgument,
            format!(
                "unknown argument data_source.{unknown}: accepted arguments are {}",
                UPDATE_FIELDS.join(", ")
            ),
        ));
    }
    // Mode's own example sends custom_attributes (a connection string for bridged Oracle);
    // Jackal's data sources have none, so an object is accepted and has no effect.
    if fields
        .get("custom_attributes")
        .is_some_and(|v| !v.is_object() && !v.is_null())
    {
        return Err(bad_request(
            ErrorCode::InvalidArgument,
            "data_source.custom_attributes must be an object",
        ));
    }
    let description = match fields.get("description") {
        Some(Value::Null) => Some(String::new()),
        _ => string_field(&fields, "description")?,
    };
    let update = Update {
        name: string_field(&fields, "name")?,
        description,
        password: string_field(&fields, "password")?,
    };
    if update.name.is_none() && update.description.is_none() && update.password.is_none() {
        return Err(bad_request(
            ErrorCode::MissingArgument,
            "nothing to update: send any of data_source.name, data_source.description, \
             data_source.password",
        ));
    }
    Ok(update)
}

/// `PATCH /api/{workspace}/data_sources/{token}` (PUT and POST too: Mode's Python example
/// sends its body with POST): any of name, description and password.
pub async fn update(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ModeError> {
    let (workspace_name, token) = path.into_inner();
    let paths = workspace(&state, &workspace_name)?;
    let update = parse_update(json_body(&req, payload).await?)?;
    let name = update
        .name
        .map(|raw| data_source::parse_name(&raw))
        .transpose()?;
    let description = update
        .description
        .map(|raw| data_source::parse_description(&raw))
        .transpose()?;
    let changes = Changes {
        name,
        description,
        password: update.password.map(Password::from),
        ..Changes::default()
    };
    let updated = data_sources::update(&state, &ctx, &token, changes)
        .await
        .map_err(|e| in_mode_words(e, &paths, &token))?;
    hal(StatusCode::OK, &DataSource::new(&updated, &paths)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_take_modes_nested_body() {
        let update = parse_update(json!({"data_source": {
            "name": "Updated name",
            "description": "Updated description",
            "password": "db_password",
            "custom_attributes": {"connection_string": "ignored"},
        }}))
        .unwrap();
        assert_eq!(update.name.as_deref(), Some("Updated name"));
        assert_eq!(update.description.as_deref(), Some("Updated description"));
        assert_eq!(update.password.as_deref(), Some("db_password"));
        let cleared = parse_update(json!({"data_source": {"description": null}})).unwrap();
        assert_eq!(cleared.description.as_deref(), Some(""));
    }

    #[test]
    fn bad_update_bodies_are_400_with_codes() {
        for (body, code) in [
            (json!(null), "invalid_json"),
            (json!([1]), "invalid_json"),
            (json!({"name": "x"}), "missing_argument"),
            (
                json!({"data_source": {"name": "x"}, "extra": 1}),
                "unknown_argument",
            ),
            (json!({"data_source": "x"}), "invalid_argument"),
            (json!({"data_source": {}}), "missing_argument"),
            (json!({"data_source": {"name": 5}}), "invalid_argument"),
            (json!({"data_source": {"nmae": "x"}}), "unknown_argument"),
            (json!({"data_source": {"wallet": "x"}}), "invalid_argument"),
            (
                json!({"data_source": {"custom_attributes": 1, "name": "x"}}),
                "invalid_argument",
            ),
        ] {
            let err = parse_update(body.clone()).unwrap_err();
            assert_eq!(err.error.code, code, "{body}");
            assert_eq!(err.error.status, StatusCode::BAD_REQUEST, "{body}");
        }
    }
}
