-- V12: erasure of a contact's personal data (GDPR art. 17, "right to erasure").
--
-- client_api.erase_contact() replaces the personal fields of a contact (given_name, family_name, email, phone,
-- job_title: everything of V7 that identifies a person) with a fixed marker or NULL, keeps the row, its id and
-- its links to clients, records who erased it, when and why (erased_at, erased_by, erasure_reason), scrubs the
-- erased values from the change history (the contact's entries stay, with every old and new value of a personal
-- field replaced by the marker), and deletes the stored idempotent responses that copied the contact, all in the
-- caller's transaction. It is SECURITY DEFINER: the only path allowed to rewrite history rows; the append-only
-- guard of V10 (replaced below with one more branch) refuses every other UPDATE as before.
--
-- Nothing can undo it (docs/SCHEMA.md, "Erasure"): erased_at is set only by erase_contact(), never cleared; an
-- erased contact's row accepts only a soft delete or restore (deleted_at) afterwards, so its personal fields
-- cannot be written again (PC015); a new link to it is refused (PC015); its existing links may still end or go.
-- Erasing twice is no change: the second call returns the row as the first left it.
--
-- Expand-only: three nullable columns, constraints NOT VALID (every existing row has NULL in the new columns, so
-- they hold; a later migration may VALIDATE them without blocking writes), new functions and triggers, and a
-- CREATE OR REPLACE of the history guard that keeps all it allowed and refused before, and statistics target 0 on
-- the personal columns (planner statistics would keep copies of their values; see the end of this file).
--
-- New SQLSTATE: PC015 the contact is erased (its personal data cannot be written again).

ALTER TABLE client_api.contact
    ADD COLUMN erased_at      timestamptz,
    ADD COLUMN erased_by      text,
    ADD COLUMN erasure_reason text;

ALTER TABLE client_api.contact
    ADD CONSTRAINT contact_erasure_complete CHECK (
        (erased_at IS NULL) = (erased_by IS NULL) AND (erased_at IS NULL) = (erasure_reason IS NULL)) NOT VALID,
    ADD CONSTRAINT contact_erased_by_clean CHECK (client_api.is_clean_text(erased_by, 200)) NOT VALID,
    ADD CONSTRAINT contact_erasure_reason_clean CHECK (client_api.is_clean_text(erasure_reason, 500)) NOT VALID,
    -- An erased row holds no personal data: the marker in the one required name, NULL in the rest.
    ADD CONSTRAINT contact_erased_scrubbed CHECK (
        erased_at IS NULL
        OR (family_name = '[erased]' AND given_name IS NULL AND email IS NULL AND phone IS NULL AND job_title IS NULL))
        NOT VALID;
COMMENT ON COLUMN client_api.contact.erased_at IS
    'When the personal data was erased (client_api.erase_contact); NULL while it is held. Never cleared.';
COMMENT ON COLUMN client_api.contact.erasure_reason IS 'Why it was erased (e.g. the data subject''s request).';

-- The personal fields of a contact and the marker that replaces their values, in the row and in the history.
CREATE FUNCTION client_api.contact_personal_fields() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['given_name', 'family_name', 'email', 'phone', 'job_title'] $$;
CREATE FUNCTION client_api.erased_marker() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT '[erased]'::text $$;

-- True inside client_api.erase_contact() of this contact: the transaction-local setting it sets for its own
-- writes *and* the owner's rights (the setting alone is one anyone can set; the service role is never the owner,
-- and the function runs as the owner because it is SECURITY DEFINER).
CREATE FUNCTION client_api.in_contact_erasure(relid oid, contact_id uuid) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
    SELECT COALESCE(pg_catalog.current_setting('pcc.contact_erasure', true), '') = contact_id::text
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                    WHERE c.oid = relid AND c.relowner = (SELECT r.oid FROM pg_catalog.pg_roles AS r
                                                           WHERE r.rolname = current_user))
    $$;

