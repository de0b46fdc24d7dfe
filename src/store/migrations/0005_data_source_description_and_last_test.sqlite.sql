-- A data source's description (set through either dialect; '' when none) and the outcome of its
-- last connection test or introspection (NULL: none on record, or purged). The Mode dialect's
-- `queryable` is `last_test_ok = 1`.

ALTER TABLE data_source ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE data_source ADD COLUMN last_test_ok INTEGER CHECK (last_test_ok IN (0, 1));
ALTER TABLE data_source ADD COLUMN last_tested_at INTEGER;
