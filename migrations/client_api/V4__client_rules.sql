-- V4: the rules of the client table: hierarchy maintenance and move serialization, soft delete, status transitions,
-- reference codes in force, audit stamping; plus the append-only move history and the functions the service calls.
--
-- Concurrency design (docs/SCHEMA.md, "Hierarchy"): every structural change (insert under a parent, re-parent,
-- soft delete, restore) takes a transaction-level advisory lock on each tree it touches, keyed by the tree's root,
-- in ascending key order, then re-reads what it depends on with a fresh READ COMMITTED snapshot (a root that
-- changed meanwhile is only tried for, never waited for: 40001 instead of a deadlock). Two moves that
-- could together close a cycle always share a tree lock, so the second one sees the first one's committed result.
-- REPEATABLE READ is refused for these changes (its snapshot would hide that result); SERIALIZABLE is safe.
--
-- Custom SQLSTATEs raised here (class PC, "portfolio client"):
--   PC001 hierarchy cycle            PC002 hierarchy too deep        PC003 client has live children
--   PC004 parent is deleted          PC005 status transition refused PC006 append-only history
--   PC007 row is deleted (read-only) PC008 version mismatch          PC009 not found
--   PC010 reference code withdrawn   PC011 isolation level refused   PC012 hierarchy inconsistent (a bug: report it)

-- Advisory lock namespace (first key of the two-key form): 0x70636368, 'pcch'. The second key is the low 32 bits of
-- the root id (random bits of a UUIDv7); two roots sharing a key only serialize more than needed.
CREATE FUNCTION client_api.hierarchy_lock_key(root_id uuid) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT ('x' || pg_catalog.right(pg_catalog.replace(root_id::text, '-', ''), 8))::bit(32)::integer
    $$;

-- Structural changes read committed data after taking their locks; REPEATABLE READ would keep reading its old
-- snapshot and could miss a concurrent move.
CREATE FUNCTION client_api.assert_hierarchy_isolation() RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION 'hierarchy changes need READ COMMITTED or SERIALIZABLE isolation, not REPEATABLE READ'
            USING ERRCODE = 'PC011';
    END IF;
END
$$;