-- The changes of a history entry with every non-null old / new value of a personal field replaced by the marker
-- (JSON null stays null: "there was no value" identifies nobody). Other fields are kept as they are.
CREATE FUNCTION client_api.scrub_personal_changes(changes jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT COALESCE(pg_catalog.jsonb_object_agg(e.key, CASE
               WHEN e.key = ANY (client_api.contact_personal_fields()) THEN pg_catalog.jsonb_build_object(
                   'old', CASE WHEN e.value -> 'old' = 'null'::jsonb THEN 'null'::jsonb
                               ELSE pg_catalog.to_jsonb(client_api.erased_marker()) END,
                   'new', CASE WHEN e.value -> 'new' = 'null'::jsonb THEN 'null'::jsonb
                               ELSE pg_catalog.to_jsonb(client_api.erased_marker()) END)
               ELSE e.value END), '{}'::jsonb)
      FROM pg_catalog.jsonb_each(changes) AS e
    $$;

-- ---------------------------------------------------------------------------------------------------------------------
-- BEFORE INSERT OR UPDATE on contact (fires before contact_before_1_soft_delete: triggers run in name order).
-- erased_* are written only by erase_contact(); an erased row afterwards changes only by soft delete / restore.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.tg_contact_erasure_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    kept constant text[] := ARRAY['deleted_at', 'deleted_by', 'version', 'created_at', 'created_by', 'updated_at',
                                  'updated_by'];
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.erased_at IS NOT NULL OR NEW.erased_by IS NOT NULL OR NEW.erasure_reason IS NOT NULL THEN
            RAISE EXCEPTION 'a contact is erased only by client_api.erase_contact()'
                USING ERRCODE = 'PC015', SCHEMA = 'client_api', TABLE = 'contact', COLUMN = 'erased_at',
                      CONSTRAINT = 'contact_erasure_by_function';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.erased_at IS NOT NULL THEN
        -- Erased: nothing but deleted_at may change, and an UPDATE that does not change it is refused too (a PATCH
        -- of an erased contact is refused even when it would change nothing).
        IF NEW.deleted_at IS NOT DISTINCT FROM OLD.deleted_at
           OR (pg_catalog.to_jsonb(NEW) - kept) IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) - kept) THEN
            RAISE EXCEPTION 'contact % is erased: its personal data cannot be written again', OLD.id
                USING ERRCODE = 'PC015', SCHEMA = 'client_api', TABLE = 'contact',
                      CONSTRAINT = 'contact_erased_read_only';
        END IF;
    ELSIF (NEW.erased_at IS NOT NULL OR NEW.erased_by IS NOT NULL OR NEW.erasure_reason IS NOT NULL)
          AND NOT client_api.in_contact_erasure(TG_RELID, OLD.id) THEN
        RAISE EXCEPTION 'a contact is erased only by client_api.erase_contact(), which also scrubs its history'
            USING ERRCODE = 'PC015', SCHEMA = 'client_api', TABLE = 'contact', COLUMN = 'erased_at',
                  CONSTRAINT = 'contact_erasure_by_function';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER contact_before_0_erasure BEFORE INSERT OR UPDATE ON client_api.contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_contact_erasure_guard();

-- No new link to an erased contact (existing links may still end or be removed).
CREATE FUNCTION client_api.tg_client_contact_not_erased() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    target_erased timestamptz;
BEGIN
    -- FOR SHARE: waits for an erasure of the contact in progress and then reads its outcome (a plain read would
    -- see the row as it was before that erasure and let the link through).
    SELECT p.erased_at INTO target_erased FROM client_api.contact AS p WHERE p.id = NEW.contact_id FOR SHARE;
    IF target_erased IS NOT NULL THEN
        RAISE EXCEPTION 'contact % is erased: it cannot be linked to a client again', NEW.contact_id
            USING ERRCODE = 'PC015', SCHEMA = 'client_api', TABLE = 'client_contact', COLUMN = 'contact_id',
                  CONSTRAINT = 'client_contact_contact_not_erased';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER client_contact_contact_not_erased BEFORE INSERT OR UPDATE OF contact_id ON client_api.client_contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_client_contact_not_erased();

