//! The alerts' rows (`[alerts]`, docs/alerts.md): each data source's state, its incidents, and
//! the outbox of events with each delivery attempt. SQL written once for both backends, as in
//! `rows.rs`; the rules (when a state changes, what an event says) are in `crate::app::alerts`.

use super::tx::{params, Param, Record, Tx};
use super::StoreError;
use crate::domain::ids::DataSourceId;

/// A tested data source's alert state (`alert_state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertStateRow {
    pub data_source_id: DataSourceId,
    /// `up` or `down`.
    pub state: String,
    /// How many results in a row disagree with `state` (failures while up, successes while
    /// down); 0 when the last one agreed.
    pub run_length: i64,
    /// When that run began.
    pub run_started_at: i64,
    /// The error codes the run saw, comma-separated, each once.
    pub run_codes: String,
    /// The open incident, while down.
    pub incident_id: Option<String>,
    /// The number of the data source's last event: its events are delivered in this order.
    pub event_seq: i64,
    /// When `state` last changed (or was first set).
    pub changed_at: i64,
}

/// A time a data source was down (`incident`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: String,
    pub data_source_id: DataSourceId,
    /// The first failure of the run that took it down.
    pub started_at: i64,
    /// The first success of the run that brought it back up; `None` while open.
    pub ended_at: Option<i64>,
    /// The error codes seen, comma-separated, each once.
    pub error_codes: String,
    pub last_code: Option<String>,
    pub last_message: Option<String>,
}

/// An event for one channel, as it enters the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub event_id: String,
    pub channel: String,
    pub data_source_id: String,
    pub seq: i64,
    pub kind: String,
    pub body: String,
    pub created_at: i64,
}

/// An outbox row a sender claimed: deliver it before `claimed_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedEvent {
    pub event_id: String,
    pub channel: String,
    pub body: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub channel: String,
    pub at: i64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i64>,
    /// Why it failed; `None` when delivered.
    pub error: Option<String>,
    /// When to try again; `None` when delivered or given up.
    pub retry_at: Option<i64>,
}

const STATE_COLUMNS: &str = "data_source_id, state, run_length, run_started_at, run_codes, \
     incident_id, event_seq, changed_at";

fn state(mut r: Record) -> Result<AlertStateRow, StoreError> {
    Ok(AlertStateRow {
        data_source_id: DataSourceId::stored(r.text(0)?),
        state: r.text(1)?,
        run_length: r.int(2)?,
        run_started_at: r.int(3)?,
        run_codes: r.text(4)?,
        incident_id: r.opt_text(5)?,
        event_seq: r.int(6)?,
        changed_at: r.int(7)?,
    })
}

const INCIDENT_COLUMNS: &str =
    "id, data_source_id, started_at, ended_at, error_codes, last_code, last_message";

fn incident(mut r: Record) -> Result<IncidentRow, StoreError> {
    Ok(IncidentRow {
        id: r.text(0)?,
        data_source_id: DataSourceId::stored(r.text(1)?),
        started_at: r.int(2)?,
        ended_at: r.opt_int(3)?,
        error_codes: r.text(4)?,
        last_code: r.opt_text(5)?,
        last_message: r.opt_text(6)?,
    })
}