-- Locks the trees with the given roots. The first call in a transaction waits for the locks, taking them in
-- ascending key order (the consistent order that avoids deadlocks); a later call (a root changed while we waited,
-- or a second structural change in the same transaction) only tries, because waiting then could close a lock
-- cycle: if a lock is busy it fails at once with 40001 and the service retries the transaction. Re-entrant:
-- locks this transaction holds are granted again at once. All are released at commit or rollback.
CREATE FUNCTION client_api.lock_hierarchy_roots(VARIADIC root_ids uuid[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    first_call constant boolean :=
        COALESCE(pg_catalog.current_setting('pcc.hierarchy_locks_held', true), '') <> 'on';
    lock_key integer;
BEGIN
    PERFORM client_api.assert_hierarchy_isolation();
    FOR lock_key IN
        SELECT DISTINCT client_api.hierarchy_lock_key(r) FROM pg_catalog.unnest(root_ids) AS r WHERE r IS NOT NULL
         ORDER BY 1
    LOOP
        IF first_call THEN
            PERFORM pg_catalog.pg_advisory_xact_lock(1885561704, lock_key);
        ELSIF NOT pg_catalog.pg_try_advisory_xact_lock(1885561704, lock_key) THEN
            RAISE EXCEPTION 'the client hierarchy changed while this transaction waited for it: retry the transaction'
                USING ERRCODE = 'serialization_failure', SCHEMA = 'client_api', TABLE = 'client';
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('pcc.hierarchy_locks_held', 'on', true);
END
$$;

-- Locks the trees the given clients belong to now. A tree can change root while we wait for its lock (a concurrent
-- move committed), so re-read until every current root is locked. Call it before any structural change, with the
-- client and its new parent, so that the tree locks come before the row lock of the UPDATE (no lock-order
-- deadlock with a concurrent move). Unknown ids are ignored (the change itself reports them).
CREATE FUNCTION client_api.lock_client_trees(VARIADIC client_ids uuid[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    locked uuid[] := '{}';
    current_roots uuid[];
BEGIN
    LOOP
        SELECT pg_catalog.array_agg(DISTINCT c.root_id) INTO current_roots
          FROM client_api.client AS c WHERE c.id = ANY (client_ids);
        EXIT WHEN current_roots IS NULL OR current_roots <@ locked;
        PERFORM client_api.lock_hierarchy_roots(VARIADIC current_roots);
        locked := locked || current_roots;
    END LOOP;
END
$$;

-- The parent row, read after its tree (and own_root's tree) is locked, with a KEY SHARE row lock so it cannot be
-- hard-deleted meanwhile. Raises the foreign key error the FK constraint would raise if the parent does not exist.
CREATE FUNCTION client_api.locked_parent(wanted_parent uuid, own_root uuid) RETURNS client_api.client
    LANGUAGE plpgsql
    AS $$
DECLARE
    parent client_api.client;
    seen_root uuid;
BEGIN
    LOOP
        SELECT c.root_id INTO seen_root FROM client_api.client AS c WHERE c.id = wanted_parent;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'parent client % does not exist', wanted_parent
                USING ERRCODE = 'foreign_key_violation', SCHEMA = 'client_api', TABLE = 'client',
                      COLUMN = 'parent_id', CONSTRAINT = 'client_parent_fk';
        END IF;
        PERFORM client_api.lock_hierarchy_roots(own_root, seen_root);
        SELECT * INTO parent FROM client_api.client AS c WHERE c.id = wanted_parent FOR KEY SHARE;
        IF NOT FOUND THEN
            CONTINUE;  -- hard-deleted meanwhile: the next pass reports it
        END IF;
        EXIT WHEN parent.root_id = seen_root;
    END LOOP;
    RETURN parent;
END
$$;

-- Codes from the reference tables must be in force when a row starts using them (rows already using a code that
-- was later withdrawn keep it).
CREATE FUNCTION client_api.assert_reference_in_force(
    tbl text, col text, withdrawn boolean, description text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF withdrawn THEN
        RAISE EXCEPTION '% is withdrawn and cannot be used for new data', description
            USING ERRCODE = 'PC010', SCHEMA = 'client_api', TABLE = tbl, COLUMN = col;
    END IF;
END
$$;

-- True inside a write made by one of this schema's own SECURITY DEFINER triggers (the subtree rewrite of a move,
-- the current-risk copy of V5, the move history insert): a nested trigger level, running as the table's owner. A
-- client's statement runs at depth 1; a client's own trigger (say on a temporary table) runs as that client, so
-- neither can pass for the schema's internal writes. Owners and superusers can disable triggers anyway.
CREATE FUNCTION client_api.in_internal_write(relid oid) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
    SELECT pg_catalog.pg_trigger_depth() > 1
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                    WHERE c.oid = relid AND c.relowner = (SELECT r.oid FROM pg_catalog.pg_roles AS r
                                                           WHERE r.rolname = current_user))
    $$;

-- ---------------------------------------------------------------------------------------------------------------------
-- BEFORE INSERT OR UPDATE on client: every single-row rule, in a fixed order.
-- Internal writes (client_api.in_internal_write) may set derived columns; everyone else's values are replaced.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.tg_client_before_write() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    internal boolean := false;
    compare_skip constant text[] := ARRAY['version', 'created_at', 'created_by', 'updated_at', 'updated_by',
                                          'size_band', 'search_vector'];
    parent_changed boolean;
    becomes_deleted boolean;
    becomes_live boolean;
    parent client_api.client;
    subtree_height integer;
    ref_withdrawn boolean;
    minor_units smallint;
BEGIN
    IF pg_catalog.pg_trigger_depth() > 1 THEN
        internal := client_api.in_internal_write(TG_RELID);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.id IS DISTINCT FROM OLD.id THEN
            RAISE EXCEPTION 'the id of client % cannot change', OLD.id
                USING ERRCODE = 'check_violation', SCHEMA = 'client_api', TABLE = 'client', COLUMN = 'id',
                      CONSTRAINT = 'client_id_immutable';
        END IF;
        IF internal THEN
            -- Derived columns were written by our own trigger; only stamp audit columns (below).
            parent_changed := false;
            becomes_deleted := false;
            becomes_live := false;
        ELSE
            NEW.root_id := OLD.root_id;
            NEW.path := OLD.path;
            NEW.depth := OLD.depth;
            NEW.risk_category := OLD.risk_category;
            NEW.risk_assessed_at := OLD.risk_assessed_at;
            NEW.risk_next_review_due := OLD.risk_next_review_due;
            NEW.deleted_by := OLD.deleted_by;
            IF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NOT NULL THEN
                NEW.deleted_at := OLD.deleted_at;
                IF (pg_catalog.to_jsonb(NEW) - compare_skip) IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) - compare_skip) THEN
                    RAISE EXCEPTION 'client % is deleted: restore it before changing it', OLD.id
                        USING ERRCODE = 'PC007', SCHEMA = 'client_api', TABLE = 'client';
                END IF;
            END IF;
            parent_changed := NEW.parent_id IS DISTINCT FROM OLD.parent_id;
            becomes_deleted := OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL;
            becomes_live := OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL;
        END IF;
    ELSE
        NEW.risk_category := NULL;
        NEW.risk_assessed_at := NULL;
        NEW.risk_next_review_due := NULL;
        parent_changed := true;
        becomes_deleted := false;
        becomes_live := NEW.deleted_at IS NULL;
    END IF;

    -- Hierarchy: place the row under its (new) parent, refusing cycles, excess depth and deleted parents.
    IF parent_changed AND NEW.parent_id IS NULL THEN
        IF TG_OP = 'UPDATE' THEN
            PERFORM client_api.lock_hierarchy_roots(OLD.root_id);
        END IF;
        NEW.root_id := NEW.id;
        NEW.depth := 0;
        NEW.path := '/' || NEW.id::text || '/';
    ELSIF NEW.parent_id IS NOT NULL AND (parent_changed OR becomes_live) THEN
        parent := client_api.locked_parent(NEW.parent_id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.root_id END);
        IF parent_changed THEN
            IF TG_OP = 'UPDATE' THEN
                IF pg_catalog.starts_with(parent.path, OLD.path) THEN
                    RAISE EXCEPTION 'moving client % under % would create a cycle: % is in its subtree',
                                    OLD.id, NEW.parent_id, NEW.parent_id
                        USING ERRCODE = 'PC001', SCHEMA = 'client_api', TABLE = 'client', COLUMN = 'parent_id',
                              CONSTRAINT = 'client_hierarchy_acyclic';
                END IF;
                SELECT pg_catalog.max(d.depth) - OLD.depth INTO subtree_height
                  FROM client_api.client AS d WHERE d.path >= OLD.path AND d.path < OLD.path || '~';
            ELSE
                subtree_height := 0;
            END IF;
            IF parent.depth + 1 + subtree_height > 15 THEN
                RAISE EXCEPTION 'placing client % under % would make the hierarchy % levels deep; the limit is 16',
                                NEW.id, NEW.parent_id, parent.depth + 2 + subtree_height
                    USING ERRCODE = 'PC002', SCHEMA = 'client_api', TABLE = 'client', COLUMN = 'parent_id',
                          CONSTRAINT = 'client_depth_limit';
            END IF;
            NEW.root_id := parent.root_id;
            NEW.depth := parent.depth + 1;
            NEW.path := parent.path || NEW.id::text || '/';
        END IF;
        IF NEW.deleted_at IS NULL AND parent.deleted_at IS NOT NULL THEN
            RAISE EXCEPTION 'parent client % is deleted: a live client cannot be placed under it', NEW.parent_id
                USING ERRCODE = 'PC004', SCHEMA = 'client_api', TABLE = 'client', COLUMN = 'parent_id',
                      CONSTRAINT = 'client_parent_live';
        END IF;
    END IF;

    -- Soft delete: only a client without live children; deleted_by follows deleted_at.
    IF becomes_deleted THEN
        PERFORM client_api.lock_hierarchy_roots(OLD.root_id, NEW.root_id);
        IF EXISTS (SELECT 1 FROM client_api.client AS c WHERE c.parent_id = OLD.id AND c.deleted_at IS NULL) THEN
            RAISE EXCEPTION 'client % has live children: move or delete them first', OLD.id
                USING ERRCODE = 'PC003', SCHEMA = 'client_api', TABLE = 'client', COLUMN = 'deleted_at',
                      CONSTRAINT = 'client_no_live_children';
        END IF;
        NEW.deleted_by := client_api.current_actor();
    ELSIF TG_OP = 'INSERT' THEN
        NEW.deleted_by := CASE WHEN NEW.deleted_at IS NOT NULL THEN client_api.current_actor() END;
    ELSIF becomes_live THEN
        NEW.deleted_by := NULL;
    END IF;

    IF NOT internal THEN
        -- Status transitions (an unknown status is left to the foreign key, which names it).
        IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status
           AND EXISTS (SELECT 1 FROM client_api.client_status AS s WHERE s.status = NEW.status)
           AND NOT EXISTS (SELECT 1 FROM client_api.client_status_transition AS t
                            WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
            RAISE EXCEPTION 'client status cannot change from % to %', OLD.status, NEW.status
                USING ERRCODE = 'PC005', SCHEMA = 'client_api', TABLE = 'client', COLUMN = 'status',
                      CONSTRAINT = 'client_status_transition';
        END IF;

        -- Reference codes newly used must be in force.
        IF NEW.hq_country IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.hq_country IS DISTINCT FROM OLD.hq_country) THEN
            SELECT r.withdrawn INTO ref_withdrawn FROM client_api.country AS r WHERE r.alpha2 = NEW.hq_country;
            PERFORM client_api.assert_reference_in_force('client', 'hq_country', ref_withdrawn,
                                                         'country ' || NEW.hq_country);
        END IF;
        IF NEW.incorporation_country IS NOT NULL
           AND (TG_OP = 'INSERT' OR NEW.incorporation_country IS DISTINCT FROM OLD.incorporation_country) THEN
            SELECT r.withdrawn INTO ref_withdrawn FROM client_api.country AS r WHERE r.alpha2 = NEW.incorporation_country;
            PERFORM client_api.assert_reference_in_force('client', 'incorporation_country', ref_withdrawn,
                                                         'country ' || NEW.incorporation_country);
        END IF;
        IF NEW.industry_code IS NOT NULL
           AND (TG_OP = 'INSERT' OR (NEW.industry_scheme, NEW.industry_code)
                                     IS DISTINCT FROM (OLD.industry_scheme, OLD.industry_code)) THEN
            SELECT r.withdrawn INTO ref_withdrawn FROM client_api.industry_code AS r
             WHERE r.scheme = NEW.industry_scheme AND r.code = NEW.industry_code;
            PERFORM client_api.assert_reference_in_force('client', 'industry_code', ref_withdrawn,
                                                         NEW.industry_scheme || ' code ' || NEW.industry_code);
        END IF;
        IF NEW.revenue_currency IS NOT NULL
           AND (TG_OP = 'INSERT' OR (NEW.revenue_currency, NEW.revenue_amount)
                                     IS DISTINCT FROM (OLD.revenue_currency, OLD.revenue_amount)) THEN
            SELECT r.withdrawn, r.minor_units INTO ref_withdrawn, minor_units
              FROM client_api.currency AS r WHERE r.code = NEW.revenue_currency;
            IF TG_OP = 'INSERT' OR NEW.revenue_currency IS DISTINCT FROM OLD.revenue_currency THEN
                PERFORM client_api.assert_reference_in_force('client', 'revenue_currency', ref_withdrawn,
                                                             'currency ' || NEW.revenue_currency);
            END IF;
            IF minor_units IS NOT NULL
               AND pg_catalog.scale(pg_catalog.trim_scale(NEW.revenue_amount)) > minor_units THEN
                RAISE EXCEPTION 'revenue % has more decimals than % allows (%)',
                                NEW.revenue_amount, NEW.revenue_currency, minor_units
                    USING ERRCODE = 'check_violation', SCHEMA = 'client_api', TABLE = 'client',
                          COLUMN = 'revenue_amount', CONSTRAINT = 'client_revenue_minor_units';
            END IF;
        END IF;
    END IF;

    -- Audit and optimistic concurrency: version and updated_* move only when something else changed.
    IF TG_OP = 'INSERT' THEN
        NEW.version := 1;
        NEW.created_at := pg_catalog.now();
        NEW.created_by := client_api.current_actor();
        NEW.updated_at := NEW.created_at;
        NEW.updated_by := NEW.created_by;
    ELSE
        NEW.version := OLD.version;
        NEW.created_at := OLD.created_at;
        NEW.created_by := OLD.created_by;
        NEW.updated_at := OLD.updated_at;
        NEW.updated_by := OLD.updated_by;
        IF (pg_catalog.to_jsonb(NEW) - compare_skip) IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) - compare_skip) THEN
            NEW.version := OLD.version + 1;
            NEW.updated_at := pg_catalog.now();
            NEW.updated_by := client_api.current_actor();
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER client_before_write
    BEFORE INSERT OR UPDATE ON client_api.client
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_client_before_write();

