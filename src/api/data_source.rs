//! `/api/v2/data-source`: create, list, retrieve, detail, update and delete.

use actix_web::{web, HttpResponse};
use jackal_drivers::{ConnectionSpec, Password};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::args::Args;
use super::error::ApiError;
use super::openapi::{
    Conflict, DataSourceKey, NotFound, PayloadTooLarge, Timestamp, UnsupportedMediaType,
};
use super::{json_ok, EmptyObject};
use crate::domain::{data_source, ids, time};
use crate::secrets::SecretBox;
use crate::startup::AppState;
use crate::store::{AuditContext, AuditEvent, DataSourceRow, Page};

const ARGUMENTS: &[&str] = &["name", "alias", "configUri", "description"];

/// The contract's DataSource object.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceView {
    #[schema(pattern = "^D[0-9A-Za-z]{16}$", example = "DUGC6IqGQ4DX00Lt0")]
    pub id: String,
    pub name: String,
    /// Unique; `null` when it has none.
    #[schema(required = true)]
    pub alias: Option<String>,
    #[serde(rename = "type")]
    #[schema(schema_with = super::openapi::data_source_type)]
    pub kind: String,
    /// Normalized. The password is included on create, update and `/detail` only.
    #[schema(
        example = "postgresql://someuser@somedb.example.com:5432/some-db?validateSsl=false&ssl=true"
    )]
    pub config_uri: String,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    /// An extension: free text, present only when the data source has one, so the contract's
    /// shape is unchanged for everyone who does not set it.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(required = false, example = "The ledger of record")]
    pub description: String,
}

/// The arguments of `POST /data-source`, form-encoded or as a JSON object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // documentation only: `Args` reads the body
pub struct CreateDataSource {
    /// The display name.
    #[schema(schema_with = super::openapi::name_schema)]
    name: String,
    /// `<type>://[user[:password]@]host[:port][/database][?options]`, percent-encoded; a
    /// configUri with its own `?options` must be percent-encoded inside a form body.
    #[schema(
        min_length = 1,
        example = "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db"
    )]
    config_uri: String,
    /// Optional and unique. Empty or `null`: none.
    #[schema(schema_with = super::openapi::alias_schema)]
    alias: Option<String>,
    /// An extension: free text, at most 4000 characters. Empty or `null`: none.
    #[schema(max_length = 4000)]
    description: Option<String>,
}

/// The arguments of a data source update: any of them, at least one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // documentation only: `Args` reads the body
pub struct UpdateDataSource {
    /// The new display name.
    #[schema(schema_with = super::openapi::name_schema)]
    name: Option<String>,
    /// The new alias; empty or `null` clears it.
    #[schema(schema_with = super::openapi::alias_schema)]
    alias: Option<String>,
    /// The new configUri. Without a password, the stored one is kept only when type, host,
    /// port and user are unchanged.
    #[schema(nullable = false, min_length = 1)]
    config_uri: Option<String>,
    /// An extension: the new description; empty or `null` clears it.
    #[schema(max_length = 4000)]
    description: Option<String>,
}

impl DataSourceView {
    /// The stored row, whose configUri never holds the password.
    pub fn redacted(row: &DataSourceRow) -> Self {
        Self::with_config_uri(row, row.config_uri.clone())
    }

    fn with_config_uri(row: &DataSourceRow, config_uri: String) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            alias: row.alias.clone(),
            kind: row.kind.clone(),
            config_uri,
            created_at: time::render_millis(row.created_at),
            updated_at: time::render_millis(row.updated_at),
            description: row.description.clone(),
        }
    }

    /// The row with its password decrypted back into the configUri.
    fn revealed(row: &DataSourceRow, secrets: &SecretBox) -> Result<Self, ApiError> {
        if row.password_enc.is_none() {
            return Ok(Self::redacted(row));
        }
        let spec = stored_spec_with_password(row, secrets)?;
        Ok(Self::with_config_uri(row, spec.to_uri()))
    }
}