impl dyn Tx + '_ {
    /// The alert state of data source `id`; `None` while it was never tested.
    pub async fn alert_state(
        &mut self,
        id: &DataSourceId,
    ) -> Result<Option<AlertStateRow>, StoreError> {
        let sql = format!("SELECT {STATE_COLUMNS} FROM alert_state WHERE data_source_id = $1");
        let records = self.query(&sql, &params![id.as_str()]).await?;
        records.into_iter().next().map(state).transpose()
    }

    /// Every tested data source's alert state.
    pub async fn alert_states(&mut self) -> Result<Vec<AlertStateRow>, StoreError> {
        let sql = format!("SELECT {STATE_COLUMNS} FROM alert_state ORDER BY data_source_id");
        let records = self.query(&sql, &[]).await?;
        records.into_iter().map(state).collect()
    }

    pub async fn put_alert_state(&mut self, row: &AlertStateRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO alert_state (data_source_id, state, run_length, run_started_at, \
             run_codes, incident_id, event_seq, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (data_source_id) DO UPDATE SET state = excluded.state, \
             run_length = excluded.run_length, run_started_at = excluded.run_started_at, \
             run_codes = excluded.run_codes, incident_id = excluded.incident_id, \
             event_seq = excluded.event_seq, changed_at = excluded.changed_at",
            &params![
                row.data_source_id.as_str(),
                &row.state,
                row.run_length,
                row.run_started_at,
                &row.run_codes,
                row.incident_id.as_deref(),
                row.event_seq,
                row.changed_at
            ],
        )
        .await
        .map(drop)
    }

    /// Inserts `row`, or updates its end, codes and last result.
    pub async fn put_incident(&mut self, row: &IncidentRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO incident (id, data_source_id, started_at, ended_at, error_codes, \
             last_code, last_message) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, \
             error_codes = excluded.error_codes, last_code = excluded.last_code, \
             last_message = excluded.last_message",
            &params![
                &row.id,
                row.data_source_id.as_str(),
                row.started_at,
                row.ended_at,
                &row.error_codes,
                row.last_code.as_deref(),
                row.last_message.as_deref()
            ],
        )
        .await
        .map(drop)
    }

    pub async fn incident(&mut self, id: &str) -> Result<Option<IncidentRow>, StoreError> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incident WHERE id = $1");
        let records = self.query(&sql, &params![id]).await?;
        records.into_iter().next().map(incident).transpose()
    }

    /// Every open incident.
    pub async fn open_incidents(&mut self) -> Result<Vec<IncidentRow>, StoreError> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incident WHERE ended_at IS NULL");
        let records = self.query(&sql, &[]).await?;
        records.into_iter().map(incident).collect()
    }

    /// Data source `id`'s incidents open at or after `since` (epoch ms), newest first.
    pub async fn incidents(
        &mut self,
        id: &DataSourceId,
        since: i64,
    ) -> Result<Vec<IncidentRow>, StoreError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incident WHERE data_source_id = $1 \
             AND (ended_at IS NULL OR ended_at >= $2) ORDER BY started_at DESC"
        );
        let records = self.query(&sql, &params![id.as_str(), since]).await?;
        records.into_iter().map(incident).collect()
    }

    // ---- the outbox ----

    pub async fn insert_outbox(&mut self, row: &OutboxRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO alert_outbox (event_id, channel, data_source_id, seq, kind, body, \
             created_at, attempts, next_attempt_at, claimed_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7, 0)",
            &params![
                &row.event_id,
                &row.channel,
                &row.data_source_id,
                row.seq,
                &row.kind,
                &row.body,
                row.created_at
            ],
        )
        .await
        .map(drop)
    }

    /// Claims up to `limit` events of `channels` due at `now` for `claimant` until `until`: of
    /// each data source and channel, only the oldest event not yet delivered or given up (so
    /// they go out in order). Each claim is one `UPDATE` that checks the row is still
    /// unclaimed, so with several servers on one store exactly one of them gets it.
    pub async fn claim_outbox(
        &mut self,
        channels: &[String],
        now: i64,
        until: i64,
        claimant: &str,
        limit: i64,
    ) -> Result<Vec<ClaimedEvent>, StoreError> {
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        // Only the channels this server sends to: a server configured without one leaves its
        // events to the servers that have it.
        let placeholders: Vec<String> = (3..3 + channels.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT o.event_id, o.channel FROM alert_outbox o \
             WHERE o.delivered_at IS NULL AND o.given_up_at IS NULL \
             AND o.next_attempt_at <= $1 AND o.claimed_until <= $1 \
             AND o.channel IN ({}) \
             AND NOT EXISTS (SELECT 1 FROM alert_outbox p WHERE p.channel = o.channel \
              AND p.data_source_id = o.data_source_id AND p.delivered_at IS NULL \
              AND p.given_up_at IS NULL AND p.seq < o.seq) \
             ORDER BY o.created_at, o.seq LIMIT $2",
            placeholders.join(", ")
        );
        let mut bound = vec![Param::from(now), Param::from(limit)];
        bound.extend(channels.iter().map(Param::from));
        let due = self.query(&sql, &bound).await?;
        let mut claimed = Vec::new();
        for mut r in due {
            let (event_id, channel) = (r.text(0)?, r.text(1)?);
            let got = self
                .query(
                    "UPDATE alert_outbox SET claimed_until = $3, claimed_by = $4 \
                     WHERE event_id = $1 AND channel = $2 AND claimed_until <= $5 \
                     AND delivered_at IS NULL AND given_up_at IS NULL \
                     RETURNING body, attempts, created_at",
                    &params![&event_id, &channel, until, claimant, now],
                )
                .await?;
            if let Some(mut r) = got.into_iter().next() {
                claimed.push(ClaimedEvent {
                    body: r.text(0)?,
                    attempts: r.int(1)?,
                    created_at: r.int(2)?,
                    event_id,
                    channel,
                });
            }
        }
        Ok(claimed)
    }

    /// Records `attempt` and ends the claim: delivered, retried at `retry_at`, or given up
    /// (no `retry_at` and an error). Only the claimant's claim is ended.
    pub async fn finish_delivery(
        &mut self,
        attempt: &DeliveryAttempt,
        claimant: &str,
    ) -> Result<(), StoreError> {
        let (delivered, given_up) = match (&attempt.error, attempt.retry_at) {
            (None, _) => (Some(attempt.at), None),
            (Some(_), Some(_)) => (None, None),
            (Some(_), None) => (None, Some(attempt.at)),
        };
        self.execute(
            "UPDATE alert_outbox SET attempts = attempts + 1, claimed_until = 0, \
             delivered_at = $3, given_up_at = $4, next_attempt_at = $5, last_error = $6 \
             WHERE event_id = $1 AND channel = $2 AND claimed_by = $7",
            &params![
                &attempt.event_id,
                &attempt.channel,
                delivered,
                given_up,
                attempt.retry_at.unwrap_or(attempt.at),
                attempt.error.as_deref(),
                claimant
            ],
        )
        .await?;
        self.execute(
            "INSERT INTO alert_attempt (event_id, channel, at, status, error) \
             VALUES ($1, $2, $3, $4, $5)",
            &params![
                &attempt.event_id,
                &attempt.channel,
                attempt.at,
                attempt.status,
                attempt.error.as_deref()
            ],
        )
        .await
        .map(drop)
    }

    /// How many events wait for delivery (not delivered, not given up).
    pub async fn outbox_backlog(&mut self) -> Result<i64, StoreError> {
        let records = self
            .query(
                "SELECT COUNT(*) FROM alert_outbox \
                 WHERE delivered_at IS NULL AND given_up_at IS NULL",
                &[],
            )
            .await?;
        match records.into_iter().next() {
            Some(mut r) => r.int(0),
            None => Ok(0),
        }
    }
}
