//! `GET /ui/data-source/{id}`: one data source: its settings as the API shows them, its last
//! test (phases as a waterfall, TLS facts), its history, its schema snapshot, its roles and
//! permissions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde_json::Value;

use super::charts::{self, Bar, HistoryChart, PHASE_ROW};
use super::report::{self, millis, status, when, Report};
use super::{html, session, Chrome};
use crate::api::data_source::DataSourceView;
use crate::api::error::ApiError;
use crate::app::connection_tests::StoredSnapshot;
use crate::app::{status_page, AppState};

/// History entries the page shows.
const HISTORY: i64 = 100;

/// A name and its value, as text.
pub struct Field {
    pub name: String,
    pub value: String,
}

pub struct LastTest {
    pub success: bool,
    pub when: String,
    pub duration: String,
    pub code: String,
    pub message: String,
    pub address: String,
    pub version: String,
    pub bars: Vec<Bar>,
    pub chart_height: u32,
    /// What the chart shows, for those who cannot see it.
    pub chart_text: String,
    /// The connection's TLS: enabled, verified, protocol, cipher suite.
    pub tls: Vec<Field>,
    /// The certificates the test saw: the server's (also when refused), the client's.
    pub certificates: Vec<CertificateTable>,
    pub warnings: Vec<String>,
}

/// One certificate's facts as a labelled table.
pub struct CertificateTable {
    pub id: &'static str,
    pub heading: &'static str,
    pub rows: Vec<Field>,
}

pub struct HistoryRow {
    pub when: String,
    pub success: bool,
    pub code: String,
    pub duration: String,
    pub version: String,
}

pub struct SchemaNode {
    pub name: String,
    pub tables: Vec<TableNode>,
}

pub struct TableNode {
    pub name: String,
    pub kind: String,
    pub columns: Vec<Field>,
}

pub struct Snapshot {
    pub fetched_at: String,
    pub schemas: Vec<SchemaNode>,
}

pub struct PermissionLine {
    pub person: String,
    pub starts: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "data_source.html")]
struct DataSourcePage {
    chrome: Chrome,
    id: String,
    name: String,
    /// `down`, `never` or `up`, as the fleet colours it, and its label.
    status: &'static str,
    label: &'static str,
    /// When its current run of failures began (`≤` when the history kept may have lost the
    /// run's beginning); empty unless it is down.
    down_since: String,
    settings: Vec<Field>,
    last: Option<LastTest>,
    chart: Option<HistoryChart>,
    history: Vec<HistoryRow>,
    snapshot: Option<Snapshot>,
    roles: Vec<String>,
    permissions: Vec<PermissionLine>,
}

/// A JSON value as one line of text (strings without their quotes).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

