//! A data source's last test report as the page reads it back: the JSON `/test` answered
//! (`crate::app::test_report`), of which the page shows the message, the phases and TLS
//! (the certificate the server presented, also when it was refused).

use serde::Deserialize;
use serde_json::Value;

use crate::domain::time;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Report {
    pub success: bool,
    pub message: Option<String>,
    pub error_code: Option<String>,
    pub duration_ms: f64,
    pub phases: Vec<Phase>,
    pub address: Option<String>,
    pub tls: Option<Tls>,
    pub version: Option<Value>,
}

/// The report's `tls` object (`crate::app::test_report::TlsView`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tls {
    pub enabled: bool,
    pub verified: bool,
    pub protocol: Option<String>,
    pub cipher_suite: Option<String>,
    pub server_certificate: Option<Certificate>,
    pub client_certificate_requested: Option<bool>,
    pub client_certificate: Option<Certificate>,
    pub warnings: Vec<String>,
}

/// A certificate's facts as the test noted them (`crate::app::test_report::CertificateView`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Certificate {
    pub subject: String,
    pub names: Vec<String>,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// As of the test.
    pub days_left: i64,
    pub self_signed: bool,
    pub fingerprint_sha256: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Phase {
    pub name: String,
    pub hop: Option<String>,
    pub ok: bool,
    pub ms: f64,
}

impl Report {
    /// The stored JSON; a report that does not parse (written by another version) is shown as
    /// none.
    pub fn parse(json: &str) -> Option<Report> {
        serde_json::from_str(json).ok()
    }
}

/// A data source's status from its last outcome: its class (`down`, `never`, `up`) and its
/// label.
pub fn status(last_test_ok: Option<bool>) -> (&'static str, &'static str) {
    match last_test_ok {
        Some(false) => ("down", "Down"),
        None => ("never", "Never tested"),
        Some(true) => ("up", "Up"),
    }
}

/// A time as the page shows it: UTC to the second.
pub fn when(millis: i64) -> String {
    let rendered = time::render_millis(millis);
    // 2026-12-04T05:31:18.123Z -> 2026-12-04 05:31:18
    rendered
        .get(..19)
        .map(|s| s.replacen('T', " ", 1))
        .unwrap_or(rendered)
}

/// A duration in milliseconds as the page shows it.
pub fn millis(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}
