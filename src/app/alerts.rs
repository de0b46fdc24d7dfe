//! Alerts (`[alerts]`, docs/alerts.md): each data source's state from its test results, its
//! incidents, and the events a change of state puts in the outbox, all in the transaction that
//! records the result. The sender (`alert_sender`) delivers the outbox.
//!
//! A data source with no state row is `unknown` (never tested). It goes `down` after
//! `after_failures` failed tests in a row, and `up` after `after_successes` successful ones:
//! one lost packet is no incident, and a flapping one (fail, pass, fail, pass) stays as it was.

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::alert_sender::Webhook;
use super::{data_sources, AppError, AppState};
use crate::config::AlertSettings;
use crate::domain::time::render_millis;
use crate::store::{AlertStateRow, DataSourceRow, IncidentRow, OutboxRow, Page, Tx};

pub const UP: &str = "up";
pub const DOWN: &str = "down";
pub const UNKNOWN: &str = "unknown";

/// The alert settings and the channels, as every server reads them at start.
#[derive(Debug, Default)]
pub struct Alerting {
    pub settings: AlertSettings,
    /// Every channel's name: each event goes to each.
    pub channels: Vec<String>,
    pub webhooks: Vec<Webhook>,
}

impl Alerting {
    /// The `[alerts]` settings with each channel's key loaded.
    pub fn load(settings: &AlertSettings) -> anyhow::Result<Alerting> {
        let webhooks = settings
            .webhook
            .iter()
            .map(Webhook::load)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Alerting {
            settings: settings.clone(),
            channels: webhooks.iter().map(|w| w.name.clone()).collect(),
            webhooks,
        })
    }
}

/// One test result, as the state machine reads it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub ok: bool,
    pub code: Option<&'a str>,
    pub message: Option<&'a str>,
    pub at: i64,
}

/// What a result did to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    WentDown,
    WentUp,
}

/// `codes` (comma-separated, each once) with `code` added.
fn with_code(codes: &str, code: Option<&str>) -> String {
    let Some(code) = code else {
        return codes.to_owned();
    };
    if codes.split(',').any(|c| c == code) {
        codes.to_owned()
    } else if codes.is_empty() {
        code.to_owned()
    } else {
        format!("{codes},{code}")
    }
}

/// The state after `seen`, from the state before it (`None`: never tested).
pub fn step(
    before: Option<&AlertStateRow>,
    id: &crate::domain::ids::DataSourceId,
    seen: Observation<'_>,
    settings: &AlertSettings,
) -> (AlertStateRow, Change) {
    let mut next = before.cloned().unwrap_or_else(|| AlertStateRow {
        data_source_id: id.clone(),
        state: UNKNOWN.to_owned(),
        run_length: 0,
        run_started_at: seen.at,
        run_codes: String::new(),
        incident_id: None,
        event_seq: 0,
        changed_at: seen.at,
    });
    let down = next.state == DOWN;
    // A result that agrees with the state ends the run of those that did not.
    if seen.ok != down {
        if next.state == UNKNOWN && seen.ok {
            next.state = UP.to_owned();
            next.changed_at = seen.at;
        }
        if down {
            next.run_codes = with_code(&next.run_codes, seen.code);
        }
        next.run_length = 0;
        if !down {
            next.run_codes.clear();
        }
        return (next, Change::None);
    }
    if next.run_length == 0 {
        next.run_started_at = seen.at;
        next.run_codes = if down {
            String::new()
        } else {
            with_code("", seen.code)
        };
    } else if !down {
        next.run_codes = with_code(&next.run_codes, seen.code);
    }
    next.run_length += 1;
    let needed = if down {
        settings.after_successes
    } else {
        settings.after_failures
    };
    if next.run_length < i64::from(needed) {
        return (next, Change::None);
    }
    next.state = if down { UP } else { DOWN }.to_owned();
    next.changed_at = seen.at;
    next.run_length = 0;
    next.event_seq += 1;
    (
        next,
        if down {
            Change::WentUp
        } else {
            Change::WentDown
        },
    )
}

/// Where a data source's status page is.
pub fn status_link(settings: &AlertSettings, id: &str) -> String {
    let base = settings.base_url.as_deref().unwrap_or("");
    format!("{}/ui/data-source/{id}", base.trim_end_matches('/'))
}

/// `host:port` of a data source, from its configUri (never its password); `None` for SQLite or
/// a configUri that does not parse.
pub fn address(row: &DataSourceRow) -> Option<String> {
    let spec = jackal_drivers::ConnectionSpec::parse(&row.config_uri).ok()?;
    let host = spec.host()?;
    let port = spec.effective_port()?;
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// The data source as every event and `GET /alerts` show it (never a secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertDataSource {
    pub id: String,
    pub alias: Option<String>,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `host:port` from its configUri; `null` for SQLite.
    pub address: Option<String>,
}

