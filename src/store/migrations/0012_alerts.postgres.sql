-- Alerts ([alerts], docs/alerts.md).
--
-- alert_state: each tested data source's state (`up` or `down`; no row is `unknown`), the
-- current run of results that disagree with it (its length, its first result's time, the error
-- codes it saw), the open incident and the number of its last event (events of one data source
-- are delivered in this order). Written in the transaction that records a test result.
--
-- incident: a time a data source was down, from the first failure of the run that took it down
-- to the first success of the run that brought it up.
--
-- alert_outbox: one row per event and channel, inserted in the same transaction as the state
-- change. A sender claims a row by moving claimed_until past now (one statement, so one server
-- wins); delivered_at or given_up_at ends it. alert_attempt: each delivery attempt.

CREATE TABLE alert_state (
    data_source_id TEXT PRIMARY KEY REFERENCES data_source (id) ON DELETE CASCADE,
    state          TEXT NOT NULL,
    run_length     BIGINT NOT NULL,
    run_started_at BIGINT NOT NULL,
    run_codes      TEXT NOT NULL,
    incident_id    TEXT,
    event_seq      BIGINT NOT NULL,
    changed_at     BIGINT NOT NULL
);

CREATE TABLE incident (
    id             TEXT PRIMARY KEY,
    data_source_id TEXT NOT NULL REFERENCES data_source (id) ON DELETE CASCADE,
    started_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    error_codes    TEXT NOT NULL,
    last_code      TEXT,
    last_message   TEXT
);
CREATE INDEX incident_by_data_source ON incident (data_source_id, started_at DESC);

CREATE TABLE alert_outbox (
    event_id       TEXT NOT NULL,
    channel        TEXT NOT NULL,
    data_source_id TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    attempts       BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until  BIGINT NOT NULL,
    claimed_by     TEXT,
    delivered_at   BIGINT,
    given_up_at    BIGINT,
    last_error     TEXT,
    PRIMARY KEY (event_id, channel)
);
CREATE INDEX alert_outbox_pending ON alert_outbox (channel, data_source_id, seq)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;

CREATE TABLE alert_attempt (
    event_id   TEXT NOT NULL,
    channel    TEXT NOT NULL,
    at         BIGINT NOT NULL,
    status     BIGINT,
    error      TEXT
);
CREATE INDEX alert_attempt_by_event ON alert_attempt (event_id, channel);
