-- The whole schema of SQLite migrations 1 to 3, in PostgreSQL's types. Numbered migrations run
-- in order at start; jackal_schema records how many have run.

CREATE TABLE jackal_schema (
    version BIGINT NOT NULL
);
INSERT INTO jackal_schema (version) VALUES (0);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE api_key (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_sha256 BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

-- seq keeps lists oldest first; identity values are never reused.
CREATE TABLE data_source (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL CONSTRAINT data_source_id_unique UNIQUE,
    name         TEXT NOT NULL,
    alias        TEXT CONSTRAINT data_source_alias_unique UNIQUE,
    type         TEXT NOT NULL,
    -- normalized configUri with the password removed; the password lives only in password_enc
    config_uri   TEXT NOT NULL,
    password_enc BYTEA,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE person (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL CONSTRAINT person_id_unique UNIQUE,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    -- the email lowercased: emails are unique and matched case-insensitively
    email_key  TEXT NOT NULL CONSTRAINT person_email_unique UNIQUE,
    username   TEXT NOT NULL CONSTRAINT person_username_unique UNIQUE,
    is_locked  BOOLEAN NOT NULL DEFAULT false,
    two_factor BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL
);

CREATE TABLE role (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL CONSTRAINT role_id_unique UNIQUE,
    name       TEXT NOT NULL CONSTRAINT role_name_unique UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Deleting a data source, person or role removes its memberships and permissions through the
-- foreign keys, in the same transaction, whichever server deletes it.
CREATE TABLE role_data_source (
    role_id        TEXT NOT NULL REFERENCES role (id) ON DELETE CASCADE,
    data_source_id TEXT NOT NULL REFERENCES data_source (id) ON DELETE CASCADE,
    assigned_at    BIGINT NOT NULL,
    PRIMARY KEY (role_id, data_source_id)
);
CREATE INDEX role_data_source_by_data_source ON role_data_source (data_source_id);

CREATE TABLE role_person (
    role_id     TEXT NOT NULL REFERENCES role (id) ON DELETE CASCADE,
    person_id   TEXT NOT NULL REFERENCES person (id) ON DELETE CASCADE,
    assigned_at BIGINT NOT NULL,
    PRIMARY KEY (role_id, person_id)
);
CREATE INDEX role_person_by_person ON role_person (person_id);

CREATE TABLE permission (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id      TEXT NOT NULL REFERENCES person (id) ON DELETE CASCADE,
    data_source_id TEXT NOT NULL REFERENCES data_source (id) ON DELETE CASCADE,
    starts_at      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX permission_by_person ON permission (person_id, data_source_id);
CREATE INDEX permission_by_data_source ON permission (data_source_id);

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
