//! The Mode dialect: Mode's data-source API (`../shared/spec/mode-data-sources.txt`) at
//! `/api/{workspace}/data_sources`, over the same store and API keys as the JackDB API. Mode
//! scripts authenticate with HTTP Basic `<keyId>:<secret>` (Mode's "API key" and "API secret"),
//! get `application/hal+json` with `_links`, and see each data source as Mode's Data Source
//! object, its `token` being the JackDB id. Only the workspace of `[mode] workspace` exists.
//!
//! Failures answer `{"id": "<stable_snake_case>", "message": "<what went wrong and how to fix
//! it>"}`, the `id` being the JackDB API's error code for the same failure.

use actix_web::dev::ServiceRequest;
use actix_web::http::{header, StatusCode};
use actix_web::web;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use jackal_drivers::{Kind, Password};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::connection_test::TestResult;
use super::error::{ApiError, ErrorCode};
use super::limits::Limits;
use super::schema::{self, Introspected, SchemaView};
use super::RoutePattern;
use crate::app::data_sources::{self, Changes};
use crate::app::{connection_tests, AppError, AppState};
use crate::auth::{self, Caller};
use crate::domain::time::render_millis;
use crate::domain::{data_source, Invalid};
use crate::store::{AuditContext, DataSourceRow, Entity, Page, SchemaSnapshotRow, StoreError};

pub const HAL_CONTENT_TYPE: &str = "application/hal+json; charset=utf-8";

/// The fields `PATCH .../data_sources/{token}` takes inside `{"data_source": {...}}`.
const UPDATE_FIELDS: &[&str] = &["name", "description", "password", "custom_attributes"];

/// Whether `path` belongs to the Mode dialect: `/api/<workspace>[/...]`, any workspace but
/// `v2`, which is the JackDB API's.
pub fn is_mode_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/") else {
        return false;
    };
    let workspace = rest.split('/').next().unwrap_or("");
    !workspace.is_empty() && workspace != "v2"
}

/// Mode's `key:secret` (the JackDB form `key@api:secret` is accepted too).
pub async fn authenticate(req: &ServiceRequest) -> Result<Caller, ApiError> {
    let (user, secret) = super::conventions::basic_user_and_password(req).ok_or_else(|| {
        ApiError::unauthorized(
            "authentication required: send HTTP Basic auth with the API key id as the user and \
             its secret as the password (curl -u \"$ID:$SECRET\")",
        )
    })?;
    let key_id = user.strip_suffix("@api").unwrap_or(&user);
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state missing"))?;
    auth::verify(&state.store, key_id, &secret)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("the API key id or secret is not valid, or the key was revoked")
        })
}

/// An error in Mode's shape, keeping its status and headers.
pub fn render_error(error: &ApiError) -> HttpResponse {
    error.response_with(
        HAL_CONTENT_TYPE,
        json!({"id": error.code, "message": error.message}).to_string(),
    )
}

/// A failure of a Mode handler, rendered in Mode's shape.
#[derive(Debug)]
pub struct ModeError {
    error: ApiError,
    retry_after: Option<u64>,
}

impl std::fmt::Display for ModeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for ModeError {
    fn status_code(&self) -> StatusCode {
        self.error.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = render_error(&self.error);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ApiError> for ModeError {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl From<StoreError> for ModeError {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<AppError> for ModeError {
    fn from(error: AppError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<Invalid> for ModeError {
    fn from(error: Invalid) -> Self {
        ApiError::from(error).into()
    }
}

fn bad_request(code: ErrorCode, message: impl Into<String>) -> ModeError {
    ApiError::new(code, message).into()
}

fn hal(status: StatusCode, value: &impl Serialize) -> Result<HttpResponse, ModeError> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HAL_CONTENT_TYPE))
        .body(body))
}

/// A HAL link.
#[derive(Debug, Serialize)]
struct Link {
    href: String,
    templated: bool,
}

fn link(href: String) -> Link {
    Link {
        href,
        templated: false,
    }
}

/// Where the Mode dialect's resources are, for `_links` (relative, as Mode writes them).
struct Paths<'a> {
    workspace: &'a str,
}

impl Paths<'_> {
    fn list(&self) -> String {
        format!("/api/{}/data_sources", self.workspace)
    }

