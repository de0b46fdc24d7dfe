-- The periodic tests' claims ([monitor] interval): a server runs a data source's test for one
-- period only if it inserted this row first, so with several servers on one store each periodic
-- test runs on exactly one. Old periods are deleted as new ones start.

CREATE TABLE monitor_claim (
    data_source_id TEXT NOT NULL REFERENCES data_source (id) ON DELETE CASCADE,
    period         INTEGER NOT NULL,
    PRIMARY KEY (data_source_id, period)
) STRICT;