-- ---------------------------------------------------------------------------------------------------------------------
-- The history guard of V10, with one more branch: inside erase_contact() of contact X (client_api.in_contact_erasure),
-- an UPDATE of an entry of X's own row (entity 'contact') that changes nothing but `changes` (the generated
-- `fields` follows it) is allowed. Everything V10 allowed and refused is unchanged.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION client_api.tg_change_history_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- client_api.in_internal_write, spelled out: this runs for every recorded row, and PL/pgSQL keeps the plan of
    -- its own query where the SQL function would be planned again on every call.
    IF TG_OP = 'INSERT' AND TG_TABLE_NAME = 'change_history' AND pg_catalog.pg_trigger_depth() > 1
       AND (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID)
           = current_user THEN
        RETURN NEW;
    ELSIF TG_OP = 'INSERT' AND TG_TABLE_NAME = 'change_history_purge' AND client_api.in_history_purge(TG_RELID) THEN
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'change_history' AND client_api.in_history_purge(TG_RELID) THEN
        RETURN OLD;
    ELSIF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'change_history' THEN
        -- Nested: OLD.entity exists only in change_history, and an AND would not stop its evaluation.
        IF OLD.entity = 'contact' AND client_api.in_contact_erasure(TG_RELID, OLD.contact_id)
           AND (pg_catalog.to_jsonb(NEW) - ARRAY['changes', 'fields'])
               = (pg_catalog.to_jsonb(OLD) - ARRAY['changes', 'fields']) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: it is written by the database (a direct % is not allowed)',
                    TG_TABLE_NAME, pg_catalog.lower(TG_OP)
        USING ERRCODE = 'PC006', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
              CONSTRAINT = TG_TABLE_NAME || '_append_only';
END
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- Erasure. Locks the contact row (concurrent erasures and edits of it serialize), checks expected_version when
-- given, then in the caller's transaction: scrubs the row (the history trigger records that change, with the old
-- values), scrubs every history entry of the contact's own row (that one included), deletes the stored idempotent
-- responses that contain the contact (a response body naming its id: its creation, a link to it, an earlier
-- erasure's), and returns the row like SELECT * FROM contact. A contact already erased is returned as it is,
-- whatever expected_version says (erasing twice answers the same result; the first erasure's actor and reason
-- stay). Soft-deleted contacts are erased too: their personal data is held all the same. A contact whose row was
-- hard-deleted (V7 allows it) but whose history remains gets its history scrubbed, and no row is returned.
-- Errors: PC009 no such contact, 23514 contact_erasure_reason_clean (reason missing, empty, longer than 500
-- characters, surrounding whitespace or control characters; checked before anything else), PC008 version mismatch.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.erase_contact(contact_id uuid, reason text, expected_version bigint DEFAULT NULL)
    RETURNS SETOF client_api.contact
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    target client_api.contact;
    id_text constant text := erase_contact.contact_id::text;
BEGIN
    SELECT * INTO target FROM client_api.contact AS p WHERE p.id = erase_contact.contact_id FOR UPDATE;
    IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM client_api.change_history AS h
                                  WHERE h.contact_id = erase_contact.contact_id AND h.entity = 'contact') THEN
        RAISE EXCEPTION 'contact % does not exist', erase_contact.contact_id
            USING ERRCODE = 'PC009', SCHEMA = 'client_api', TABLE = 'contact';
    END IF;
    -- The reason first: a request without one is refused whatever state the contact is in.
    IF reason IS NULL OR NOT client_api.is_clean_text(reason, 500) THEN
        RAISE EXCEPTION 'an erasure needs a reason of 1-500 characters without surrounding whitespace or control characters'
            USING ERRCODE = 'check_violation', SCHEMA = 'client_api', TABLE = 'contact', COLUMN = 'erasure_reason',
                  CONSTRAINT = 'contact_erasure_reason_clean';
    END IF;
    IF target.id IS NOT NULL AND target.erased_at IS NOT NULL THEN
        RETURN NEXT target;
        RETURN;
    END IF;
    IF expected_version IS NOT NULL AND target.version <> expected_version THEN
        RAISE EXCEPTION 'contact % is at version %, not %', erase_contact.contact_id, target.version, expected_version
            USING ERRCODE = 'PC008', SCHEMA = 'client_api', TABLE = 'contact', COLUMN = 'version';
    END IF;
    PERFORM pg_catalog.set_config('pcc.contact_erasure', id_text, true);
    IF target.id IS NOT NULL THEN
        UPDATE client_api.contact AS p
           SET given_name = NULL, family_name = client_api.erased_marker(), email = NULL, phone = NULL,
               job_title = NULL, erased_at = pg_catalog.now(), erased_by = client_api.current_actor(),
               erasure_reason = erase_contact.reason
         WHERE p.id = erase_contact.contact_id
        RETURNING p.* INTO target;
    END IF;
    UPDATE client_api.change_history AS h
       SET changes = client_api.scrub_personal_changes(h.changes)
     WHERE h.contact_id = erase_contact.contact_id AND h.entity = 'contact'
       AND h.changes ?| client_api.contact_personal_fields()
       AND h.changes IS DISTINCT FROM client_api.scrub_personal_changes(h.changes);
    -- Stored responses are copies of what the service answered; those that name the contact (its creation, a
    -- link to it) hold its data. A replay of such a key after the erasure runs as a new request.
    DELETE FROM client_api.idempotency_key AS k
     WHERE k.response_body IS NOT NULL
       AND pg_catalog.position(k.response_body, pg_catalog.convert_to(id_text, 'UTF8')) > 0;
    PERFORM pg_catalog.set_config('pcc.contact_erasure', '', true);
    IF target.id IS NOT NULL THEN
        RETURN NEXT target;
    END IF;
