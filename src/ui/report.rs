//! A data source's last test report as the page reads it back: the JSON `/test` answered
//! (`crate::app::test_report`), of which the page shows the message, the phases and TLS.

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
    pub tls: Option<Value>,
    pub version: Option<Value>,
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
