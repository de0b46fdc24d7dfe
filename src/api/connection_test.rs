//! `POST /data-source/:ds/test` and `POST /connection-test`: a live connection test, answered
//! 200 either way (a failed test is a result, not a server error).

use super::secret_args::with_secret_args;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::args::{plus_became_space, required, Body};
use super::docs::{DataSourceKey, NotFound, PayloadTooLarge, UnsupportedMediaType};
use super::error::ApiError;
use super::limits::TestAllowance;
use super::reply::json_ok;
use crate::app::connection_tests;
use crate::app::AppState;
use crate::domain::{client_tls, config_uri, ssh};
use crate::store::AuditContext;

pub use crate::app::test_report::{render, TestResult, VersionView};

with_secret_args! {
/// The argument of `POST /connection-test`, form-encoded or as a JSON object.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestUnsaved {
    /// The connection URI to test.
    #[schema(schema_with = super::docs::any_config_uri_schema, required = true)]
    config_uri: Option<String>,
}
}

/// Tests a saved data source's connection: connect, TLS, log in, ask the version, close.
#[utoipa::path(
    post,
    path = "/data-source/{data_source}/test",
    operation_id = "testDataSource",
    tag = "data sources",
    params(DataSourceKey),
    responses(
        (status = 200, body = TestResult,
            description = "The test's result, successful or not, within the test deadline"),
        (status = 404, response = NotFound),
    )
)]
pub async fn test_data_source(
    // First, so a key over `[limits] tests_per_minute` gets its 429 before anything else.
    _allowed: TestAllowance,
    state: web::Data<AppState>,
    ctx: AuditContext,
    key: web::Path<DataSourceKey>,
) -> Result<HttpResponse, ApiError> {
    let report = connection_tests::test_saved(&state, &ctx, &key).await?;
    json_ok(&render(&report))
}

/// Tests a configUri without saving it (an extension).
#[utoipa::path(
    post,
    path = "/connection-test",
    operation_id = "testConnection",
    tag = "data sources",
    request_body(content(
        (TestUnsaved = "application/x-www-form-urlencoded"),
        (TestUnsaved = "application/json"),
    )),
    responses(
        (status = 200, body = TestResult,
            description = "The test's result, successful or not, within the test deadline"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn test_unsaved(
    _allowed: TestAllowance,
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: AuditContext,
    Body(body): Body<TestUnsaved>,
) -> Result<HttpResponse, ApiError> {
    let raw = required(
        body.config_uri,
        "configUri",
        "the connection URI to test, e.g. postgresql://user:password@host:5432/database",
    )?;
    let credentials = ssh::credentials(
        body.ssh_private_key,
        body.ssh_key_passphrase,
        body.ssh_password,
    )?;
    let tls = client_tls::credentials(
        body.ssl_cert,
        body.ssl_key,
        body.ssl_key_password,
        body.ssl_root_cert,
    );
    let mut notes = Vec::new();
    let parsed = match config_uri::parse(&raw, plus_became_space(&req, "configUri")) {
        Ok(normalized) => {
            notes = normalized.notes;
            let spec = normalized.spec;
            ssh::check_sent_for_a_tunnel(&credentials, spec.ssh_route().is_some())?;
            let spec = client_tls::attach(spec.with_ssh_credentials(credentials), tls)?;
            Ok(crate::app::keys::unlocked(spec).await?)
        }
        // An invalid configUri is the test's result (invalid_uri), not a 400.
        Err(e) => Err(e),
    };
    let report = connection_tests::test_unsaved(&state, &ctx, parsed).await?;
    json_ok(&TestResult {
        notes,
        ..render(&report)
    })
}
