-- People, roles, memberships and time-limited permissions. Deleting a data source, person or
-- role removes its memberships and permissions through the foreign keys, in the same transaction.

CREATE TABLE person (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    -- the email lowercased: emails are unique and matched case-insensitively
    email_key  TEXT NOT NULL UNIQUE,
    username   TEXT NOT NULL UNIQUE,
    is_locked  INTEGER NOT NULL DEFAULT 0,
    two_factor INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE role (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE role_data_source (
    role_id        TEXT NOT NULL REFERENCES role (id) ON DELETE CASCADE,
    data_source_id TEXT NOT NULL REFERENCES data_source (id) ON DELETE CASCADE,
    assigned_at    INTEGER NOT NULL,
    PRIMARY KEY (role_id, data_source_id)
) STRICT;
CREATE INDEX role_data_source_by_data_source ON role_data_source (data_source_id);

CREATE TABLE role_person (
    role_id     TEXT NOT NULL REFERENCES role (id) ON DELETE CASCADE,
    person_id   TEXT NOT NULL REFERENCES person (id) ON DELETE CASCADE,
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (role_id, person_id)
) STRICT;
CREATE INDEX role_person_by_person ON role_person (person_id);

-- AUTOINCREMENT: a permission id is never reused, even after the newest one is deleted.
CREATE TABLE permission (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id      TEXT NOT NULL REFERENCES person (id) ON DELETE CASCADE,
    data_source_id TEXT NOT NULL REFERENCES data_source (id) ON DELETE CASCADE,
    starts_at      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX permission_by_person ON permission (person_id, data_source_id);
CREATE INDEX permission_by_data_source ON permission (data_source_id);
