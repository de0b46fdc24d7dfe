-- People, roles, memberships and time-limited permissions. Deleting a data source, person or
-- role removes its memberships and permissions through the foreign keys, in the same
-- transaction, whichever server deletes it.

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
