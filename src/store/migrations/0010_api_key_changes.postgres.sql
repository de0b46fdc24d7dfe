-- Servers keep API keys in memory; they must learn of a change made by any process (`jackal
-- api-key revoke`, another server) at once. Every change of api_key, whoever makes it, notifies
-- the channel jackal_api_key when it commits; each server LISTENs on a connection of its own.

CREATE FUNCTION jackal_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jackal_api_key', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER api_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_key
    FOR EACH STATEMENT EXECUTE FUNCTION jackal_api_key_changed();
