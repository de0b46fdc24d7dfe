-- Servers keep API keys in memory; they must learn of a change made by any process (`jackal
-- api-key revoke`, another server) at once. Every change of api_key moves this counter, by
-- trigger, so a change made by hand in the file is seen too. A server watches it with
-- `PRAGMA data_version` and reads it when the file changed.

CREATE TABLE api_key_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO api_key_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER api_key_inserted AFTER INSERT ON api_key
BEGIN
    UPDATE api_key_generation SET generation = generation + 1;
END;
CREATE TRIGGER api_key_updated AFTER UPDATE ON api_key
BEGIN
    UPDATE api_key_generation SET generation = generation + 1;
END;
CREATE TRIGGER api_key_deleted AFTER DELETE ON api_key
BEGIN
    UPDATE api_key_generation SET generation = generation + 1;
END;
