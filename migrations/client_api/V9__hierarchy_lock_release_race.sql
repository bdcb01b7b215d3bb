-- V9: a structural change no longer fails with 40001 just because the transaction it waited for is still
-- releasing its locks.
--
-- lock_hierarchy_roots (V4) waits only on a transaction's first tree lock; any later one is only tried, and a busy
-- lock fails the statement with 40001 at once (a wait there could close a lock cycle). But a transaction that
-- waited for a concurrent move wakes up as soon as the mover releases its *first* lock, reads the moved rows (the
-- move is already committed) and then tries the lock of the tree the client moved into, which the mover may still
-- be releasing for a few microseconds. Under load that race made an ordinary insert under a just-moved parent fail
-- with 40001 (and the service answer 503). The later lock is now tried a few times over at most ~50 ms before
-- giving up: long enough to cover a committing transaction's lock release, far too short to matter when another
-- transaction really holds the tree (that case still fails with 40001, as documented in docs/SCHEMA.md).

CREATE OR REPLACE FUNCTION client_api.lock_hierarchy_roots(VARIADIC root_ids uuid[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    first_call constant boolean :=
        COALESCE(pg_catalog.current_setting('pcc.hierarchy_locks_held', true), '') <> 'on';
    lock_key integer;
    tries integer;
BEGIN
    PERFORM client_api.assert_hierarchy_isolation();
    FOR lock_key IN
        SELECT DISTINCT client_api.hierarchy_lock_key(r) FROM pg_catalog.unnest(root_ids) AS r WHERE r IS NOT NULL
         ORDER BY 1
    LOOP
        IF first_call THEN
            PERFORM pg_catalog.pg_advisory_xact_lock(1885561704, lock_key);
        ELSE
            tries := 0;
            WHILE NOT pg_catalog.pg_try_advisory_xact_lock(1885561704, lock_key) LOOP
                tries := tries + 1;
                IF tries > 25 THEN
                    RAISE EXCEPTION 'the client hierarchy changed while this transaction waited for it: retry the transaction'
                        USING ERRCODE = 'serialization_failure', SCHEMA = 'client_api', TABLE = 'client';
                END IF;
                PERFORM pg_catalog.pg_sleep(0.002);
            END LOOP;
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('pcc.hierarchy_locks_held', 'on', true);
END
$$;
