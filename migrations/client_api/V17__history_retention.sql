-- V17: the change history's retention: how long entries are kept is the owner's setting, kept in the database, and
-- the service applies it on a schedule.
--
-- client_api.purge_history() (V10) runs only as the owner, so that the service can never shorten its own audit
-- trail; nobody ran it on a schedule. Here the owner states the retention once (client_api.change_history_retention,
-- a single row that only the owner can change: the service role has DML on every table, the guard below refuses
-- it), and client_api.purge_history_by_retention(batch_size), SECURITY DEFINER, lets the service delete what that
-- setting allows and nothing more: it takes no interval. The service calls it in batches on a schedule
-- (PCC_HISTORY_PURGE_INTERVAL_MS); several pods at once are harmless (each batch deletes the oldest entries, and
-- a second caller finds fewer). Without a retention (keep NULL, the default) nothing is ever purged.
--
-- Setting it, as the owner (the migrator SET ROLE, or a person granted the owner role):
--     SELECT client_api.set_history_retention(interval '7 years');   -- NULL: keep everything
-- The row keeps who set it last and when (set_by, set_at); each purge is recorded in change_history_purge (V10).

CREATE TABLE client_api.change_history_retention (
    singleton boolean     NOT NULL DEFAULT true,
    -- Entries changed longer ago than this are purged; NULL: kept for ever.
    keep      interval,
    set_at    timestamptz NOT NULL DEFAULT now(),
    set_by    text        NOT NULL DEFAULT client_api.current_actor(),
    CONSTRAINT change_history_retention_pkey PRIMARY KEY (singleton),
    CONSTRAINT change_history_retention_single_row CHECK (singleton),
    CONSTRAINT change_history_retention_keep_positive CHECK (keep > interval '0'),
    CONSTRAINT change_history_retention_set_by_clean CHECK (client_api.is_clean_text(set_by, 200))
);
COMMENT ON TABLE client_api.change_history_retention IS
    'How long the change history is kept (keep; NULL: for ever). Only the owner changes it; the service applies it.';
INSERT INTO client_api.change_history_retention (keep) VALUES (NULL);

-- Only the owner writes the setting (whoever else asks gets PC006, as for the history itself).
CREATE FUNCTION client_api.tg_change_history_retention_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID)
       IS DISTINCT FROM current_user THEN
        RAISE EXCEPTION 'the change history''s retention is set by the owner of %, not by %', TG_TABLE_NAME, current_user
            USING ERRCODE = 'PC006', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                  CONSTRAINT = 'change_history_retention_owner_only',
                  HINT = 'SET ROLE to the schema owner and call client_api.set_history_retention()';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the retention row cannot be deleted (set keep to NULL to keep everything)'
            USING ERRCODE = 'PC006', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                  CONSTRAINT = 'change_history_retention_single_row';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.set_at := pg_catalog.now();
        NEW.set_by := client_api.current_actor();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER change_history_retention_guard BEFORE INSERT OR UPDATE OR DELETE
    ON client_api.change_history_retention
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_change_history_retention_guard();
CREATE TRIGGER change_history_retention_no_truncate BEFORE TRUNCATE ON client_api.change_history_retention
    FOR EACH STATEMENT EXECUTE FUNCTION client_api.tg_reject_history_change();

-- Sets the retention (as the owner; the guard refuses anyone else); returns the previous one.
CREATE FUNCTION client_api.set_history_retention(keep interval) RETURNS interval
    LANGUAGE plpgsql
    AS $$
DECLARE
    previous interval;
BEGIN
    SELECT r.keep INTO previous FROM client_api.change_history_retention AS r FOR UPDATE;
    UPDATE client_api.change_history_retention AS r SET keep = set_history_retention.keep;
    RETURN previous;
END
$$;

-- Purges up to batch_size of the oldest entries older than the owner's retention, as the owner; returns how many
-- (0 without a retention). The service's scheduled call: it names no interval, so it cannot purge more.
CREATE FUNCTION client_api.purge_history_by_retention(batch_size integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    kept interval;
BEGIN
    SELECT r.keep INTO kept FROM client_api.change_history_retention AS r;
    IF kept IS NULL THEN
        RETURN 0;
    END IF;
    RETURN client_api.purge_history(kept, batch_size);
END
$$;
COMMENT ON FUNCTION client_api.purge_history_by_retention(integer) IS
    'Purges the change history older than the owner''s retention (client_api.change_history_retention), oldest first.';
