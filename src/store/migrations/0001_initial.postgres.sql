-- Numbered migrations run in order at start, the same numbers on both stores (this file's
-- SQLite twin is 0001_initial.sqlite.sql); jackal_schema records how many have run.
-- `sequence` marks the shared numbering: stores made before it counted 3 migrations for
-- what is now 5 (see postgres/migrations.rs).

CREATE TABLE jackal_schema (
    version  BIGINT NOT NULL,
    sequence TEXT NOT NULL DEFAULT 'shared'
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
