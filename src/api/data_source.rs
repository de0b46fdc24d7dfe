//! `/api/v2/data-source`: create, list, retrieve, detail, update and delete.

use actix_web::{web, HttpResponse};
use jackal_drivers::{ConnectionSpec, Password};
use serde::Serialize;

use super::args::Args;
use super::error::ApiError;
use super::json_ok;
use crate::domain::{data_source, ids, time};
use crate::secrets::SecretBox;
use crate::startup::AppState;
use crate::store::DataSourceRow;

const ARGUMENTS: &[&str] = &["name", "alias", "configUri"];

/// The contract's DataSource object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceView {
    pub id: String,
    pub name: String,
    pub alias: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub config_uri: String,
    pub created_at: String,
    pub updated_at: String,
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
fn stored_spec(row: &DataSourceRow) -> Result<ConnectionSpec, ApiError> {
    ConnectionSpec::parse(&row.config_uri).map_err(|e| {
        ApiError::internal(format_args!(
            "stored configUri of {} does not parse: {e}",
            row.id
        ))
    })
}

fn seal_password(secrets: &SecretBox, spec: &ConnectionSpec, id: &str) -> Option<Vec<u8>> {
    spec.password()
        .map(|p| secrets.seal(p.expose().as_bytes(), id.as_bytes()))
}

pub async fn create(state: web::Data<AppState>, args: Args) -> Result<HttpResponse, ApiError> {
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
    let id = ids::new_data_source_id();
    let now = state.clock.now_millis();
    let row = DataSourceRow {
        password_enc: seal_password(&state.secrets, &spec, &id),
        id,
        name,
        alias,
        kind: spec.kind().as_str().to_owned(),
        config_uri: spec.to_redacted_uri(),
        created_at: now,
        updated_at: now,
    };
    let row = state.store.insert_data_source(row).await?;
    json_ok(&DataSourceView::with_config_uri(&row, spec.to_uri()))
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.list_data_sources().await?;
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

pub async fn retrieve(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&DataSourceView::redacted(&find(&state, &key).await?))
}

pub async fn detail(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &key).await?;
    json_ok(&DataSourceView::revealed(&row, &state.secrets)?)
}

pub async fn update(
    state: web::Data<AppState>,
    key: web::Path<String>,
    args: Args,
) -> Result<HttpResponse, ApiError> {
    let mut args = args.only(ARGUMENTS)?;
    if args.is_empty() {
        return Err(ApiError::bad_request(
            "missing_argument",
            "nothing to update: send any of name, alias, configUri",
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
    let secrets = state.secrets.clone();
    let now = state.clock.now_millis();
    let updated = state
        .store
        .update_data_source(&key, move |current| {
            let mut next = current.clone();
            if let Some(name) = name {
                next.name = name;
            }
            if let Some(alias) = alias {
                next.alias = alias;
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
            next.updated_at = now;
            Ok::<_, ApiError>(next)
        })
        .await?
        .ok_or_else(|| ApiError::data_source_not_found(&key))?;
    json_ok(&DataSourceView::revealed(&updated, &state.secrets)?)
}

pub async fn delete(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.store.delete_data_source(&key).await? {
        return Err(ApiError::data_source_not_found(&key));
    }
    json_ok(&serde_json::json!({}))
}
