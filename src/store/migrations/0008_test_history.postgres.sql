-- Each data source's recent test results (by hand, fleet runs, introspections), newest kept:
-- GET /data-source/:ds/test-history. Removed with the data source.

CREATE TABLE test_history (
    data_source_id TEXT NOT NULL REFERENCES data_source (id) ON DELETE CASCADE,
    tested_at      BIGINT NOT NULL,
    success        BOOLEAN NOT NULL,
    error_code     TEXT,
    duration_us    BIGINT NOT NULL,
    product_name   TEXT,
    product_version TEXT
);
CREATE INDEX test_history_newest ON test_history (data_source_id, tested_at DESC);
