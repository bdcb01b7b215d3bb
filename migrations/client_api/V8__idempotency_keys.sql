-- V8: idempotency keys for POST requests.
--
-- Contract with the service (docs/SCHEMA.md, "Idempotency"): inside the transaction that performs the POST, call
-- idempotency_begin() first. 'new': do the work, then idempotency_complete() with the response, then commit.
-- 'replay': return the stored response, do nothing else. 'mismatch': the key was used for a different request
-- (409/422 problem "idempotency key reused"). A second request with the same key while the first is still running
-- waits in idempotency_begin() until the first commits (then replays) or rolls back (then runs as 'new'), because
-- the key row is inserted by the first transaction and the unique key makes the second wait for it.
-- A key row must be completed before its transaction commits (deferred constraint trigger), so no key is ever
-- left half-done. Keys expire (default 24 hours); an expired key is taken over by the next request that uses it.

CREATE TABLE client_api.idempotency_key (
    principal           text        NOT NULL,
    idempotency_key     text        NOT NULL,
    request_method      text        NOT NULL,
    request_path        text        NOT NULL,
    request_fingerprint bytea       NOT NULL,
    response_status     smallint,
    response_headers    jsonb,
    response_body       bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    expires_at          timestamptz NOT NULL,
    CONSTRAINT idempotency_key_pkey PRIMARY KEY (principal, idempotency_key),
    CONSTRAINT idempotency_key_principal_clean CHECK (client_api.is_clean_text(principal, 200)),
    -- The header value: 1 to 255 visible ASCII characters.
    CONSTRAINT idempotency_key_format CHECK (idempotency_key ~ '^[!-~]{1,255}$'),
    CONSTRAINT idempotency_key_method_format CHECK (request_method ~ '^[A-Z]{3,10}$'),
    CONSTRAINT idempotency_key_path_format CHECK (pg_catalog.length(request_path) <= 2048 AND request_path ~ '^/[!-~]*$'),
    CONSTRAINT idempotency_key_fingerprint_sha256 CHECK (pg_catalog.octet_length(request_fingerprint) = 32),
    CONSTRAINT idempotency_key_status_range CHECK (response_status BETWEEN 100 AND 599),
    CONSTRAINT idempotency_key_headers_object CHECK (pg_catalog.jsonb_typeof(response_headers) = 'object'),
    CONSTRAINT idempotency_key_response_complete CHECK (
        (completed_at IS NULL) = (response_status IS NULL)
        AND (completed_at IS NULL) = (response_headers IS NULL)
        AND (completed_at IS NOT NULL OR response_body IS NULL)),
    CONSTRAINT idempotency_key_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX idempotency_key_expires_idx ON client_api.idempotency_key (expires_at);
COMMENT ON TABLE client_api.idempotency_key IS
    'Stored responses of POST requests by (principal, Idempotency-Key); see client_api.idempotency_begin().';

-- Starts (or replays) an idempotent request. outcome: 'new' | 'replay' | 'mismatch' | 'in_progress' (the key was
-- begun earlier in this same transaction and not completed yet). The stored response comes with 'replay'.
CREATE FUNCTION client_api.idempotency_begin(
    principal text, idempotency_key text, request_method text, request_path text, request_fingerprint bytea,
    time_to_live interval DEFAULT interval '24 hours')
    RETURNS TABLE (outcome text, response_status smallint, response_headers jsonb, response_body bytea)
    LANGUAGE plpgsql
    AS $$
DECLARE
    stored client_api.idempotency_key;
BEGIN
    IF time_to_live IS NULL OR time_to_live <= interval '0' THEN
        RAISE EXCEPTION 'time_to_live must be positive, not %', time_to_live USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO client_api.idempotency_key AS k
           (principal, idempotency_key, request_method, request_path, request_fingerprint, expires_at)
    VALUES (idempotency_begin.principal, idempotency_begin.idempotency_key, idempotency_begin.request_method,
            idempotency_begin.request_path, idempotency_begin.request_fingerprint, pg_catalog.now() + time_to_live)
    ON CONFLICT ON CONSTRAINT idempotency_key_pkey DO UPDATE
       SET request_method = excluded.request_method,
           request_path = excluded.request_path,
           request_fingerprint = excluded.request_fingerprint,
           response_status = NULL,
           response_headers = NULL,
           response_body = NULL,
           created_at = excluded.created_at,
           completed_at = NULL,
           expires_at = excluded.expires_at
     WHERE k.expires_at <= pg_catalog.now()
    RETURNING k.* INTO stored;
    IF FOUND THEN
        RETURN QUERY SELECT 'new'::text, NULL::smallint, NULL::jsonb, NULL::bytea;
        RETURN;
    END IF;
    -- The key exists and has not expired; the INSERT above waited for its transaction, so it is committed (or ours).
    SELECT * INTO STRICT stored FROM client_api.idempotency_key AS k
     WHERE k.principal = idempotency_begin.principal AND k.idempotency_key = idempotency_begin.idempotency_key;
    IF stored.request_fingerprint <> idempotency_begin.request_fingerprint
       OR stored.request_method <> idempotency_begin.request_method
       OR stored.request_path <> idempotency_begin.request_path THEN
        RETURN QUERY SELECT 'mismatch'::text, NULL::smallint, NULL::jsonb, NULL::bytea;
    ELSIF stored.completed_at IS NULL THEN
        RETURN QUERY SELECT 'in_progress'::text, NULL::smallint, NULL::jsonb, NULL::bytea;
    ELSE
        RETURN QUERY SELECT 'replay'::text, stored.response_status, stored.response_headers, stored.response_body;
    END IF;
END
$$;

-- Stores the response of a request begun in this transaction. Raises PC009 when there is no such pending key.
CREATE FUNCTION client_api.idempotency_complete(
    principal text, idempotency_key text, response_status smallint, response_headers jsonb, response_body bytea)
    RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE client_api.idempotency_key AS k
       SET response_status = idempotency_complete.response_status,
           response_headers = COALESCE(idempotency_complete.response_headers, '{}'::jsonb),
           response_body = idempotency_complete.response_body,
           completed_at = pg_catalog.now()
     WHERE k.principal = idempotency_complete.principal
       AND k.idempotency_key = idempotency_complete.idempotency_key
       AND k.completed_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no pending idempotency key % for %', idempotency_complete.idempotency_key,
                        idempotency_complete.principal
            USING ERRCODE = 'PC009', SCHEMA = 'client_api', TABLE = 'idempotency_key';
    END IF;
END
$$;

-- Deletes up to batch_size expired keys (skipping rows another transaction holds); returns how many went.
-- The service calls it periodically, e.g. every minute, until it returns less than batch_size.
CREATE FUNCTION client_api.purge_expired_idempotency_keys(batch_size integer DEFAULT 1000) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    purged integer;
BEGIN
    DELETE FROM client_api.idempotency_key AS k
     WHERE (k.principal, k.idempotency_key) IN (
           SELECT e.principal, e.idempotency_key FROM client_api.idempotency_key AS e
            WHERE e.expires_at <= pg_catalog.now()
            ORDER BY e.expires_at
            LIMIT batch_size
              FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END
$$;

-- Commit-time check: every key row written in a transaction is completed by the time it commits.
CREATE FUNCTION client_api.tg_idempotency_key_completed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM client_api.idempotency_key AS k
                WHERE k.principal = NEW.principal AND k.idempotency_key = NEW.idempotency_key
                  AND k.completed_at IS NULL) THEN
        RAISE EXCEPTION 'idempotency key % of % was begun but not completed in this transaction',
                        NEW.idempotency_key, NEW.principal
            USING ERRCODE = 'PC013', SCHEMA = 'client_api', TABLE = 'idempotency_key',
                  CONSTRAINT = 'idempotency_key_completed';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER idempotency_key_completed
    AFTER INSERT OR UPDATE ON client_api.idempotency_key
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_idempotency_key_completed();
