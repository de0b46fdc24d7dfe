-- The last schema snapshot of each data source (POST /data-source/:ds/schema), removed with it.

CREATE TABLE schema_snapshot (
    data_source_id TEXT PRIMARY KEY REFERENCES data_source (id) ON DELETE CASCADE,
    fetched_at     INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    -- the snapshot as JSON: schemas, their tables and views, and their columns
    snapshot       TEXT NOT NULL
) STRICT;
