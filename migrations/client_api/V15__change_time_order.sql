-- V15: a row's versions keep their order in time, so its change history lists them in the order they were
-- committed, and client_as_of() rebuilds only states that existed.
--
-- A row's updated_at, and the changed_at of the history entry recording the change, was now(): the start of the
-- transaction. Two transactions writing the same row are serialized by its row lock, but the one that waited may
-- have started first (a risk assessment updates its client's row without If-Match, and a request may spend time
-- before its UPDATE): its version is the later one, its time the earlier. The history, listed by (changed_at, id),
-- then showed the row's versions out of order, and client_as_of() between the two times undid the earlier change
-- and kept the later one, a state the row never had.
--
-- From here a change's time never goes back along one row: a new version whose now() is earlier than its
-- predecessor's updated_at gets the microsecond after it instead (a trigger that runs after the audit stamping),
-- and a recorded change's changed_at is the new version's updated_at (for a row without versions, such as an
-- assessment, now(); for a deletion, GREATEST(now(), the deleted version's updated_at)). Along one row,
-- (changed_at, id) is then the order of its row locks, which is commit order (the id comes from a sequence drawn
-- after the lock was taken, so it orders the entries of one instant), and client_as_of() at a version's time
-- answers that version. Changes to different rows that ran at the same time saw neither the other's
-- effect; they are listed by their transactions' start (docs/SCHEMA.md, change_history).
--
-- Existing rows and entries are left as they are (a version already out of order stays so in the history).

-- BEFORE UPDATE, after every trigger that stamps updated_at (triggers run in name order).
CREATE FUNCTION client_api.tg_keep_time_order() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Only a version that would be older than its predecessor moves (to just after it); one written in the same
    -- transaction (or the same microsecond) as its predecessor keeps their shared time.
    IF NEW.updated_at < OLD.updated_at THEN
        NEW.updated_at := OLD.updated_at + interval '1 microsecond';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION client_api.tg_keep_time_order() IS
    'A new version is never older than the one it replaces: one that would be gets the microsecond after it.';

-- After client_before_write, client_address_stamp_audit, contact_before_2_audit and client_contact_stamp_audit.
CREATE TRIGGER client_before_write_time_order BEFORE UPDATE ON client_api.client
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_keep_time_order();
CREATE TRIGGER client_address_stamp_audit_time_order BEFORE UPDATE ON client_api.client_address
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_keep_time_order();
CREATE TRIGGER contact_before_3_time_order BEFORE UPDATE ON client_api.contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_keep_time_order();
CREATE TRIGGER client_contact_stamp_audit_time_order BEFORE UPDATE ON client_api.client_contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_keep_time_order();

-- V11's recording trigger with the entry's time taken from the row (above) instead of now().
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
    -- The row's own time (GREATEST ignores the NULL of a side or a table without updated_at).
    SELECT GREATEST(pg_catalog.now(), (new_row ->> 'updated_at')::timestamptz, (old_row ->> 'updated_at')::timestamptz),
           client_api.current_actor(), client_api.current_request_id(), kind,
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
