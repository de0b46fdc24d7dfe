//! The data-source form: `GET /ui/data-source/new` and `GET /ui/data-source/{id}/edit`, and the
//! saves it posts (`POST /ui/data-source`, `POST /ui/data-source/{id}`). The saves parse the
//! API's own bodies and call the API's own use cases as the signed-in key, so a form gets the
//! same validation, messages and audit records as curl; they differ from the API in one thing
//! only: the answer is the data source with its password removed, since the browser that typed
//! a secret never needs it back.
//!
//! The form's script (`assets/form.js`) composes `configUri` from the fields and fills the
//! fields from a pasted URI; the server stays the authority on what a URI means.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{html, session, Chrome};
use crate::api::args::Body;
use crate::api::data_source::{
    CreateDataSource, DataSourceView, StoredCertificateView, UpdateDataSource,
};
use crate::api::docs::DataSourceKey;
use crate::api::error::ApiError;
use crate::api::reply::json_ok;
use crate::app::data_sources;
use crate::app::AppState;
use crate::store::{AuditContext, DataSourceRow};

/// What the edit form shows of a stored data source: never a secret, only whether one is kept.
pub struct Stored {
    pub id: String,
    pub config_uri: String,
    pub password: bool,
    /// How the tunnel logs in (`publicKey`, `password`), when an SSH secret is kept.
    pub ssh_auth: Option<String>,
    /// The kept TLS material, as its certificates' subjects.
    pub tls: Option<String>,
}

#[derive(Template)]
#[template(path = "data_source_form.html")]
struct FormPage {
    chrome: Chrome,
    /// Heading and crumbs: "New data source" or the data source's name.
    heading: String,
    name: String,
    alias: String,
    description: String,
    stored: Option<Stored>,
}

/// The subjects of the certificates a data source keeps, as one line.
fn tls_summary(view: &DataSourceView) -> Option<String> {
    let tls = view.tls.as_ref()?;
    let subject = |c: &StoredCertificateView| c.subject.clone();
    let mut parts = Vec::new();
    if let Some(client) = &tls.client_certificate {
        parts.push(format!("client certificate {}", subject(client)));
    }
    if let Some(roots) = &tls.root_certificates {
        let names: Vec<String> = roots.iter().map(subject).collect();
        parts.push(format!("CA certificates {}", names.join(", ")));
    }
    Some(parts.join("; "))
}

fn stored(row: &DataSourceRow) -> Stored {
    let view = DataSourceView::redacted(row);
    Stored {
        id: view.id.clone(),
        config_uri: view.config_uri.clone(),
        password: row.password_enc.is_some(),
        ssh_auth: row
            .ssh_secret_enc
            .is_some()
            .then(|| view.ssh.as_ref().map(|s| s.auth.clone()))
            .flatten(),
        tls: row
            .tls_secret_enc
            .is_some()
            .then(|| tls_summary(&view))
            .flatten(),
    }
}

/// `GET /ui/data-source/new`.
pub async fn new(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    html(
        StatusCode::OK,
        &FormPage {
            chrome: Chrome::of(&session, "New data source", "new"),
            heading: "New data source".to_owned(),
            name: String::new(),
            alias: String::new(),
            description: String::new(),
            stored: None,
        },
    )
}

/// `GET /ui/data-source/{id}/edit`.
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    let row = data_sources::find(&state, &key).await?;
    html(
        StatusCode::OK,
        &FormPage {
            chrome: Chrome::of(&session, format!("Edit {}", row.name), ""),
            heading: row.name.clone(),
            name: row.name.clone(),
            alias: row.alias.clone().unwrap_or_default(),
            description: row.description.clone(),
            stored: Some(stored(&row)),
        },
    )
}

/// `POST /ui/data-source`: the API's create, answered without the password.
pub async fn create(
    state: web::Data<AppState>,
    ctx: AuditContext,
    Body(body): Body<CreateDataSource>,
) -> Result<HttpResponse, ApiError> {
    // The form sends JSON, where a `+` is a `+`.
    let (new, notes) = body.into_new(false)?;
    let (row, _) = data_sources::create(&state, &ctx, new).await?;
    json_ok(&DataSourceView::redacted(&row).noted(notes))
}

/// `POST /ui/data-source/{id}`: the API's update, answered without the password.
pub async fn update(
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<DataSourceKey>,
    Body(body): Body<UpdateDataSource>,
) -> Result<HttpResponse, ApiError> {
    let (changes, notes) = body.into_changes(false)?;
    let row = data_sources::update(&state, &ctx, &key, changes).await?;
    json_ok(&DataSourceView::redacted(&row).noted(notes))
}
