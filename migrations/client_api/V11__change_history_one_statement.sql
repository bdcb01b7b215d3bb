-- V11: the change history's recording trigger in one statement per row, and its field names in byte order.
--
-- V10's client_api.tg_record_change computed a row's changes in a helper function (client_api.history_diff) and
-- inserted them in a second statement; every recorded row paid for two statements. Here the difference is
-- computed inside the INSERT itself, one statement whose plan PL/pgSQL keeps for the session. Measured on the
-- 2-core development machine (docs/SCHEMA.md, change_history): about 20 % less time per recorded row; recording
-- per statement with transition tables was measured too and rejected (faster for bulk statements, about 3x
-- slower for the single-row statements the service writes). What is recorded is unchanged: every column of the
-- table (pg_attribute) whose value differs between the row images (to_jsonb of OLD and NEW; NULL for the side an
-- INSERT or DELETE lacks), except the ones not recorded, in wire forms, compared as jsonb as the audit triggers
-- compare rows (an UPDATE that does not move the version records nothing); version and updated_* in stamps.
--
-- client_api.jsonb_keys (the generated column change_history.fields) sorted by the database's collation while
-- declaring itself IMMUTABLE; it now sorts in byte order, the same everywhere. Entries recorded before keep the
-- order they were stored in: the field filter (&&) does not depend on it, and for these field names (lower-case
-- letters, digits, `_`) the usual collations agree with byte order anyway.
--
-- history_diff has no other caller and goes: the replaced trigger function was its only one.

CREATE OR REPLACE FUNCTION client_api.jsonb_keys(j jsonb) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
BEGIN
    RETURN ARRAY(SELECT k FROM pg_catalog.jsonb_object_keys(j) AS k ORDER BY k COLLATE "C");
END
$$;

CREATE OR REPLACE FUNCTION client_api.tg_record_change() RETURNS trigger
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
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_row := pg_catalog.to_jsonb(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_row := pg_catalog.to_jsonb(NEW);
    END IF;
    image := COALESCE(new_row, old_row);
    INSERT INTO client_api.change_history (changed_at, actor, request_id, entity, entity_id, client_id, contact_id,
                                           operation, changes, stamps)
    SELECT pg_catalog.now(), client_api.current_actor(), client_api.current_request_id(), kind,
           (image ->> 'id')::uuid,
           CASE kind WHEN 'client' THEN (image ->> 'id')::uuid WHEN 'contact' THEN NULL
                     ELSE (image ->> 'client_id')::uuid END,
           CASE kind WHEN 'contact' THEN (image ->> 'id')::uuid
                     WHEN 'contact_link' THEN (image ->> 'contact_id')::uuid END,
           CASE
               WHEN old_row IS NULL THEN 'insert'
               WHEN new_row IS NULL THEN 'delete'
               WHEN d.changes ? 'deleted_at' AND old_row ->> 'deleted_at' IS NULL THEN 'soft_delete'
               WHEN d.changes ? 'deleted_at' AND new_row ->> 'deleted_at' IS NULL THEN 'restore'
               WHEN d.changes ? 'parent_id' THEN 'move'
               ELSE 'update'
           END,
           d.changes,
           CASE WHEN image ? 'version' THEN pg_catalog.jsonb_build_object(
               'version', pg_catalog.jsonb_build_object(
                   'old', COALESCE(old_row -> 'version', 'null'::jsonb),
                   'new', COALESCE(new_row -> 'version', 'null'::jsonb)),
               'updated_at', pg_catalog.jsonb_build_object(
                   'old', pg_catalog.to_jsonb(client_api.rfc3339((old_row ->> 'updated_at')::timestamptz)),
                   'new', pg_catalog.to_jsonb(client_api.rfc3339((new_row ->> 'updated_at')::timestamptz))),
               'updated_by', pg_catalog.jsonb_build_object(
                   'old', COALESCE(old_row -> 'updated_by', 'null'::jsonb),
                   'new', COALESCE(new_row -> 'updated_by', 'null'::jsonb)))
           ELSE '{}'::jsonb END
      FROM (SELECT COALESCE(pg_catalog.jsonb_object_agg(a.attname::text, pg_catalog.jsonb_build_object(
                       'old', client_api.history_value(a.atttypid, old_row -> a.attname::text),
                       'new', client_api.history_value(a.atttypid, new_row -> a.attname::text))), '{}'::jsonb) AS changes
              FROM pg_catalog.pg_attribute AS a
             WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attname::text <> ALL (not_recorded)
               AND NULLIF(old_row -> a.attname::text, 'null'::jsonb)
                   IS DISTINCT FROM NULLIF(new_row -> a.attname::text, 'null'::jsonb)) AS d
     WHERE old_row IS NULL OR new_row IS NULL OR d.changes <> '{}'::jsonb;
    RETURN NULL;
END
$$;

DROP FUNCTION client_api.history_diff(oid, jsonb, jsonb, text[]);