impl AlertDataSource {
    pub fn of(row: &DataSourceRow) -> AlertDataSource {
        AlertDataSource {
            id: row.id.as_str().to_owned(),
            alias: row.alias.clone(),
            name: row.name.clone(),
            kind: row.kind.as_str().to_owned(),
            address: address(row),
        }
    }
}

/// The last failed result an incident saw.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentResult {
    pub error_code: Option<String>,
    /// Why it failed, as `/test` says it.
    pub message: Option<String>,
}

/// An incident as events and the API show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    pub id: String,
    /// The first failure of the run that took the data source down.
    #[schema(value_type = String, format = DateTime)]
    pub start: String,
    /// The first success of the run that brought it back up; `null` while open.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<String>,
    /// `end - start`; `null` while open.
    pub duration_seconds: Option<f64>,
    /// Every error code the incident saw, each once.
    pub error_codes: Vec<String>,
    pub last_result: IncidentResult,
}

impl Incident {
    pub fn of(row: &IncidentRow) -> Incident {
        Incident {
            id: row.id.clone(),
            start: render_millis(row.started_at),
            end: row.ended_at.map(render_millis),
            duration_seconds: row
                .ended_at
                .map(|end| (end - row.started_at) as f64 / 1000.0),
            error_codes: row
                .error_codes
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            last_result: IncidentResult {
                error_code: row.last_code.clone(),
                message: row.last_message.clone(),
            },
        }
    }
}

/// The body of a `data_source.down` or `data_source.up` event (docs/alerts.md).
fn event_body(
    event_id: &str,
    kind: &str,
    row: &DataSourceRow,
    incident: &IncidentRow,
    seen: Observation<'_>,
    settings: &AlertSettings,
) -> Value {
    json!({
        "id": event_id,
        "type": kind,
        "occurredAt": render_millis(seen.at),
        "dataSource": AlertDataSource::of(row),
        "incident": Incident::of(incident),
        "lastResult": {
            "success": seen.ok,
            "errorCode": seen.code,
            "message": seen.message,
            "testedAt": render_millis(seen.at),
        },
        "link": status_link(settings, row.id.as_str()),
    })
}

/// Moves data source `row`'s state by the result `seen`, in the transaction that records the
/// result: opens or closes its incident, and puts an event for each channel in the outbox when
/// the state changed.
pub async fn observe(
    tx: &mut dyn Tx,
    alerting: &Alerting,
    row: &DataSourceRow,
    seen: Observation<'_>,
) -> Result<(), AppError> {
    let before = tx.alert_state(&row.id).await?;
    let settings = &alerting.settings;
    let (mut next, change) = step(before.as_ref(), &row.id, seen, settings);
    let open = match &next.incident_id {
        Some(id) => tx.incident(id).await?,
        None => None,
    };
    let incident = match (change, open) {
        (Change::WentDown, _) => {
            let incident = IncidentRow {
                id: uuid::Uuid::new_v4().to_string(),
                data_source_id: row.id.clone(),
                started_at: next.run_started_at,
                ended_at: None,
                error_codes: std::mem::take(&mut next.run_codes),
                last_code: seen.code.map(str::to_owned),
                last_message: seen.message.map(str::to_owned),
            };
            next.incident_id = Some(incident.id.clone());
            Some(incident)
        }
        (Change::WentUp, Some(mut incident)) => {
            incident.ended_at = Some(next.run_started_at);
            next.incident_id = None;
            next.run_codes.clear();
            Some(incident)
        }
        (Change::None, Some(mut incident)) if !seen.ok => {
            incident.error_codes = with_code(&incident.error_codes, seen.code);
            incident.last_code = seen.code.map(str::to_owned);
            incident.last_message = seen.message.map(str::to_owned);
            next.run_codes.clear();
            Some(incident)
        }
        (_, _) => None,
    };
    tx.put_alert_state(&next).await?;
    let Some(incident) = incident else {
        return Ok(());
    };
    tx.put_incident(&incident).await?;
    let kind = match change {
        Change::WentDown => "data_source.down",
        Change::WentUp => "data_source.up",
        Change::None => return Ok(()),
    };
    let event_id = uuid::Uuid::new_v4().to_string();
    let body = event_body(&event_id, kind, row, &incident, seen, settings).to_string();
    for channel in &alerting.channels {
        tx.insert_outbox(&OutboxRow {
            event_id: event_id.clone(),
            channel: channel.clone(),
            data_source_id: row.id.as_str().to_owned(),
            seq: next.event_seq,
            kind: kind.to_owned(),
            body: body.clone(),
            created_at: seen.at,
        })
        .await?;
    }
    Ok(())
}

