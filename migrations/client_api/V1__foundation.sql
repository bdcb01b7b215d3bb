-- V1: foundation of the client_api schema: extensions, identifiers, the acting user, shared trigger functions.
--
-- Runs as the schema owner (client_api_owner, NOLOGIN, not a superuser) through SET ROLE, inside the schema that the
-- provisioning tool created. Every object name is schema-qualified, so the result does not depend on search_path.
-- Only trusted extensions are used (installable by a database owner; available on AlloyDB). See docs/SCHEMA.md.

-- btree_gist: exclusion constraints mixing equality (uuid, text) with range overlap (contact validity periods).
-- pg_trgm: trigram indexes for substring / fuzzy search on client names.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA client_api;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA client_api;

-- The trigram operator class is named explicitly (client_api.gin_trgm_ops) by later migrations, so pg_trgm must live
-- in client_api. IF NOT EXISTS would silently accept an installation elsewhere: fail here with a clear message instead.
DO $$
DECLARE
    misplaced text;
BEGIN
    SELECT string_agg(format('%s (in schema %s)', e.extname, n.nspname), ', ')
      INTO misplaced
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname IN ('pg_trgm', 'btree_gist') AND n.nspname <> 'client_api';
    IF misplaced IS NOT NULL THEN
        RAISE EXCEPTION 'extension(s) % must be installed in schema client_api', misplaced
            USING HINT = 'ALTER EXTENSION <name> SET SCHEMA client_api (as the extension owner), then re-run the migration';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- UUIDv7 (RFC 9562). PostgreSQL 15 has no uuidv7(); the service generates ids itself (uuid::Uuid::now_v7) and this
-- function serves column defaults and backfills, so rows inserted from psql get time-ordered ids as well.
-- Layout: 48-bit big-endian Unix milliseconds, version nibble 7, 12 random bits, variant 0b10, 62 random bits.
-- The random part comes from gen_random_uuid() (a v4 UUID: its version nibble 0100 becomes 0111 by setting two bits).
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.uuid_generate_v7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $$
    SELECT pg_catalog.encode(
               pg_catalog.set_bit(
                   pg_catalog.set_bit(
                       pg_catalog.overlay(
                           pg_catalog.uuid_send(pg_catalog.gen_random_uuid()),
                           pg_catalog.substr(
                               pg_catalog.int8send(
                                   pg_catalog.floor(
                                       pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) * 1000)::bigint),
                               3),
                           1, 6),
                       52, 1),
                   53, 1),
               'hex')::uuid
    $$;
COMMENT ON FUNCTION client_api.uuid_generate_v7() IS
    'A new RFC 9562 version 7 UUID (Unix milliseconds + random bits). Default for every id column.';

-- True when the value is an RFC 9562 version 7 UUID with the RFC variant. Used by CHECK constraints on id columns.
CREATE FUNCTION client_api.uuid_is_v7(u uuid) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT pg_catalog.substr(u::text, 15, 1) = '7'
       AND pg_catalog.substr(u::text, 20, 1) IN ('8', '9', 'a', 'b')
    $$;

-- The creation time encoded in a version 7 UUID (millisecond precision); NULL for other versions.
CREATE FUNCTION client_api.uuid_v7_time(u uuid) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT CASE WHEN client_api.uuid_is_v7(u) THEN
        timestamptz 'epoch'
        + ('x' || pg_catalog.lpad(pg_catalog.substr(pg_catalog.replace(u::text, '-', ''), 1, 12), 16, '0'))::bit(64)::bigint
          * interval '1 millisecond'
    END
    $$;

