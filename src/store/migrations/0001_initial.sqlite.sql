-- Numbered migrations run in order at start; PRAGMA user_version records how many have run.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE api_key (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
) STRICT;

-- seq keeps lists oldest first without sorting on text.
CREATE TABLE data_source (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    alias        TEXT UNIQUE,
    type         TEXT NOT NULL,
    -- normalized configUri with the password removed; the password lives only in password_enc
    config_uri   TEXT NOT NULL,
    password_enc BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
