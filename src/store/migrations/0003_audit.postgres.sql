-- The audit trail: every change, password read and connection test, append-only.

CREATE TABLE audit_event (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    -- the API key that acted; NULL for the command line
    api_key_id  TEXT,
    client_addr TEXT,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    -- a JSON object of what changed, with secrets removed
    changes     TEXT NOT NULL
);
CREATE INDEX audit_event_by_object ON audit_event (object_id, id);
CREATE INDEX audit_event_by_time ON audit_event (at);

CREATE FUNCTION audit_event_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_event_is_append_only_row BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_is_append_only();
CREATE TRIGGER audit_event_is_append_only_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_is_append_only();