-- ---------------------------------------------------------------------------------------------------------------------
-- Move history: one row per re-parent, written by the database only, never changed.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE TABLE client_api.client_move (
    id                uuid        NOT NULL DEFAULT client_api.uuid_generate_v7(),
    client_id         uuid        NOT NULL,
    old_parent_id     uuid,
    new_parent_id     uuid,
    old_root_id       uuid        NOT NULL,
    new_root_id       uuid        NOT NULL,
    old_path          text        COLLATE "C" NOT NULL,
    new_path          text        COLLATE "C" NOT NULL,
    descendants_moved integer     NOT NULL,
    moved_at          timestamptz NOT NULL DEFAULT now(),
    moved_by          text        NOT NULL,
    CONSTRAINT client_move_pkey PRIMARY KEY (id),
    CONSTRAINT client_move_id_is_v7 CHECK (client_api.uuid_is_v7(id)),
    CONSTRAINT client_move_client_fk FOREIGN KEY (client_id) REFERENCES client_api.client (id),
    CONSTRAINT client_move_changes_parent CHECK (old_parent_id IS DISTINCT FROM new_parent_id),
    CONSTRAINT client_move_descendants_moved_range CHECK (descendants_moved >= 0)
);
CREATE INDEX client_move_client_idx ON client_api.client_move (client_id, moved_at DESC, id DESC);
COMMENT ON TABLE client_api.client_move IS 'Append-only history of re-parenting, one row per moved subtree root.';