    fn data_source(&self, token: &str) -> String {
        format!("{}/{token}", self.list())
    }

    fn schema_updates(&self, token: &str) -> String {
        format!("{}/schema_updates", self.data_source(token))
    }
}

/// The workspace in the path, checked against `[mode] workspace`.
fn workspace<'a>(state: &'a AppState, name: &str) -> Result<Paths<'a>, ModeError> {
    if name != state.mode_workspace {
        return Err(ApiError::new(
            ErrorCode::WorkspaceNotFound,
            format!(
                "no workspace is named {name:?}: this server's workspace is {:?} \
                 (GET /api/{}/data_sources)",
                state.mode_workspace, state.mode_workspace
            ),
        )
        .into());
    }
    Ok(Paths {
        workspace: &state.mode_workspace,
    })
}

/// `err` in Mode's words: a data source is named by its token.
fn in_mode_words(err: AppError, paths: &Paths<'_>, token: &str) -> ModeError {
    match err {
        AppError::NotFound(Entity::DataSource, _) => ApiError::new(
            ErrorCode::DataSourceNotFound,
            format!(
                "no data source has the token {token:?}; GET {} lists them",
                paths.list()
            ),
        )
        .into(),
        other => ApiError::from(other).into(),
    }
}

async fn find(
    state: &AppState,
    paths: &Paths<'_>,
    token: &str,
) -> Result<DataSourceRow, ModeError> {
    data_sources::find(state, token)
        .await
        .map_err(|e| in_mode_words(e, paths, token))
}

/// Mode's Data Source object. Fields Mode describes that Jackal has no counterpart for carry
/// their empty value (`false`, `""`, `{}`); the optional ones Jackal cannot fill are left out.
#[derive(Debug, Serialize)]
struct DataSource {
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
struct DataSourceLinks {
    #[serde(rename = "self")]
    this: Link,
    /// Jackal has no web app: the API's own representation is the page to look at.
    web: Link,
    web_home: Link,
}

fn adapter(kind: Kind) -> &'static str {
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
    let rows = data_sources::list(&state, Page::ALL).await?;
    let data_sources = rows
        .iter()
        .map(|row| DataSource::new(row, &paths))
        .collect::<Result<Vec<_>, _>>()?;
    hal(
        StatusCode::OK,
        &json!({
            "_links": {"self": link(paths.list()), "web": link(paths.list())},
            "_embedded": {"data_sources": data_sources},
        }),
    )
}