/// A data source's alert state, as `GET /alerts` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertEntry {
    pub data_source: AlertDataSource,
    /// `up`, `down`, or `unknown` (never tested).
    pub state: String,
    /// When it entered this state; `null` while unknown.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// The open incident, while down.
    pub incident: Option<Incident>,
}

/// Every data source's alert state and open incident, in one read.
pub async fn overview(app: &AppState) -> Result<Vec<AlertEntry>, AppError> {
    let (rows, states, open) = app
        .store
        .read(|tx| {
            Box::pin(async move {
                let rows = tx.data_sources(Page::ALL).await?;
                let states = tx.alert_states().await?;
                let open = tx.open_incidents().await?;
                Ok::<_, AppError>((rows, states, open))
            })
        })
        .await?;
    let states: std::collections::HashMap<_, _> = states
        .into_iter()
        .map(|s| (s.data_source_id.as_str().to_owned(), s))
        .collect();
    let open: std::collections::HashMap<_, _> =
        open.into_iter().map(|i| (i.id.clone(), i)).collect();
    Ok(rows
        .iter()
        .map(|row| {
            let state = states.get(row.id.as_str());
            AlertEntry {
                data_source: AlertDataSource::of(row),
                state: state.map_or(UNKNOWN, |s| s.state.as_str()).to_owned(),
                since: state
                    .filter(|s| s.state != UNKNOWN)
                    .map(|s| render_millis(s.changed_at)),
                incident: state
                    .and_then(|s| s.incident_id.as_ref())
                    .and_then(|id| open.get(id))
                    .map(Incident::of),
            }
        })
        .collect())
}

/// The incidents of the data source `key` names that were open at or after `since` (epoch
/// ms), newest first.
pub async fn incidents(app: &AppState, key: &str, since: i64) -> Result<Vec<Incident>, AppError> {
    let row = data_sources::find(app, key).await?;
    let id = row.id.clone();
    let rows = app
        .store
        .read(move |tx| Box::pin(async move { tx.incidents(&id, since).await }))
        .await?;
    Ok(rows.iter().map(Incident::of).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::DataSourceId;

    fn run(results: &[bool], settings: &AlertSettings) -> Vec<(String, Change)> {
        let id = DataSourceId::stored("ds".to_owned());
        let mut state: Option<AlertStateRow> = None;
        let mut out = Vec::new();
        for (i, ok) in results.iter().enumerate() {
            let seen = Observation {
                ok: *ok,
                code: (!ok).then_some("refused"),
                message: None,
                at: i as i64 * 1000,
            };
            let (next, change) = step(state.as_ref(), &id, seen, settings);
            out.push((next.state.clone(), change));
            state = Some(next);
        }
        out
    }

    #[test]
    fn down_after_failures_in_a_row_and_up_after_successes() {
        let settings = AlertSettings::default();
        let changes: Vec<Change> = run(&[true, false, false, false, true], &settings)
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        assert_eq!(
            changes,
            [
                Change::None,
                Change::None,
                Change::WentDown,
                Change::None,
                Change::WentUp
            ]
        );
    }

    #[test]
    fn flapping_changes_nothing() {
        let settings = AlertSettings::default();
        let states = run(&[true, false, true, false, true, false, true], &settings);
        assert!(states.iter().all(|(s, c)| s == UP && *c == Change::None));
    }

    #[test]
    fn never_tested_then_failing_goes_down_without_ever_being_up() {
        let settings = AlertSettings::default();
        let states = run(&[false, false], &settings);
        assert_eq!(states[0], (UNKNOWN.to_owned(), Change::None));
        assert_eq!(states[1], (DOWN.to_owned(), Change::WentDown));
    }

    #[test]
    fn up_waits_for_after_successes() {
        let settings = AlertSettings {
            after_failures: 1,
            after_successes: 2,
            ..AlertSettings::default()
        };
        let changes: Vec<Change> = run(&[false, true, false, true, true], &settings)
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        assert_eq!(
            changes,
            [
                Change::WentDown,
                Change::None,
                Change::None,
                Change::None,
                Change::WentUp
            ]
        );
    }

    #[test]
    fn codes_are_kept_once_each() {
        assert_eq!(with_code("", Some("refused")), "refused");
        assert_eq!(with_code("refused", Some("refused")), "refused");
        assert_eq!(with_code("refused", Some("timeout")), "refused,timeout");
        assert_eq!(with_code("refused", None), "refused");
    }
}