-- Only the move trigger writes history: anyone else's INSERT is refused, whatever their privileges.
CREATE FUNCTION client_api.tg_client_move_insert_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NOT client_api.in_internal_write(TG_RELID) THEN
        RAISE EXCEPTION 'client_move is written by the database when a client changes parent'
            USING ERRCODE = 'PC006', SCHEMA = 'client_api', TABLE = 'client_move',
                  CONSTRAINT = 'client_move_append_only';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER client_move_insert_guard BEFORE INSERT ON client_api.client_move
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_client_move_insert_guard();
CREATE TRIGGER client_move_append_only BEFORE UPDATE OR DELETE ON client_api.client_move
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_reject_history_change();
CREATE TRIGGER client_move_no_truncate BEFORE TRUNCATE ON client_api.client_move
    FOR EACH STATEMENT EXECUTE FUNCTION client_api.tg_reject_history_change();

-- AFTER a re-parent: rewrite every descendant (deleted ones included) in one statement, then record the move.
-- SECURITY DEFINER so that the service role needs no INSERT privilege on the history.
CREATE FUNCTION client_api.tg_client_after_move() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    moved integer;
BEGIN
    UPDATE client_api.client AS d
       SET path = NEW.path || pg_catalog.substr(d.path, pg_catalog.length(OLD.path) + 1),
           root_id = NEW.root_id,
           depth = d.depth + (NEW.depth - OLD.depth)
     WHERE d.path > OLD.path AND d.path < OLD.path || '~';
    GET DIAGNOSTICS moved = ROW_COUNT;
    INSERT INTO client_api.client_move (client_id, old_parent_id, new_parent_id, old_root_id, new_root_id,
                                        old_path, new_path, descendants_moved, moved_by)
    VALUES (NEW.id, OLD.parent_id, NEW.parent_id, OLD.root_id, NEW.root_id,
            OLD.path, NEW.path, moved, client_api.current_actor());
    RETURN NULL;