-- ---------------------------------------------------------------------------------------------------------------------
-- ISO 17442 Legal Entity Identifier: 18 characters [A-Z0-9] then 2 check digits; valid when the ISO 7064 MOD 97-10
-- check holds (letters A=10 .. Z=35, the resulting integer mod 97 = 1). Computed digit by digit in integer
-- arithmetic (the expanded number has up to 40 digits). Returns false (never an error) for anything malformed.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.lei_is_valid(lei text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
DECLARE
    remainder integer := 0;
    code integer;
BEGIN
    IF lei !~ '^[A-Z0-9]{18}[0-9]{2}$' THEN
        RETURN false;
    END IF;
    FOR i IN 1 .. 20 LOOP
        code := pg_catalog.ascii(pg_catalog.substr(lei, i, 1));
        IF code <= 57 THEN              -- '0'..'9'
            remainder := (remainder * 10 + (code - 48)) % 97;
        ELSE                            -- 'A'..'Z' -> 10..35: two decimal digits
            remainder := (remainder * 100 + (code - 55)) % 97;
        END IF;
    END LOOP;
    RETURN remainder = 1;
END
$$;
COMMENT ON FUNCTION client_api.lei_is_valid(text) IS
    'ISO 17442 LEI format and ISO 7064 MOD 97-10 check digits; false for malformed input.';

-- ---------------------------------------------------------------------------------------------------------------------
-- The acting user. The service sets it per transaction: SELECT pg_catalog.set_config('pcc.actor', $1, true)
-- (SET LOCAL cannot take a bind parameter). Without it (psql, maintenance), the database session user is recorded,
-- so every audit column names someone real.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE FUNCTION client_api.current_actor() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT COALESCE(NULLIF(pg_catalog.btrim(pg_catalog.current_setting('pcc.actor', true)), ''), session_user::text)
    $$;
COMMENT ON FUNCTION client_api.current_actor() IS
    'The acting user for audit columns: setting pcc.actor (set by the service per transaction), else session_user.';

-- Text columns that hold names and labels: non-empty, no surrounding whitespace, no control characters.
CREATE FUNCTION client_api.is_clean_text(value text, max_length integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT pg_catalog.length(value) BETWEEN 1 AND max_length
       AND value = pg_catalog.btrim(value, E' \t\n\r')
       AND value !~ '[[:cntrl:]]'
    $$;

-- ---------------------------------------------------------------------------------------------------------------------
-- Shared trigger functions.
-- ---------------------------------------------------------------------------------------------------------------------

-- Audit columns and optimistic-concurrency version for ordinary tables (every table with the columns version,
-- created_at, created_by, updated_at, updated_by). Whatever a client writes into them is replaced: on INSERT they are
-- stamped; on UPDATE created_* is kept, and version/updated_* move only when something else changed (an UPDATE that
-- changes nothing keeps the ETag). Tables with soft delete also get deleted_by stamped from deleted_at.
CREATE FUNCTION client_api.tg_stamp_audit() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    audit_keys constant text[] := ARRAY['version', 'created_at', 'created_by', 'updated_at', 'updated_by'];
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.version := 1;
        NEW.created_at := pg_catalog.now();
        NEW.created_by := client_api.current_actor();
        NEW.updated_at := NEW.created_at;
        NEW.updated_by := NEW.created_by;
        RETURN NEW;
    END IF;
    NEW.version := OLD.version;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := OLD.updated_at;
    NEW.updated_by := OLD.updated_by;
    IF (pg_catalog.to_jsonb(NEW) - audit_keys) IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) - audit_keys) THEN
        NEW.version := OLD.version + 1;
        NEW.updated_at := pg_catalog.now();
        NEW.updated_by := client_api.current_actor();
    END IF;
    RETURN NEW;
END
$$;

-- deleted_by follows deleted_at: stamped when a row is soft-deleted, cleared when it is restored, never written directly.
CREATE FUNCTION client_api.tg_stamp_soft_delete() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.deleted_at IS NULL THEN
        NEW.deleted_by := NULL;
    ELSIF TG_OP = 'INSERT' OR OLD.deleted_at IS NULL THEN
        NEW.deleted_by := client_api.current_actor();
    ELSE
        NEW.deleted_by := OLD.deleted_by;
        NEW.deleted_at := OLD.deleted_at;
    END IF;
    RETURN NEW;
END
$$;

-- History tables are append-only: UPDATE, DELETE and TRUNCATE fail (SQLSTATE PC006), whoever asks.
CREATE FUNCTION client_api.tg_reject_history_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, pg_catalog.lower(TG_OP)
        USING ERRCODE = 'PC006', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
              CONSTRAINT = TG_TABLE_NAME || '_append_only';
END
$$;