/// The stored configUri with its password decrypted, for `/detail` and connection tests.
pub fn stored_spec_with_password(
    row: &DataSourceRow,
    secrets: &SecretBox,
) -> Result<ConnectionSpec, ApiError> {
    let spec = stored_spec(row)?;
    let Some(sealed) = &row.password_enc else {
        return Ok(spec);
    };
    let password = secrets
        .open(sealed, row.id.as_bytes())
        .map_err(ApiError::internal)?;
    let password = String::from_utf8(password).map_err(ApiError::internal)?;
    Ok(spec.with_password(Some(Password::from(password))))
}

/// The stored (password-free) configUri parsed again; it was normalized on the way in.
pub fn stored_spec(row: &DataSourceRow) -> Result<ConnectionSpec, ApiError> {
    ConnectionSpec::parse(&row.config_uri).map_err(|e| {
        ApiError::internal(format_args!(
            "stored configUri of {} does not parse: {e}",
            row.id
        ))
    })
}

/// The password of `spec` sealed for the data source `id`; `None` when it has none.
pub fn seal_password(secrets: &SecretBox, spec: &ConnectionSpec, id: &str) -> Option<Vec<u8>> {
    spec.password()
        .map(|p| secrets.seal(p.expose().as_bytes(), id.as_bytes()))
}

/// Forgets the last test outcome when what it was a test of changed (the configUri or the
/// password): it says nothing about the new settings.
pub fn forget_stale_test_outcome(current: &DataSourceRow, next: &mut DataSourceRow) {
    if next.config_uri != current.config_uri || next.password_enc != current.password_enc {
        next.last_test_ok = None;
        next.last_tested_at = None;
    }
}

/// Creates a data source.
#[utoipa::path(
    post,
    path = "/data-source",
    operation_id = "createDataSource",
    tag = "data sources",
    request_body(content(
        (CreateDataSource = "application/x-www-form-urlencoded"),
        (CreateDataSource = "application/json"),
    )),
    responses(
        (status = 200, body = DataSourceView,
            description = "The new data source: configUri normalized, password included"),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    ctx: AuditContext,
    args: Args,
) -> Result<HttpResponse, ApiError> {
    let mut args = args.only(ARGUMENTS)?;
    let name = data_source::parse_name(&args.required("name", "the data source's display name")?)?;
    let alias = match args.take("alias") {
        Some(raw) => data_source::parse_alias(&raw)?,
        None => None,
    };
    let spec = ConnectionSpec::parse(&args.required(
        "configUri",
        "the connection URI, e.g. postgresql://user:password@host:5432/database",
    )?)?;
    let description = args
        .take("description")
        .map(|raw| data_source::parse_description(&raw))
        .transpose()?
        .unwrap_or_default();
    let id = ids::new_data_source_id();
    let now = ctx.at;
    // Sealing reads the store's key record (a rotation may have brought a new key), which
    // blocks: keep it off the async worker. Updates seal inside the store's blocking closure.
    let password_enc = {
        let (secrets, spec, id) = (state.secrets.clone(), spec.clone(), id.clone());
        web::block(move || seal_password(&secrets, &spec, &id))
            .await
            .map_err(ApiError::internal)?
    };
    let row = DataSourceRow {
        password_enc,
        id,
        name,
        alias,
        kind: spec.kind().as_str().to_owned(),
        config_uri: spec.to_redacted_uri(),
        description,
        last_test_ok: None,
        last_tested_at: None,
        seq: 0,
        created_at: now,
        updated_at: now,
    };
    let row = state.store.insert_data_source(row, &ctx).await?;
    json_ok(&DataSourceView::with_config_uri(&row, spec.to_uri()))
}

/// Lists every data source, oldest first.
#[utoipa::path(
    get,
    path = "/data-source",
    operation_id = "listDataSources",
    tag = "data sources",
    params(super::page::PageQuery),
    responses((status = 200, body = [DataSourceView],
        description = "Every data source, oldest first, password removed from every configUri"))
)]
pub async fn list(state: web::Data<AppState>, page: Page) -> Result<HttpResponse, ApiError> {
    let rows = state.store.list_data_sources(page).await?;
    json_ok(
        &rows
            .iter()
            .map(DataSourceView::redacted)
            .collect::<Vec<_>>(),
    )
}

async fn find(state: &AppState, key: &str) -> Result<DataSourceRow, ApiError> {
    state
        .store
        .find_data_source(key)
        .await?
        .ok_or_else(|| ApiError::data_source_not_found(key))
}