/// The top-level fields of a JSON object in the order they were written (`serde_json::Value`
/// would sort them): the API's own order of a data source's fields.
struct InOrder(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for InOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = InOrder;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<InOrder, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(InOrder(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// A data source's settings as list and retrieve show them, field by field.
fn settings(view: &DataSourceView) -> Result<Vec<Field>, serde_json::Error> {
    let InOrder(fields) = serde_json::from_str(&serde_json::to_string(view)?)?;
    Ok(fields
        .into_iter()
        .map(|(name, value)| Field {
            name,
            value: text(&value),
        })
        .collect())
}

fn version_of(version: Option<&Value>) -> String {
    version
        .map(|v| {
            format!(
                "{} {}",
                v.get("productName").map(text).unwrap_or_default(),
                v.get("productVersion").map(text).unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

fn field(name: &str, value: impl Into<String>) -> Field {
    Field {
        name: name.to_owned(),
        value: value.into(),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// An RFC 3339 time as the page shows times (`2027-01-01T00:00:00Z` → `2027-01-01 00:00:00
/// UTC`).
fn utc(rfc3339: &str) -> String {
    format!(
        "{} UTC",
        rfc3339.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

/// A certificate's facts, labelled, in the order an admin checks them.
fn certificate_rows(cert: &report::Certificate) -> Vec<Field> {
    let days = match cert.days_left {
        left if left < 0 => format!("expired {} days before the test", -left),
        left => format!("{left} (at the test)"),
    };
    vec![
        field("Subject", &cert.subject),
        field(
            "Names",
            if cert.names.is_empty() {
                "none (no subjectAltName)".to_owned()
            } else {
                cert.names.join(", ")
            },
        ),
        field("Issuer", &cert.issuer),
        field("Self-signed", yes_no(cert.self_signed)),
        field("Valid from", utc(&cert.not_before)),
        field("Valid until", utc(&cert.not_after)),
        field("Days left", days),
        field("Fingerprint (SHA-256)", &cert.fingerprint_sha256),
    ]
}

fn last_test(report: Report, tested_at: i64) -> LastTest {
    let phases: Vec<(String, bool, f64)> = report
        .phases
        .iter()
        .map(|p| {
            let label = match &p.hop {
                Some(hop) => format!("{} ({hop})", p.name),
                None => p.name.clone(),
            };
            (label, p.ok, p.ms)
        })
        .collect();
    let bars = charts::waterfall(&phases);
    let chart_text = bars
        .iter()
        .map(|b| {
            let failed = if b.ok { "" } else { ", failed" };
            format!("{} {}{failed}", b.label, b.ms)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let (mut tls, mut certificates, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(facts) = report.tls {
        tls.push(field("Enabled", yes_no(facts.enabled)));
        tls.push(field(
            "Certificate checked",
            if facts.verified {
                "yes (validateSsl=true)"
            } else {
                "no (validateSsl=false)"
            },
        ));
        if let Some(protocol) = facts.protocol {
            tls.push(field("Protocol", protocol));
        }
        if let Some(suite) = facts.cipher_suite {
            tls.push(field("Cipher suite", suite));
        }
        if let Some(asked) = facts.client_certificate_requested {
            tls.push(field("Client certificate asked for", yes_no(asked)));
        }
        // A refused certificate is the failure's reason: it says so above its facts.
        let refused = !report.success && report.error_code.as_deref() == Some("tls_failed");
        if let Some(cert) = &facts.server_certificate {
            certificates.push(CertificateTable {
                id: "server-certificate",
                heading: if refused {
                    "The server's certificate (refused)"
                } else {
                    "The server's certificate"
                },
                rows: certificate_rows(cert),
            });
        }
        if let Some(cert) = &facts.client_certificate {
            certificates.push(CertificateTable {
                id: "client-certificate",
                heading: "The client certificate presented",
                rows: certificate_rows(cert),
            });
        }
        warnings = facts.warnings;
    }
    LastTest {
        success: report.success,
        when: when(tested_at),
        duration: millis(report.duration_ms),
        code: report.error_code.unwrap_or_default(),
        message: report.message.unwrap_or_default(),
        address: report.address.unwrap_or_default(),
        version: version_of(report.version.as_ref()),
        chart_height: PHASE_ROW * bars.len() as u32,
        chart_text,
        bars,
        tls,
        certificates,
        warnings,
    }
}

fn snapshot(stored: StoredSnapshot, fetched_at: i64) -> Snapshot {
    Snapshot {
        fetched_at: when(fetched_at),
        schemas: stored
            .snapshot
            .schemas
            .into_iter()
            .map(|schema| SchemaNode {
                name: schema.name,
                tables: schema
                    .tables
                    .into_iter()
                    .map(|table| TableNode {
                        name: table.name,
                        kind: table.kind.as_str().to_owned(),
                        columns: table
                            .columns
                            .into_iter()
                            .map(|c| Field {
                                value: if c.nullable {
                                    format!("{} (nullable)", c.data_type)
                                } else {
                                    c.data_type
                                },
                                name: c.name,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = session::of(&req)?;
    let status_page::DataSourcePage {
        row,
        report,
        history: tests,
        snapshot: stored,
        roles,
        permissions,
        down_since,
    } = status_page::data_source(&state, &path.into_inner(), HISTORY).await?;
    let id = row.id.to_string();
    let settings = settings(&DataSourceView::redacted(&row)).map_err(ApiError::internal)?;
    let last = report.and_then(|r| Some(last_test(Report::parse(&r.report)?, r.tested_at)));
    let oldest_first: Vec<(bool, i64)> = tests
        .iter()
        .rev()
        .map(|t| (t.success, t.duration_us))
        .collect();
    let snapshot = match stored {
        Some(row) => Some(snapshot(StoredSnapshot::parse(&row)?, row.fetched_at)),
        None => None,
    };
    let (status, label) = status(row.last_test_ok);
    let down_since = down_since
        .map(|d| {
            let at_least = if d.at_least { "≤ " } else { "" };
            format!("{at_least}{} UTC", when(d.at))
        })
        .unwrap_or_default();
    html(
        StatusCode::OK,
        &DataSourcePage {
            chrome: Chrome::of(&session, row.name.clone(), ""),
            id,
            name: row.name.clone(),
            status,
            label,
            down_since,
            settings,
            last,
            chart: charts::history(&oldest_first),
            history: tests
                .iter()
                .map(|t| HistoryRow {
                    when: when(t.tested_at),
                    success: t.success,
                    code: t.error_code.clone().unwrap_or_default(),
                    duration: millis(t.duration_us as f64 / 1000.0),
                    version: match (&t.product_name, &t.product_version) {
                        (Some(name), Some(version)) => format!("{name} {version}"),
                        _ => String::new(),
                    },
                })
                .collect(),
            snapshot,
            roles: roles.into_iter().map(|r| r.name).collect(),
            permissions: permissions
                .into_iter()
                .map(|p| PermissionLine {
                    person: p.person_id.to_string(),
                    starts: when(p.starts_at),
                    expires: when(p.expires_at),
                })
                .collect(),
        },
    )
}