END
$$;
CREATE TRIGGER client_after_move
    AFTER UPDATE ON client_api.client
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id)
    EXECUTE FUNCTION client_api.tg_client_after_move();

-- ---------------------------------------------------------------------------------------------------------------------
-- Commit-time assertion of the whole hierarchy invariant for every row whose place changed: the row agrees with
-- its parent (root, depth, path), every child agrees with it, and no live row sits under a deleted one. The
-- triggers above keep this true; this is the independent check that would catch a bug or a bypass.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.tg_client_check_hierarchy() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    cur client_api.client;
    parent client_api.client;
BEGIN
    SELECT * INTO cur FROM client_api.client AS c WHERE c.id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF cur.parent_id IS NOT NULL THEN
        SELECT * INTO parent FROM client_api.client AS c WHERE c.id = cur.parent_id;
        IF NOT FOUND OR cur.root_id <> parent.root_id OR cur.depth <> parent.depth + 1
           OR cur.path <> parent.path || cur.id::text || '/' THEN
            RAISE EXCEPTION 'hierarchy inconsistent at client %: path % does not extend its parent''s path %',
                            cur.id, cur.path, parent.path
                USING ERRCODE = 'PC012', SCHEMA = 'client_api', TABLE = 'client',
                      CONSTRAINT = 'client_hierarchy_consistent';
        END IF;
        IF cur.deleted_at IS NULL AND parent.deleted_at IS NOT NULL THEN
            RAISE EXCEPTION 'live client % is under deleted client %', cur.id, parent.id
                USING ERRCODE = 'PC004', SCHEMA = 'client_api', TABLE = 'client', CONSTRAINT = 'client_parent_live';
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM client_api.client AS c
                WHERE c.parent_id = cur.id AND c.path <> cur.path || c.id::text || '/') THEN
        RAISE EXCEPTION 'hierarchy inconsistent under client %: a child''s path does not extend %', cur.id, cur.path
            USING ERRCODE = 'PC012', SCHEMA = 'client_api', TABLE = 'client', CONSTRAINT = 'client_hierarchy_consistent';
    END IF;
    IF cur.deleted_at IS NOT NULL
       AND EXISTS (SELECT 1 FROM client_api.client AS c WHERE c.parent_id = cur.id AND c.deleted_at IS NULL) THEN
        RAISE EXCEPTION 'deleted client % has live children', cur.id
            USING ERRCODE = 'PC003', SCHEMA = 'client_api', TABLE = 'client', CONSTRAINT = 'client_no_live_children';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER client_hierarchy_consistent_on_insert
    AFTER INSERT ON client_api.client
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL)
    EXECUTE FUNCTION client_api.tg_client_check_hierarchy();
