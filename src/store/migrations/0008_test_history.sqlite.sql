-- Each data source's recent test results (by hand, fleet runs, introspections), newest kept:
-- GET /data-source/:ds/test-history. Removed with the data source.

CREATE TABLE test_history (
    data_source_id TEXT NOT NULL REFERENCES data_source (id) ON DELETE CASCADE,
    tested_at      INTEGER NOT NULL,
    success        INTEGER NOT NULL,
    error_code     TEXT,
    duration_us    INTEGER NOT NULL,
    product_name   TEXT,
    product_version TEXT
) STRICT;
CREATE INDEX test_history_newest ON test_history (data_source_id, tested_at DESC);
