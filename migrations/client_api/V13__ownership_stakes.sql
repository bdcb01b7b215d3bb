-- V13: the parent's ownership stake on a client's parent link, for roll-ups weighted by effective ownership.
--
-- The hierarchy has one parent per client (client.parent_id, V3), so a company has at most one holder in the
-- model and "the stakes of its parents must not exceed 100 %" is the single-row rule 0 < percent <= 100: a check
-- constraint, with no cross-row sum to serialize. (Several holders would need a link table and a sum kept under a
-- lock of the held company; not this model.) The stake sits next to parent_id, as three nullable columns:
--
--   ownership_percent        numeric  the parent's share of the client, 0 < p <= 100, at most 4 decimals
--   ownership_effective_from date     since when it holds that share (from 1900-01-01, not in the future)
--   ownership_holder_id      uuid     the parent the stake was recorded for (always parent_id while set)
--
-- The holder makes a move exact: a stake belongs to one parent link, so when parent_id changes and the same
-- statement does not record a stake for the new parent (holder = the new parent_id), the old stake is cleared
-- (trigger below) instead of passing for the new parent's. move_client() and plain UPDATEs therefore need no
-- change. Existing rows have no stake (NULL): what a link without one weighs is the report's decision
-- (docs/API.md: it counts as 100 %).
--
-- Expand-only: nullable columns without defaults (no rewrite), constraints NOT VALID (they hold for the NULLs of
-- every existing row; a later migration may VALIDATE them without blocking writes), one more BEFORE trigger.
-- client_as_of() (V10) and the change history pick the new columns up by themselves (catalog-driven).

ALTER TABLE client_api.client
    ADD COLUMN ownership_percent        numeric,
    ADD COLUMN ownership_effective_from date,
    ADD COLUMN ownership_holder_id      uuid;

ALTER TABLE client_api.client
    ADD CONSTRAINT client_ownership_complete CHECK (
        (ownership_percent IS NULL) = (ownership_effective_from IS NULL)
        AND (ownership_percent IS NULL) = (ownership_holder_id IS NULL)) NOT VALID,
    ADD CONSTRAINT client_ownership_percent_range CHECK (
        ownership_percent > 0 AND ownership_percent <= 100
        AND pg_catalog.scale(pg_catalog.trim_scale(ownership_percent)) <= 4) NOT VALID,
    ADD CONSTRAINT client_ownership_effective_from_range CHECK (ownership_effective_from >= DATE '1900-01-01')
        NOT VALID,
    -- A stake is the parent's: a root has none, and it never names another client than the parent.
    ADD CONSTRAINT client_ownership_holder_is_parent CHECK (ownership_holder_id = parent_id) NOT VALID;
COMMENT ON COLUMN client_api.client.ownership_percent IS
    'The parent''s ownership of this client in percent (0 < p <= 100); NULL: not recorded.';
COMMENT ON COLUMN client_api.client.ownership_holder_id IS
    'The parent the stake was recorded for; a move that does not restate the stake clears it.';

-- BEFORE INSERT OR UPDATE on client (fires before client_before_write: triggers run in name order, so the
-- version and audit stamping there see the stake as it ends up).
CREATE FUNCTION client_api.tg_client_ownership() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- A move that leaves the old parent's stake in place: the new link has no recorded stake.
    IF TG_OP = 'UPDATE' AND NEW.parent_id IS DISTINCT FROM OLD.parent_id AND NEW.ownership_holder_id IS NOT NULL
       AND NEW.ownership_holder_id IS NOT DISTINCT FROM OLD.ownership_holder_id THEN
        NEW.ownership_percent := NULL;
        NEW.ownership_effective_from := NULL;
        NEW.ownership_holder_id := NULL;
    END IF;
    -- A stake newly recorded (or changed) must already be in effect: the model holds the current stake only, so
    -- a future one would stand for a share that is not held yet. Today is the UTC date of the transaction.
    IF NEW.ownership_effective_from IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.ownership_effective_from IS DISTINCT FROM OLD.ownership_effective_from
            OR NEW.ownership_percent IS DISTINCT FROM OLD.ownership_percent)
       AND NEW.ownership_effective_from > (pg_catalog.now() AT TIME ZONE 'UTC')::date THEN
        RAISE EXCEPTION 'ownership effective_from % is in the future', NEW.ownership_effective_from
            USING ERRCODE = 'check_violation', SCHEMA = 'client_api', TABLE = 'client',
                  COLUMN = 'ownership_effective_from', CONSTRAINT = 'client_ownership_effective_from_not_future';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER client_before_ownership BEFORE INSERT OR UPDATE ON client_api.client
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_client_ownership();