CREATE CONSTRAINT TRIGGER client_hierarchy_consistent_on_update
    AFTER UPDATE ON client_api.client
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id OR OLD.path IS DISTINCT FROM NEW.path
                       OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION client_api.tg_client_check_hierarchy();

-- ---------------------------------------------------------------------------------------------------------------------
-- Functions for the service. Each takes the tree locks before the row lock (see lock_client_trees), applies the
-- change with an optional optimistic-concurrency check, and returns the updated row.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.raise_missing_or_stale(client_id uuid, expected_version bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    actual bigint;
BEGIN
    SELECT c.version INTO actual FROM client_api.client AS c WHERE c.id = client_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'client % does not exist', client_id
            USING ERRCODE = 'PC009', SCHEMA = 'client_api', TABLE = 'client';
    END IF;
    RAISE EXCEPTION 'client % is at version %, not %', client_id, actual, expected_version
        USING ERRCODE = 'PC008', SCHEMA = 'client_api', TABLE = 'client', COLUMN = 'version';
END
$$;

-- Re-parent a client (new_parent_id NULL makes it a root), moving its whole subtree.
CREATE FUNCTION client_api.move_client(client_id uuid, new_parent_id uuid, expected_version bigint DEFAULT NULL)
    RETURNS SETOF client_api.client
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM client_api.lock_client_trees(client_id, new_parent_id);
    RETURN QUERY
        UPDATE client_api.client AS c SET parent_id = new_parent_id
         WHERE c.id = client_id AND (expected_version IS NULL OR c.version = expected_version)
        RETURNING c.*;
    IF NOT FOUND THEN
        PERFORM client_api.raise_missing_or_stale(client_id, expected_version);
    END IF;
END
$$;

-- Soft-delete a client (refused while it has live children).
CREATE FUNCTION client_api.soft_delete_client(client_id uuid, expected_version bigint DEFAULT NULL)
    RETURNS SETOF client_api.client
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM client_api.lock_client_trees(client_id);
    RETURN QUERY
        UPDATE client_api.client AS c SET deleted_at = pg_catalog.now()
         WHERE c.id = client_id AND (expected_version IS NULL OR c.version = expected_version)
           AND c.deleted_at IS NULL
        RETURNING c.*;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM client_api.client AS c
                    WHERE c.id = client_id AND c.deleted_at IS NOT NULL
                      AND (expected_version IS NULL OR c.version = expected_version)) THEN
            RETURN QUERY SELECT * FROM client_api.client AS c WHERE c.id = client_id;  -- already deleted: idempotent
        ELSE
            PERFORM client_api.raise_missing_or_stale(client_id, expected_version);
        END IF;
    END IF;
END
$$;

-- Restore a soft-deleted client (refused while its parent is deleted, or when a live client took its LEI).
CREATE FUNCTION client_api.restore_client(client_id uuid, expected_version bigint DEFAULT NULL)
    RETURNS SETOF client_api.client
    LANGUAGE plpgsql
    AS $$
DECLARE
    current_parent uuid;
BEGIN
    SELECT c.parent_id INTO current_parent FROM client_api.client AS c WHERE c.id = client_id;
    PERFORM client_api.lock_client_trees(client_id, current_parent);
    RETURN QUERY
        UPDATE client_api.client AS c SET deleted_at = NULL
         WHERE c.id = client_id AND (expected_version IS NULL OR c.version = expected_version)
        RETURNING c.*;
    IF NOT FOUND THEN
        PERFORM client_api.raise_missing_or_stale(client_id, expected_version);
    END IF;
END
$$;
