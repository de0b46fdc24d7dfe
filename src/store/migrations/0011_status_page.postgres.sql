-- The status page (/ui/).
--
-- ui_session: a browser's sign-in, by the SHA-256 of its cookie's token (the token itself is
-- never stored), for the API key it signed in with. In the store, so that every server of a
-- shared store knows it; each request also checks that the key is still active, so a revoked
-- key's sessions end with it.
--
-- test_report: the last test of each data source as /test answered it (phases, TLS facts,
-- message), for the status page. Shown only while its tested_at is the data source's
-- last_tested_at: a change of destination forgets that outcome, and so this report.

CREATE TABLE ui_session (
    token_sha256 BYTEA PRIMARY KEY,
    api_key_id   TEXT NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX ui_session_expiry ON ui_session (expires_at);

CREATE TABLE test_report (
    data_source_id TEXT PRIMARY KEY REFERENCES data_source (id) ON DELETE CASCADE,
    tested_at      BIGINT NOT NULL,
    report         TEXT NOT NULL
);
