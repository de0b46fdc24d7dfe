-- The audit trail: every change, password read and connection test, append-only.

CREATE TABLE audit_event (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    -- the API key that acted; NULL for the command line
    api_key_id  TEXT,
    client_addr TEXT,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    -- a JSON object of what changed, with secrets removed
    changes     TEXT NOT NULL
) STRICT;
CREATE INDEX audit_event_by_object ON audit_event (object_id, id);
CREATE INDEX audit_event_by_time ON audit_event (at);

CREATE TRIGGER audit_event_is_append_only_update BEFORE UPDATE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_event_is_append_only_delete BEFORE DELETE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