END
$$;
COMMENT ON FUNCTION client_api.erase_contact(uuid, text, bigint) IS
    'GDPR erasure: scrubs the contact''s personal data from its row, its change history and stored responses.';

-- ---------------------------------------------------------------------------------------------------------------------
-- No planner statistics of personal fields: ANALYZE copies sampled values into pg_statistic (most common values,
-- histogram bounds), which pg_stats shows to every role that may read the column, and which no erasure could
-- reach. With the statistics target 0 ANALYZE skips these columns (and the expression index on lower(email)); the
-- lookups by e-mail and name use their indexes on the default selectivity estimates all the same. Statistics an
-- earlier ANALYZE gathered stay in pg_statistic until a superuser removes them (the owner cannot): on a database
-- that held contacts before this migration, an administrator runs
--   DELETE FROM pg_catalog.pg_statistic WHERE starelid IN ('client_api.contact'::regclass,
--       'client_api.contact_live_email_idx'::regclass, 'client_api.change_history'::regclass,
--       'client_api.idempotency_key'::regclass);  ANALYZE client_api.contact, client_api.change_history,
--       client_api.idempotency_key;
-- (docs/SCHEMA.md, "Erasure").
-- ---------------------------------------------------------------------------------------------------------------------
ALTER TABLE client_api.contact
    ALTER COLUMN given_name SET STATISTICS 0,
    ALTER COLUMN family_name SET STATISTICS 0,
    ALTER COLUMN email SET STATISTICS 0,
    ALTER COLUMN phone SET STATISTICS 0,
    ALTER COLUMN job_title SET STATISTICS 0;
ALTER INDEX client_api.contact_live_email_idx ALTER COLUMN 1 SET STATISTICS 0;
-- The copies of them: the history's old and new values and the stored responses (neither is ever filtered on;
-- the history is filtered by `fields`, whose statistics hold field names only).
ALTER TABLE client_api.change_history ALTER COLUMN changes SET STATISTICS 0;
ALTER TABLE client_api.idempotency_key ALTER COLUMN response_body SET STATISTICS 0;