/// `GET /api/{workspace}/data_sources/{token}`.
pub async fn retrieve(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ModeError> {
    let (workspace_name, token) = path.into_inner();
    let paths = workspace(&state, &workspace_name)?;
    let row = find(&state, &paths, &token).await?;
    hal(StatusCode::OK, &DataSource::new(&row, &paths)?)
}

/// The JSON body of a request (see [`super::body`]); `Value::Null` when there is none.
async fn json_body(req: &HttpRequest, payload: web::Payload) -> Result<Value, ModeError> {
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
    let body = super::body::read(req, payload).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    Ok(super::body::json_value(&body)?)
}

/// What an update asks for, checked.
#[derive(Debug, Default)]
struct Update {
    name: Option<String>,
    description: Option<String>,
    password: Option<String>,
}

fn string_field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, ModeError> {
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
fn parse_update(body: Value) -> Result<Update, ModeError> {
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

/// Mode's DataSourceSchemaUpdate: how one introspection ended, run synchronously.
#[derive(Debug, Serialize)]
struct SchemaUpdate {
    /// `succeeded` or `failed`.
    state: &'static str,
    data_source_id: i64,
    data_source_token: String,
    created_at: String,
    completed_at: String,
    duration_ms: i64,
    /// On success: the server's product and version, e.g. `PostgreSQL 16.4`.
    server_version: Option<String>,
    schema_count: Option<usize>,
    table_count: Option<usize>,
    view_count: Option<usize>,
    column_count: Option<usize>,
    /// On failure: the connection test's error code, e.g. `refused`.
    error_code: Option<Value>,
    error_message: Option<String>,
    #[serde(rename = "_links")]
    links: SchemaUpdateLinks,
}

#[derive(Debug, Serialize)]
struct SchemaUpdateLinks {
    /// The latest schema update on record (the last successful one).
    #[serde(rename = "self")]
    this: Link,
    data_source: Link,
}

impl SchemaUpdate {
    fn links(row: &DataSourceRow, paths: &Paths<'_>) -> SchemaUpdateLinks {
        SchemaUpdateLinks {
            this: link(paths.schema_updates(row.id.as_str())),
            data_source: link(paths.data_source(row.id.as_str())),
        }
    }

    fn fetched(row: &DataSourceRow, paths: &Paths<'_>, started: i64, view: &SchemaView) -> Self {
        Self {
            state: "succeeded",
            data_source_id: row.seq,
            data_source_token: row.id.to_string(),
            created_at: render_millis(started),
            completed_at: render_millis(started.saturating_add(view.duration_ms)),
            duration_ms: view.duration_ms,
            server_version: Some(format!(
                "{} {}",
                view.version.product_name, view.version.product_version
            )),
            schema_count: Some(view.counts.schemas),
            table_count: Some(view.counts.tables),
            view_count: Some(view.counts.views),
            column_count: Some(view.counts.columns),
            error_code: None,
            error_message: None,
            links: Self::links(row, paths),
        }
    }

    fn failed(
        row: &DataSourceRow,
        paths: &Paths<'_>,
        started: i64,
        ended: i64,
        result: &TestResult,
    ) -> Self {
        Self {
            state: "failed",
            data_source_id: row.seq,
            data_source_token: row.id.to_string(),
            created_at: render_millis(started),
            completed_at: render_millis(ended),
            duration_ms: result.duration_ms.round() as i64,
            server_version: None,
            schema_count: None,
            table_count: None,
            view_count: None,
            column_count: None,
            error_code: result
                .error_code
                .and_then(|code| serde_json::to_value(code).ok()),
            error_message: result.message.clone(),
            links: Self::links(row, paths),
        }
    }
}

/// `POST /api/{workspace}/data_sources/{token}/schema_updates`: introspects the database now
/// (as `POST /api/v2/data-source/:ds/schema`) and answers how it went, 200 either way.
pub async fn run_schema_update(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ModeError> {
    let (workspace_name, token) = path.into_inner();
    let paths = workspace(&state, &workspace_name)?;
    let row = find(&state, &paths, &token).await?;
    take_test(&req)?;
    let started = ctx.at;
    let update = match schema::introspect(&state, ctx, &row).await? {
        Introspected::Fetched(view) => SchemaUpdate::fetched(&row, &paths, started, &view),
        Introspected::Failed(result) => {
            SchemaUpdate::failed(&row, &paths, started, state.clock.now_millis(), &result)
        }
    };
    hal(StatusCode::OK, &update)
}

/// Spends one connection test of the caller's allowance (`[limits] tests_per_minute`).
fn take_test(req: &HttpRequest) -> Result<(), ModeError> {
    let (Some(limits), Some(caller)) = (
        req.app_data::<web::Data<Limits>>(),
        req.extensions().get::<Caller>().cloned(),
    ) else {
        return Err(ApiError::internal("schema update reached without limits or a caller").into());
    };
    limits.take_test(&caller.key_id).map_err(|refused| {
        let (error, retry_after) = refused.parts();
        ModeError {
            error: error.clone(),
            retry_after: Some(retry_after),
        }
    })
}

/// `GET /api/{workspace}/data_sources/{token}/schema_updates`: the latest schema update on
/// record, i.e. the last successful one (a failure keeps the previous snapshot).
pub async fn last_schema_update(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ModeError> {
    let (workspace_name, token) = path.into_inner();
    let paths = workspace(&state, &workspace_name)?;
    let row = find(&state, &paths, &token).await?;
    let Some(snapshot): Option<SchemaSnapshotRow> =
        connection_tests::snapshot(&state, row.id.as_str()).await?.1
    else {
        return Err(ApiError::new(
            ErrorCode::SchemaNotFetched,
            format!(
                "the data source {token:?} has had no schema update yet: POST {} to run one",
                paths.schema_updates(row.id.as_str())
            ),
        )
        .into());
    };
    let view = schema::stored_view(&snapshot)?;
    hal(
        StatusCode::OK,
        &SchemaUpdate::fetched(&row, &paths, snapshot.fetched_at, &view),
    )
}

/// `POST /api/{workspace}/data_sources/{token}/purge`: 202, having removed what Jackal keeps
/// from running things against the data source: its schema snapshot and its last test outcome.
pub async fn purge(
    state: web::Data<AppState>,
    ctx: AuditContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ModeError> {
    let (workspace_name, token) = path.into_inner();
    let paths = workspace(&state, &workspace_name)?;
    let (row, snapshot, test_result) = data_sources::purge_results(&state, &ctx, &token)
        .await
        .map_err(|e| in_mode_words(e, &paths, &token))?;
    hal(
        StatusCode::ACCEPTED,
        &json!({
            "state": "completed",
            "data_source_token": row.id.as_str(),
            "purged": {"schema_snapshot": snapshot, "test_result": test_result},
            "_links": {"data_source": link(paths.data_source(row.id.as_str()))},
        }),
    )
}

/// A Mode resource: other methods answer 405 in Mode's shape with `Allow`.
fn resource(path: &str, allow: &'static str, routes: Vec<actix_web::Route>) -> actix_web::Resource {
    let mut resource =
        web::resource(path).app_data(RoutePattern(format!("/api/{{workspace}}{path}")));
    for route in routes {
        resource = resource.route(route);
    }
    resource.default_service(web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(ModeError::from(
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!(
                    "{} is not allowed on {}; allowed: {allow}",
                    req.method(),
                    req.path()
                ),
            )
            .with_header(header::ALLOW, allow),
        ))
    }))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ModeError> {
    Err(ApiError::new(
        ErrorCode::RouteNotFound,
        format!(
            "no such endpoint: {} {}; the Mode dialect serves /api/{{workspace}}/data_sources \
             (and JackDB paths start with /api/v2)",
            req.method(),
            req.path()
        ),
    )
    .into())
}

/// The Mode dialect's routes, under `/api/{workspace}`.
pub fn scope() -> actix_web::Scope {
    use web::{get, patch, post, put};
    web::scope("/api/{workspace}")
        .service(resource("/data_sources", "GET", vec![get().to(list)]))
        .service(resource(
            "/data_sources/{data_source}",
            "GET, PATCH, PUT, POST",
            vec![
                get().to(retrieve),
                patch().to(update),
                put().to(update),
                post().to(update),
            ],
        ))
        .service(resource(
            "/data_sources/{data_source}/schema_updates",
            "GET, POST",
            vec![get().to(last_schema_update), post().to(run_schema_update)],
        ))
        .service(resource(
            "/data_sources/{data_source}/purge",
            "POST",
            vec![post().to(purge)],
        ))
        .default_service(web::to(not_found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_paths_are_api_paths_other_than_v2() {
        for mode in [
            "/api/jackal",
            "/api/jackal/data_sources",
            "/api/other/x",
            "/api/v3",
        ] {
            assert!(is_mode_path(mode), "{mode}");
        }
        for not in [
            "/api/v2",
            "/api/v2/data-source",
            "/api",
            "/api/",
            "/healthz",
            "/apix/y",
        ] {
            assert!(!is_mode_path(not), "{not}");
        }
    }

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

    #[test]
    fn errors_render_in_modes_shape() {
        let response = render_error(&ApiError::unauthorized("no"));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            HAL_CONTENT_TYPE
        );
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
