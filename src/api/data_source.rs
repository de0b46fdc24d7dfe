//! `/api/v2/data-source`: create, list, retrieve, detail, update and delete.

use super::secret_args::with_secret_args;
use actix_web::{web, HttpRequest, HttpResponse};
use jackal_drivers::ConnectionSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::args::{plus_became_space, required, Body};
use super::docs::{
    Conflict, DataSourceKey, NotFound, PayloadTooLarge, Timestamp, UnsupportedMediaType,
};
use super::error::{ApiError, ErrorCode};
use super::list_stream;
use super::reply::{json_ok, EmptyObject};
use crate::app::data_sources::{self, Changes, NewDataSource};
use crate::app::AppState;
use crate::domain::{client_tls, config_uri, data_source, ssh, time};
use crate::store::{AuditContext, DataSourceRow, Page};

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
    #[schema(schema_with = super::docs::data_source_type)]
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
    /// An extension, present only for a data source with an SSH tunnel (`sshHost`): how the
    /// tunnel logs in, never the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub ssh: Option<SshView>,
    /// An extension, present only for a data source with TLS material sent beside configUri
    /// (`sslCert`, `sslRootCert`): what its certificates are, never the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub tls: Option<TlsMaterialView>,
    /// An extension, on create and update only, present when the configUri sent was rewritten
    /// into the contract's form (a `postgres://`, JDBC or libpq URI, MySQL's `ssl-mode`) or may
    /// have lost a `+` to form decoding: one short sentence per change. Never holds a password.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(
        required = false,
        example = json!(["sslmode=verify-full became validateSsl=true&ssl=true"])
    )]
    pub notes: Vec<String>,
}

/// The TLS material of a data source, as an admin checks it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsMaterialView {
    /// The client certificate presented for mutual TLS (`sslCert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<StoredCertificateView>,
    /// The CA certificates sent as `sslRootCert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_certificates: Option<Vec<StoredCertificateView>>,
}

/// A stored certificate.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredCertificateView {
    /// RFC 4514.
    #[schema(example = "CN=jackal_reader")]
    pub subject: String,
    #[schema(example = "CN=Example CA")]
    pub issuer: String,
    /// SHA-256 of the certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub fingerprint_sha256: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    /// RFC 3339, UTC: when it expires.
    pub not_after: String,
}

impl TlsMaterialView {
    fn of(row: &DataSourceRow) -> Option<TlsMaterialView> {
        serde_json::from_str(row.tls_shown.as_deref()?).ok()
    }
}

/// How a data source's tunnel logs in to its bastion and jump hosts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshView {
    /// `publicKey`, `password`, or `none` when no SSH secret is stored.
    pub auth: String,
    /// `SHA256:…` of the client public key, as `ssh-keygen -lf` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_fingerprint: Option<String>,
    /// The client public key, the line to add to the bastion's `authorized_keys`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

impl SshView {
    fn of(row: &DataSourceRow) -> Option<SshView> {
        if let Some(shown) = row.ssh_auth.as_deref() {
            if let Ok(view) = serde_json::from_str(shown) {
                return Some(view);
            }
        }
        // Only tunnels carry sshHost (an option name no other option contains).
        row.config_uri.contains("sshHost=").then(|| SshView {
            auth: "none".to_owned(),
            public_key_fingerprint: None,
            public_key: None,
        })
    }
}

with_secret_args! {
// Every field of a body is read as text (see `Args::into_body`); the handler checks the
// `required` ones, in field order, so "missing" and "invalid" come in today's order.
/// The arguments of `POST /data-source`, form-encoded or as a JSON object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDataSource {
    /// The display name.
    #[schema(schema_with = super::docs::name_schema, required = true)]
    name: Option<String>,
    /// Optional and unique. Empty or `null`: none.
    #[schema(schema_with = super::docs::alias_schema)]
    alias: Option<String>,
    /// `<type>://[user[:password]@]host[:port][/database][?options]`, percent-encoded; a
    /// configUri with its own `?options` must be percent-encoded inside a form body. A URI as
    /// libpq, a JDBC driver or MySQL's clients write it is rewritten into this form, with
    /// `notes` in the answer.
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        example = "postgresql://someuser:t0ps3cret@somedb.example.com:5432/some-db"
    )]
    config_uri: Option<String>,
    /// An extension: free text, at most 4000 characters. Empty or `null`: none.
    #[schema(max_length = 4000)]
    description: Option<String>,
}
}

impl CreateDataSource {
    /// The configUri as sent, if any.
    pub fn config_uri(&self) -> Option<&str> {
        self.config_uri.as_deref()
    }

    /// The checked arguments, in field order: a missing or invalid argument is reported before
    /// any later one is looked at, with the notes on how configUri was rewritten (see
    /// [`config_uri::parse`] for `plus_became_space`). Public so that the fuzz target runs
    /// exactly this.
    pub fn into_new(
        self,
        plus_became_space: bool,
    ) -> Result<(NewDataSource, Vec<String>), ApiError> {
        let name = data_source::parse_name(&required(
            self.name,
            "name",
            "the data source's display name",
        )?)?;
        let alias = match self.alias {
            Some(raw) => data_source::parse_alias(&raw)?,
            None => None,
        };
        let config_uri::Normalized { spec, notes } = config_uri::parse(
            &required(
                self.config_uri,
                "configUri",
                "the connection URI, e.g. postgresql://user:password@host:5432/database",
            )?,
            plus_became_space,
        )?;
        let description = self
            .description
            .map(|raw| data_source::parse_description(&raw))
            .transpose()?
            .unwrap_or_default();
        let credentials = ssh::credentials(
            self.ssh_private_key,
            self.ssh_key_passphrase,
            self.ssh_password,
        )?;
        ssh::check_sent_for_a_tunnel(&credentials, spec.ssh_route().is_some())?;
        let tls = client_tls::credentials(
            self.ssl_cert,
            self.ssl_key,
            self.ssl_key_password,
            self.ssl_root_cert,
        );
        let spec = client_tls::attach(spec.with_ssh_credentials(credentials), tls)?;
        let new = NewDataSource {
            name,
            alias,
            spec,
            description,
        };
        Ok((new, notes))
    }
}

