-- V10: the change history (audit trail) of the portfolio: one append-only row per inserted, updated or deleted
-- row of client, contact, client_address, client_contact and risk_assessment, written by AFTER triggers in the
-- transaction that made the change, so no code path (the service, psql, a later migration's DML) can skip it.
--
-- Each row says who (client_api.current_actor(): the token subject the service sets as pcc.actor), when (now():
-- the transaction's start, the same instant as the row's updated_at), which request (the setting pcc.request_id,
-- set by the service next to pcc.actor), what (entity kind and id, the client and contact it belongs to, the
-- operation) and how: `changes` holds {column: {"old": v, "new": v}} for the columns whose value changed, in the
-- API's wire forms (timestamps RFC 3339 UTC, amounts as decimal strings). Generated and audit columns (id,
-- search_vector, size_band, version, created_*, updated_*, recorded_*) are left out of `changes`; version and
-- updated_* go to `stamps` instead, so that client_as_of() can rebuild a whole row. Columns the database keeps in
-- step with others (root_id, path, depth after a move; risk_* after an assessment) are in `changes`: they change
-- the row and its ETag, and an auditor asks when a company joined a group or became high risk.
--
-- Append-only (docs/SCHEMA.md, `change_history`): an INSERT is accepted only from this schema's own triggers
-- (client_api.in_internal_write: a nested trigger level running as the owner), UPDATE and TRUNCATE never, DELETE
-- only inside client_api.purge_history(), which only the owner role may run. The service role keeps the table
-- privileges provisioning grants on every table (migrations grant nothing), so the triggers are the guarantee.
--
-- History starts with this migration: rows that exist already have no entries until they change, and
-- client_as_of() refuses times before the start (change_history_purge's first row) or before a purge.
--
-- New SQLSTATE: PC014 the history asked for is no longer (or not yet) kept.

-- ---------------------------------------------------------------------------------------------------------------------
-- Helpers: wire forms of values, the difference of two row images, the keys of a change set.
-- ---------------------------------------------------------------------------------------------------------------------

-- RFC 3339 in UTC with the fraction trimmed, as the service writes timestamps (2026-11-25T15:06:06.5Z).
CREATE FUNCTION client_api.rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$
    SELECT CASE WHEN pg_catalog.isfinite(t) THEN
               pg_catalog.to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
               || pg_catalog.rtrim(pg_catalog.rtrim(pg_catalog.to_char(t AT TIME ZONE 'UTC', '.US'), '0'), '.')
               || 'Z'
           ELSE t::text
           END
    $$;

-- A column value (as to_jsonb gives it) in its wire form, by the column's type: timestamps as client_api.rfc3339,
-- numerics as decimal strings (exact, with their scale), everything else as to_jsonb has it. JSON null for NULL.
CREATE FUNCTION client_api.history_value(type_id oid, value jsonb) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT CASE
               WHEN value IS NULL OR value = 'null'::jsonb THEN 'null'::jsonb
               WHEN type_id = 'pg_catalog.timestamptz'::pg_catalog.regtype
                   THEN pg_catalog.to_jsonb(client_api.rfc3339((value #>> '{}')::timestamptz))
               WHEN type_id = 'pg_catalog.numeric'::pg_catalog.regtype THEN pg_catalog.to_jsonb(value #>> '{}')
               ELSE value
           END
    $$;

-- The columns of table relid whose value differs between the row images old_row and new_row (to_jsonb of OLD and
-- NEW; NULL for the side an INSERT or DELETE lacks), as {column: {"old": v, "new": v}}, except the columns in
-- `skip`. Values compare as jsonb, as the audit triggers compare rows, so what does not move the version
-- (1.5 -> 1.50) is no change here either. PL/pgSQL rather than SQL: it runs once per recorded row, and PL/pgSQL
-- keeps the plan of its query for the session where a SQL function would plan it again on every call.
CREATE FUNCTION client_api.history_diff(relid oid, old_row jsonb, new_row jsonb, skip text[]) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$
BEGIN
    RETURN (
        SELECT COALESCE(pg_catalog.jsonb_object_agg(a.attname::text, pg_catalog.jsonb_build_object(
                   'old', client_api.history_value(a.atttypid, old_row -> a.attname::text),
                   'new', client_api.history_value(a.atttypid, new_row -> a.attname::text))), '{}'::jsonb)
          FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname::text <> ALL (skip)
           AND NULLIF(old_row -> a.attname::text, 'null'::jsonb)
               IS DISTINCT FROM NULLIF(new_row -> a.attname::text, 'null'::jsonb));
END
$$;

-- The keys of a JSON object, sorted: the field names of a change set (the generated column change_history.fields).
CREATE FUNCTION client_api.jsonb_keys(j jsonb) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
BEGIN
    RETURN ARRAY(SELECT k FROM pg_catalog.jsonb_object_keys(j) AS k ORDER BY k);
END
$$;

-- The request the current transaction serves: setting pcc.request_id (the service sets it per transaction next
-- to pcc.actor), NULL when it is not set (psql, maintenance, the service's own background work).
CREATE FUNCTION client_api.current_request_id() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT NULLIF(pg_catalog.btrim(pg_catalog.current_setting('pcc.request_id', true)), '')
    $$;

-- ---------------------------------------------------------------------------------------------------------------------
-- The history.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE TABLE client_api.change_history (
    -- Insertion order (a sequence, not a UUIDv7: entries of one transaction share changed_at and must keep the
    -- order in which they were made, which random bits within a millisecond would not).
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    changed_at timestamptz NOT NULL,
    actor      text        NOT NULL,
    request_id text,
    entity     text        NOT NULL,
    entity_id  uuid        NOT NULL,
    -- The client the entity belongs to (the client itself; NULL for a contact, which may serve several) and the
    -- contact (a contact, or a contact link). No foreign keys: the history outlives a hard delete.
    client_id  uuid,
    contact_id uuid,
    operation  text        NOT NULL,
    changes    jsonb       NOT NULL,
    stamps     jsonb       NOT NULL,
    fields     text[]      GENERATED ALWAYS AS (client_api.jsonb_keys(changes)) STORED,
    CONSTRAINT change_history_pkey PRIMARY KEY (id),
    CONSTRAINT change_history_entity_known CHECK (
        entity IN ('client', 'address', 'contact', 'contact_link', 'risk_assessment')),
    CONSTRAINT change_history_operation_known CHECK (
        operation IN ('insert', 'update', 'move', 'soft_delete', 'restore', 'delete')),
    CONSTRAINT change_history_actor_clean CHECK (client_api.is_clean_text(actor, 200)),
    CONSTRAINT change_history_request_id_clean CHECK (client_api.is_clean_text(request_id, 200)),
    CONSTRAINT change_history_changes_format CHECK (
        pg_catalog.jsonb_typeof(changes) = 'object' AND (changes <> '{}'::jsonb OR operation IN ('insert', 'delete'))),
    CONSTRAINT change_history_stamps_format CHECK (pg_catalog.jsonb_typeof(stamps) = 'object'),
    CONSTRAINT change_history_owner_consistent CHECK (CASE entity
        WHEN 'client' THEN client_id IS NOT NULL AND client_id = entity_id AND contact_id IS NULL
        WHEN 'contact' THEN contact_id IS NOT NULL AND contact_id = entity_id AND client_id IS NULL
        WHEN 'contact_link' THEN client_id IS NOT NULL AND contact_id IS NOT NULL
        ELSE client_id IS NOT NULL AND contact_id IS NULL
    END)
);
COMMENT ON TABLE client_api.change_history IS
    'Append-only audit trail: one row per changed row of client, contact, client_address, client_contact, '
    'risk_assessment, written by triggers in the same transaction.';
COMMENT ON COLUMN client_api.change_history.changes IS
    '{column: {"old": v, "new": v}} for the columns that changed (generated and audit columns left out).';
COMMENT ON COLUMN client_api.change_history.stamps IS
    'version, updated_at, updated_by before and after, in the form of changes (for client_as_of); {} without them.';

-- A client's history (itself, its addresses, contact links and risk assessments) newest first, keyset by
-- (changed_at, id); a contact's (itself and its links); the entries that name one of some fields; the oldest
-- entries for the purge (BRIN: the table is appended to in time order, so block ranges follow changed_at).
CREATE INDEX change_history_client_idx ON client_api.change_history (client_id, changed_at DESC, id DESC)
    WHERE client_id IS NOT NULL;
CREATE INDEX change_history_contact_idx ON client_api.change_history (contact_id, changed_at DESC, id DESC)
    WHERE contact_id IS NOT NULL;
CREATE INDEX change_history_fields_idx ON client_api.change_history USING gin (fields);
CREATE INDEX change_history_changed_brin_idx ON client_api.change_history USING brin (changed_at);

-- ---------------------------------------------------------------------------------------------------------------------
-- Purges. One row per purge_history() that removed something, and a first row for the start of the history:
-- entries changed after the greatest complete_since are all there (purges take the oldest first), so a state
-- at or after it can be rebuilt. Written only by purge_history() (and here).
-- ---------------------------------------------------------------------------------------------------------------------
CREATE TABLE client_api.change_history_purge (
    id             bigint      GENERATED ALWAYS AS IDENTITY,
    purged_at      timestamptz NOT NULL,
    purged_by      text        NOT NULL,
    older_than     interval,
    purged_rows    bigint      NOT NULL,
    complete_since timestamptz NOT NULL,
    CONSTRAINT change_history_purge_pkey PRIMARY KEY (id),
    CONSTRAINT change_history_purge_purged_by_clean CHECK (client_api.is_clean_text(purged_by, 200)),
    CONSTRAINT change_history_purge_rows_range CHECK (purged_rows >= 0),
    CONSTRAINT change_history_purge_older_than_range CHECK (older_than > interval '0')
);
COMMENT ON TABLE client_api.change_history_purge IS
    'The start of the change history and every purge of it; the greatest complete_since bounds client_as_of().';
INSERT INTO client_api.change_history_purge (purged_at, purged_by, older_than, purged_rows, complete_since)
VALUES (pg_catalog.now(), client_api.current_actor(), NULL, 0, pg_catalog.now());

-- True inside client_api.purge_history(): the flag it sets for its own DELETE, and the owner's rights (the flag
-- alone is a setting anyone can set; the service role is never the owner).
CREATE FUNCTION client_api.in_history_purge(relid oid) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
    SELECT COALESCE(pg_catalog.current_setting('pcc.history_purge', true), '') = 'on'
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                    WHERE c.oid = relid AND c.relowner = (SELECT r.oid FROM pg_catalog.pg_roles AS r
                                                           WHERE r.rolname = current_user))
    $$;

-- The guard of both tables: INSERT into change_history only from the recording trigger, into
-- change_history_purge and DELETE from change_history only inside purge_history(); nothing else, whoever asks
-- (PC006). The owner can always drop a trigger: this stops mistakes and the service, not the owner.
CREATE FUNCTION client_api.tg_change_history_guard() RETURNS trigger
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
    END IF;
    RAISE EXCEPTION '% is append-only: it is written by the database (a direct % is not allowed)',
                    TG_TABLE_NAME, pg_catalog.lower(TG_OP)
        USING ERRCODE = 'PC006', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
              CONSTRAINT = TG_TABLE_NAME || '_append_only';
END
$$;
CREATE TRIGGER change_history_append_only BEFORE INSERT OR UPDATE OR DELETE ON client_api.change_history
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_change_history_guard();
CREATE TRIGGER change_history_no_truncate BEFORE TRUNCATE ON client_api.change_history
    FOR EACH STATEMENT EXECUTE FUNCTION client_api.tg_reject_history_change();
CREATE TRIGGER change_history_purge_append_only BEFORE INSERT OR UPDATE OR DELETE
    ON client_api.change_history_purge
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_change_history_guard();
CREATE TRIGGER change_history_purge_no_truncate BEFORE TRUNCATE ON client_api.change_history_purge
    FOR EACH STATEMENT EXECUTE FUNCTION client_api.tg_reject_history_change();

-- ---------------------------------------------------------------------------------------------------------------------
-- Recording. AFTER each row change of the five tables (TG_ARGV[0]: the entity kind). SECURITY DEFINER so that
-- the insert runs as the owner one trigger level down, which is what the guard accepts. An UPDATE that changes
-- nothing but audit columns records nothing (it does not move the version either).
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.tg_record_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    not_recorded constant text[] := ARRAY['id', 'search_vector', 'size_band', 'version', 'created_at', 'created_by',
                                          'updated_at', 'updated_by', 'recorded_at', 'recorded_by'];
    kind constant text := TG_ARGV[0];
    old_row jsonb;
    new_row jsonb;
    image jsonb;
    diff jsonb;
    stamps jsonb := '{}'::jsonb;
    op text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_row := pg_catalog.to_jsonb(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_row := pg_catalog.to_jsonb(NEW);
    END IF;
    image := COALESCE(new_row, old_row);
    diff := client_api.history_diff(TG_RELID, old_row, new_row, not_recorded);
    IF TG_OP = 'UPDATE' THEN
        IF diff = '{}'::jsonb THEN
            RETURN NULL;
        END IF;
        op := CASE
            WHEN diff ? 'deleted_at' AND old_row ->> 'deleted_at' IS NULL THEN 'soft_delete'
            WHEN diff ? 'deleted_at' AND new_row ->> 'deleted_at' IS NULL THEN 'restore'
            WHEN diff ? 'parent_id' THEN 'move'
            ELSE 'update'
        END;
    ELSE
        op := pg_catalog.lower(TG_OP);
    END IF;
    -- The audit columns before and after (all three, changed or not), for the tables that have them.
    IF image ? 'version' THEN
        stamps := pg_catalog.jsonb_build_object(
            'version', pg_catalog.jsonb_build_object(
                'old', COALESCE(old_row -> 'version', 'null'::jsonb),
                'new', COALESCE(new_row -> 'version', 'null'::jsonb)),
            'updated_at', pg_catalog.jsonb_build_object(
                'old', pg_catalog.to_jsonb(client_api.rfc3339((old_row ->> 'updated_at')::timestamptz)),
                'new', pg_catalog.to_jsonb(client_api.rfc3339((new_row ->> 'updated_at')::timestamptz))),
            'updated_by', pg_catalog.jsonb_build_object(
                'old', COALESCE(old_row -> 'updated_by', 'null'::jsonb),
                'new', COALESCE(new_row -> 'updated_by', 'null'::jsonb)));
    END IF;
    INSERT INTO client_api.change_history (changed_at, actor, request_id, entity, entity_id, client_id, contact_id,
                                           operation, changes, stamps)
    VALUES (pg_catalog.now(), client_api.current_actor(), client_api.current_request_id(), kind,
            (image ->> 'id')::uuid,
            CASE kind WHEN 'client' THEN (image ->> 'id')::uuid
                      WHEN 'contact' THEN NULL
                      ELSE (image ->> 'client_id')::uuid END,
            CASE kind WHEN 'contact' THEN (image ->> 'id')::uuid
                      WHEN 'contact_link' THEN (image ->> 'contact_id')::uuid END,
            op, diff, stamps);
    RETURN NULL;
END
$$;

CREATE TRIGGER client_record_change AFTER INSERT OR UPDATE OR DELETE ON client_api.client
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_record_change('client');
CREATE TRIGGER client_address_record_change AFTER INSERT OR UPDATE OR DELETE ON client_api.client_address
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_record_change('address');
CREATE TRIGGER contact_record_change AFTER INSERT OR UPDATE OR DELETE ON client_api.contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_record_change('contact');
CREATE TRIGGER client_contact_record_change AFTER INSERT OR UPDATE OR DELETE ON client_api.client_contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_record_change('contact_link');
CREATE TRIGGER risk_assessment_record_change AFTER INSERT OR UPDATE OR DELETE ON client_api.risk_assessment
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_record_change('risk_assessment');

-- ---------------------------------------------------------------------------------------------------------------------
-- Retention. Deletes up to batch_size of the oldest entries changed before now() - older_than and returns how
-- many went; call it until it returns less than batch_size. Entries go by age alone: deleting or restoring a
-- client neither shortens nor extends the life of its history (a soft-deleted client's history stays until its
-- entries are older than the retention, like everyone's). Runs as the caller, who must be the owner role
-- (SET ROLE to it): the service can never shorten its own audit trail.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.purge_history(older_than interval, batch_size integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    cutoff timestamptz;
    purged integer;
    newest timestamptz;
BEGIN
    IF older_than IS NULL OR older_than <= interval '0' THEN
        RAISE EXCEPTION 'older_than must be a positive interval, not %', older_than
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1, not %', batch_size USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                    WHERE c.oid = 'client_api.change_history'::pg_catalog.regclass
                      AND c.relowner = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)) THEN
        RAISE EXCEPTION 'purge_history must run as the owner of client_api.change_history, not %', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'SET ROLE to the schema owner first; the service role cannot shorten the audit trail';
    END IF;
    cutoff := pg_catalog.now() - older_than;
    PERFORM pg_catalog.set_config('pcc.history_purge', 'on', true);
    WITH gone AS (
        DELETE FROM client_api.change_history AS h
         WHERE h.id IN (SELECT o.id FROM client_api.change_history AS o
                         WHERE o.changed_at < cutoff
                         ORDER BY o.changed_at, o.id
                         LIMIT batch_size)
        RETURNING h.changed_at
    )
    SELECT pg_catalog.count(*), pg_catalog.max(gone.changed_at) INTO purged, newest FROM gone;
    IF purged > 0 THEN
        INSERT INTO client_api.change_history_purge (purged_at, purged_by, older_than, purged_rows, complete_since)
        SELECT pg_catalog.now(), client_api.current_actor(), purge_history.older_than, purged,
               GREATEST(newest, pg_catalog.max(p.complete_since))
          FROM client_api.change_history_purge AS p;
    END IF;
    PERFORM pg_catalog.set_config('pcc.history_purge', '', true);
    RETURN purged;
END
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- A client as it was at a time: its current row with every later change undone (each column takes the "old" of
-- its earliest change after as_of; version and updated_* likewise from the stamps). No row when the client does
-- not exist or did not exist yet (created after as_of); PC014 when as_of is before the kept history (before this
-- migration, or before the newest purged entry). Exact to the microsecond of the changes' transaction start
-- times: a transaction that began at or before as_of counts as done by then, even if it committed later.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.client_as_of(client_id uuid, as_of timestamptz) RETURNS SETOF client_api.client
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    current_row client_api.client;
    kept_since timestamptz;
    state jsonb;
    headcount integer;
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must be a time, not NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO current_row FROM client_api.client AS c WHERE c.id = client_as_of.client_id;
    IF NOT FOUND OR current_row.created_at > as_of THEN
        RETURN;
    END IF;
    SELECT pg_catalog.max(p.complete_since) INTO kept_since FROM client_api.change_history_purge AS p;
    IF as_of < kept_since THEN
        RAISE EXCEPTION 'the history of client % is kept only from %', client_as_of.client_id, kept_since
            USING ERRCODE = 'PC014', SCHEMA = 'client_api', TABLE = 'change_history', COLUMN = 'changed_at',
                  DETAIL = client_api.rfc3339(kept_since);
    END IF;
    SELECT pg_catalog.to_jsonb(current_row) || COALESCE(pg_catalog.jsonb_object_agg(u.key, u.old), '{}'::jsonb)
      INTO state
      FROM (SELECT DISTINCT ON (e.key) e.key, e.value -> 'old' AS old
              FROM client_api.change_history AS h
             CROSS JOIN LATERAL pg_catalog.jsonb_each(h.changes || h.stamps) AS e
             WHERE h.client_id = client_as_of.client_id AND h.entity = 'client' AND h.changed_at > as_of
             ORDER BY e.key, h.changed_at, h.id) AS u;
    -- The generated columns, as V3 computes them (search_vector is not part of any representation).
    headcount := (state ->> 'employee_count')::integer;
    state := state || pg_catalog.jsonb_build_object(
        'size_band', CASE
                         WHEN headcount IS NULL THEN NULL
                         WHEN headcount < 10 THEN 'micro'
                         WHEN headcount < 50 THEN 'small'
                         WHEN headcount < 250 THEN 'medium'
                         ELSE 'large'
                     END,
        'search_vector', NULL);
    RETURN NEXT pg_catalog.jsonb_populate_record(NULL::client_api.client, state);
END
$$;