/// One data source, password removed.
#[utoipa::path(
    get,
    path = "/data-source/{data_source}",
    operation_id = "getDataSource",
    tag = "data sources",
    params(DataSourceKey),
    responses(
        (status = 200, body = DataSourceView, description = "The data source, password removed"),
        (status = 404, response = NotFound),
    )
)]
pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&DataSourceView::redacted(&find(&state, &key).await?))
}

/// One data source with the password in its configUri (recorded in the audit trail).
#[utoipa::path(
    get,
    path = "/data-source/{data_source}/detail",
    operation_id = "getDataSourceDetail",
    tag = "data sources",
    params(DataSourceKey),
    responses(
        (status = 200, body = DataSourceView,
            description = "The data source with the password in configUri"),
        (status = 404, response = NotFound),
    )
)]
pub async fn detail(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &key).await?;
    let view = DataSourceView::revealed(&row, &state.secrets)?;
    // Recorded before the password is sent: no read of a password goes unrecorded.
    state
        .store
        .record_audit(
            ctx,
            AuditEvent {
                action: "data_source.read_password",
                object_type: "data_source",
                object_id: row.id.clone(),
                changes: serde_json::json!({"hasPassword": row.password_enc.is_some()}),
            },
        )
        .await?;
    json_ok(&view)
}

/// Updates any of name, alias, configUri and description (POST, PUT and PATCH alike).
#[utoipa::path(
    method(post, put, patch),
    path = "/data-source/{data_source}",
    operation_id = "updateDataSource",
    tag = "data sources",
    params(DataSourceKey),
    request_body(content(
        (UpdateDataSource = "application/x-www-form-urlencoded"),
        (UpdateDataSource = "application/json"),
    )),
    responses(
        (status = 200, body = DataSourceView,
            description = "The updated data source, password included; updatedAt moves"),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<String>,
    args: Args,
) -> Result<HttpResponse, ApiError> {
    let mut args = args.only(ARGUMENTS)?;
    if args.is_empty() {
        return Err(ApiError::bad_request(
            "missing_argument",
            "nothing to update: send any of name, alias, configUri, description",
        ));
    }
    let name = args
        .take("name")
        .map(|raw| data_source::parse_name(&raw))
        .transpose()?;
    let alias = args
        .take("alias")
        .map(|raw| data_source::parse_alias(&raw))
        .transpose()?;
    let spec = args
        .take("configUri")
        .map(|raw| ConnectionSpec::parse(&raw))
        .transpose()?;
    let description = args
        .take("description")
        .map(|raw| data_source::parse_description(&raw))
        .transpose()?;
    let secrets = state.secrets.clone();
    let now = ctx.at;
    let updated = state
        .store
        .update_data_source(&key, &ctx, move |current| {
            let mut next = current.clone();
            if let Some(name) = name {
                next.name = name;
            }
            if let Some(alias) = alias {
                next.alias = alias;
            }
            if let Some(description) = description {
                next.description = description;
            }
            if let Some(spec) = spec {
                next.password_enc = if spec.has_password() {
                    seal_password(&secrets, &spec, &current.id)
                } else if stored_spec(current)?.same_destination(&spec) {
                    // The contract's retention rule: a password is only ever sent where it
                    // was entered for, so it survives only an unchanged type, host, port and user.
                    current.password_enc.clone()
                } else {
                    None
                };
                next.kind = spec.kind().as_str().to_owned();
                next.config_uri = spec.to_redacted_uri();
            }
            forget_stale_test_outcome(current, &mut next);
            next.updated_at = now;
            Ok::<_, ApiError>(next)
        })
        .await?
        .ok_or_else(|| ApiError::data_source_not_found(&key))?;
    json_ok(&DataSourceView::revealed(&updated, &state.secrets)?)
}

/// Deletes a data source with its permissions and role memberships.
#[utoipa::path(
    delete,
    path = "/data-source/{data_source}",
    operation_id = "deleteDataSource",
    tag = "data sources",
    params(DataSourceKey),
    responses(
        (status = 200, body = EmptyObject, description = "Deleted: `{}`"),
        (status = 404, response = NotFound),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.store.delete_data_source(&key, &ctx).await? {
        return Err(ApiError::data_source_not_found(&key));
    }
    json_ok(&EmptyObject {})
}