with_secret_args! {
/// The arguments of a data source update: any of them, at least one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDataSource {
    /// The new display name.
    #[schema(schema_with = super::docs::name_schema)]
    name: Option<String>,
    /// The new alias; empty or `null` clears it.
    #[schema(schema_with = super::docs::alias_schema)]
    alias: Option<String>,
    /// The new configUri. Without a password, the stored one is kept only when type, host,
    /// port and user are unchanged.
    #[schema(nullable = false, min_length = 1)]
    config_uri: Option<String>,
    /// An extension: the new description; empty or `null` clears it.
    #[schema(max_length = 4000)]
    description: Option<String>,
}
}

impl UpdateDataSource {
    /// The checked changes: at least one argument, each valid. Shared by the API and the
    /// status page's form, so both refuse the same bodies with the same messages. With the
    /// notes of a configUri given in a pasted form (see [`config_uri::parse`] for
    /// `plus_became_space`).
    pub fn into_changes(self, plus_became_space: bool) -> Result<(Changes, Vec<String>), ApiError> {
        let UpdateDataSource {
            name,
            alias,
            config_uri,
            description,
            ssh_private_key,
            ssh_key_passphrase,
            ssh_password,
            ssl_cert,
            ssl_key,
            ssl_key_password,
            ssl_root_cert,
        } = self;
        let credentials = ssh::credentials(ssh_private_key, ssh_key_passphrase, ssh_password)?;
        let tls = client_tls::credentials(ssl_cert, ssl_key, ssl_key_password, ssl_root_cert);
        if name.is_none()
            && alias.is_none()
            && config_uri.is_none()
            && description.is_none()
            && credentials.is_empty()
            && tls.is_empty()
        {
            return Err(ApiError::new(
                ErrorCode::MissingArgument,
                "nothing to update: send any of name, alias, configUri, description",
            ));
        }
        let name = name.map(|raw| data_source::parse_name(&raw)).transpose()?;
        let alias = alias
            .map(|raw| data_source::parse_alias(&raw))
            .transpose()?;
        let (spec, notes) = match config_uri {
            Some(raw) => {
                let config_uri::Normalized { spec, notes } =
                    config_uri::parse(&raw, plus_became_space)?;
                (Some(spec), notes)
            }
            None => (None, Vec::new()),
        };
        let description = description
            .map(|raw| data_source::parse_description(&raw))
            .transpose()?;
        let changes = Changes {
            name,
            alias,
            description,
            spec,
            password: None,
            ssh: (!credentials.is_empty()).then_some(credentials),
            tls: (!tls.is_empty()).then_some(tls),
        };
        Ok((changes, notes))
    }
}

impl DataSourceView {
    /// The stored row, whose configUri never holds the password.
    pub fn redacted(row: &DataSourceRow) -> Self {
        Self::with_config_uri(row, row.config_uri.clone())
    }

    /// The row with the configUri of `spec` (which holds the password).
    pub fn revealed(row: &DataSourceRow, spec: &ConnectionSpec) -> Self {
        Self::with_config_uri(row, spec.to_uri())
    }

    fn with_config_uri(row: &DataSourceRow, config_uri: String) -> Self {
        Self {
            id: row.id.to_string(),
            name: row.name.clone(),
            alias: row.alias.clone(),
            kind: row.kind.as_str().to_owned(),
            config_uri,
            created_at: time::render_millis(row.created_at),
            updated_at: time::render_millis(row.updated_at),
            description: row.description.clone(),
            ssh: SshView::of(row),
            tls: TlsMaterialView::of(row),
            notes: Vec::new(),
        }
    }

    /// The same view with `notes` on how the configUri sent was rewritten.
    pub fn noted(self, notes: Vec<String>) -> Self {
        Self { notes, ..self }
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
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: AuditContext,
    Body(body): Body<CreateDataSource>,
) -> Result<HttpResponse, ApiError> {
    let (new, notes) = body.into_new(plus_became_space(&req, "configUri"))?;
    let (row, spec) = data_sources::create(&state, &ctx, new).await?;
    json_ok(&DataSourceView::revealed(&row, &spec).noted(notes))
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
    list_stream::page_of(
        state,
        page,
        |state, page| async move { data_sources::list(&state, page).await },
        |row| row.seq,
        |row| Ok(DataSourceView::redacted(row)),
    )
    .await
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
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    json_ok(&DataSourceView::redacted(
        &*data_sources::find_remembered(&state, &key).await?,
    ))
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
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    let (row, spec) = data_sources::reveal(&state, &ctx, &key).await?;
    json_ok(&DataSourceView::revealed(&row, &spec))
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
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<DataSourceKey>,
    Body(body): Body<UpdateDataSource>,
) -> Result<HttpResponse, ApiError> {
    let (changes, notes) = body.into_changes(plus_became_space(&req, "configUri"))?;
    let row = data_sources::update(&state, &ctx, &key, changes).await?;
    let spec = data_sources::spec_with_password(&row, &state.secrets)?;
    json_ok(&DataSourceView::revealed(&row, &spec).noted(notes))
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
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    data_sources::delete(&state, &ctx, &key).await?;
    json_ok(&EmptyObject {})
}
