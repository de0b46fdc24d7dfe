//! `POST /data-source/:ds/test` and `POST /connection-test`: a live connection test, answered
//! 200 either way (a failed test is a result, not a server error).

use actix_web::{web, HttpResponse};
use jackal_drivers::{ConnectionSpec, ErrorCode, ProbeFailure, ProbeReport};
use serde_json::{json, Map, Value};

use super::args::Args;
use super::data_source::stored_spec_with_password;
use super::error::ApiError;
use super::json_ok;
use crate::startup::AppState;

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The contract's §5 shape, with its extension fields.
pub fn render(report: &ProbeReport) -> Value {
    let mut body = Map::new();
    match &report.outcome {
        Ok(version) => {
            body.insert("success".into(), json!(true));
            body.insert(
                "version".into(),
                json!({
                    "productName": version.product_name,
                    "productVersion": version.product_version,
                    "major": version.major,
                    "minor": version.minor,
                    "patch": version.patch,
                    "description": version.description,
                }),
            );
        }
        Err(failure) => {
            body.insert("success".into(), json!(false));
            body.insert("message".into(), json!(failure.message));
            body.insert("errorCode".into(), json!(failure.code.as_str()));
        }
    }
    body.insert("durationMs".into(), json!(millis(report.duration)));
    let phases: Vec<Value> = report
        .phases
        .iter()
        .map(|p| json!({"name": p.phase.as_str(), "ok": p.ok, "ms": millis(p.elapsed)}))
        .collect();
    body.insert("phases".into(), Value::Array(phases));
    body.insert(
        "address".into(),
        report.address.map_or(Value::Null, |a| json!(a.to_string())),
    );
    body.insert(
        "tls".into(),
        report.tls.as_ref().map_or(
            Value::Null,
            |t| json!({"enabled": t.enabled, "verified": t.verified, "protocol": t.protocol}),
        ),
    );
    Value::Object(body)
}

fn log(report: &ProbeReport, subject: &str) {
    match &report.outcome {
        Ok(v) => {
            tracing::info!(subject, product = %v.product_name, version = %v.product_version, duration_ms = millis(report.duration), "connection test succeeded")
        }
        Err(f) => tracing::info!(
            subject,
            error_code = f.code.as_str(),
            duration_ms = millis(report.duration),
            "connection test failed"
        ),
    }
}

pub async fn test_data_source(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .store
        .find_data_source(&key)
        .await?
        .ok_or_else(|| ApiError::data_source_not_found(&key))?;
    // The stored password goes only where the stored configUri points: updates that change
    // type, host, port or user drop it (see data_source::update).
    let spec = stored_spec_with_password(&row, &state.secrets)?;
    let report = state.probes.test(spec).await;
    log(&report, &row.id);
    json_ok(&render(&report))
}

pub async fn test_unsaved(
    state: web::Data<AppState>,
    args: Args,
) -> Result<HttpResponse, ApiError> {
    let mut args = args.only(&["configUri"])?;
    let raw = args.required(
        "configUri",
        "the connection URI to test, e.g. postgresql://user:password@host:5432/database",
    )?;
    let report = match ConnectionSpec::parse(&raw) {
        Ok(spec) => state.probes.test(spec).await,
        Err(e) => ProbeReport {
            outcome: Err(ProbeFailure::new(
                ErrorCode::InvalidUri,
                format!("configUri: {e}"),
            )),
            duration: std::time::Duration::ZERO,
            phases: Vec::new(),
            address: None,
            tls: None,
        },
    };
    log(&report, "unsaved");
    json_ok(&render(&report))
}
