-- V14: bulk import of clients (POST /v1/imports/clients): the import job and its report as rows, and the function
-- that writes a batch of imported rows with the client table's own rules.
--
-- A job is a row (client_api.import_job) so that every replica of the service can answer GET /v1/imports/{id},
-- and its report (one row per problem of a line of the file) is client_api.import_problem. The service that
-- accepted the file runs the job and keeps its heartbeat fresh; client_api.fail_stale_import_jobs() marks a job
-- whose heartbeat stopped (its service instance died or restarted) as failed, so no job stays "running" forever.
-- State changes follow the transitions of client_api.import_job_transition (a trigger refuses others, PC020):
-- queued -> validating -> applying -> succeeded, and failed from any state that is not final.
--
-- client_api.import_client_rows() inserts rows through the ordinary INSERT into client_api.client, so every rule
-- of V3/V4 (constraints, hierarchy triggers, reference codes in force) and the change history of V10/V11 apply to
-- an import exactly as to POST /v1/clients. It tries a whole batch in one subtransaction; when the batch breaks a
-- rule it bisects it (halves in their own subtransactions) until each failing row is alone, and returns the failing
-- rows with the SQLSTATE, constraint and column the database reported, keeping every row that passed. A clean
-- batch therefore costs one subtransaction, a batch with k bad rows about 2 k log2(n / k). Only the errors a row
-- can cause (classes 22 data exception, 23 integrity, PC) are diagnosed; anything else (40001, 40P01, lock or
-- statement timeouts, resource errors) is raised again and ends the transaction.
--
-- New SQLSTATE: PC020 import job state transition refused.

CREATE TABLE client_api.import_job_state (
    state    text    NOT NULL,
    is_final boolean NOT NULL,
    CONSTRAINT import_job_state_pkey PRIMARY KEY (state)
);
INSERT INTO client_api.import_job_state (state, is_final) VALUES
    ('queued', false), ('validating', false), ('applying', false), ('succeeded', true), ('failed', true);

CREATE TABLE client_api.import_job_transition (
    from_state text NOT NULL,
    to_state   text NOT NULL,
    CONSTRAINT import_job_transition_pkey PRIMARY KEY (from_state, to_state),
    CONSTRAINT import_job_transition_from_fk FOREIGN KEY (from_state) REFERENCES client_api.import_job_state (state),
    CONSTRAINT import_job_transition_to_fk FOREIGN KEY (to_state) REFERENCES client_api.import_job_state (state)
);
INSERT INTO client_api.import_job_transition (from_state, to_state) VALUES
    ('queued', 'validating'), ('validating', 'applying'), ('validating', 'succeeded'), ('applying', 'succeeded'),
    ('queued', 'failed'), ('validating', 'failed'), ('applying', 'failed');

CREATE TABLE client_api.import_job (
    id              uuid        NOT NULL,
    principal       text        NOT NULL,
    -- The request that created the job: the change history records the import's writes with it.
    request_id      text,
    mode            text        NOT NULL,
    format          text        NOT NULL,
    state           text        NOT NULL DEFAULT 'queued',
    rows_total      integer     NOT NULL,
    rows_done       integer     NOT NULL DEFAULT 0,
    problem_count   integer     NOT NULL DEFAULT 0,
    clients_created integer,
    -- Why the job as a whole failed when no line is to blame (interrupted, the database unavailable).
    failure         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    heartbeat_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT import_job_pkey PRIMARY KEY (id),
    CONSTRAINT import_job_id_is_v7 CHECK (client_api.uuid_is_v7(id)),
    CONSTRAINT import_job_principal_clean CHECK (client_api.is_clean_text(principal, 200)),
    CONSTRAINT import_job_request_id_clean CHECK (client_api.is_clean_text(request_id, 200)),
    CONSTRAINT import_job_mode_known CHECK (mode IN ('validate', 'apply')),
    CONSTRAINT import_job_format_known CHECK (format IN ('csv', 'ndjson')),
    CONSTRAINT import_job_state_fk FOREIGN KEY (state) REFERENCES client_api.import_job_state (state),
    CONSTRAINT import_job_rows_total_range CHECK (rows_total BETWEEN 0 AND 100000),
    CONSTRAINT import_job_rows_done_range CHECK (rows_done BETWEEN 0 AND rows_total),
    CONSTRAINT import_job_problem_count_range CHECK (problem_count >= 0),
    CONSTRAINT import_job_failure_clean CHECK (client_api.is_clean_text(failure, 2000)),
    -- Final states carry their end time; only running ones have none.
    CONSTRAINT import_job_finished_when_final CHECK ((finished_at IS NULL) = (state IN ('queued', 'validating', 'applying'))),
    CONSTRAINT import_job_started_before_finish CHECK (started_at IS NULL OR finished_at IS NULL OR started_at <= finished_at),
    -- Succeeded means: no problem at all, and for apply every row written.
    CONSTRAINT import_job_success_clean CHECK (
        state <> 'succeeded' OR (problem_count = 0 AND failure IS NULL AND rows_done = rows_total)),
    CONSTRAINT import_job_created_only_on_apply CHECK (
        (clients_created IS NOT NULL) = (state = 'succeeded' AND mode = 'apply')
        AND (clients_created IS NULL OR clients_created = rows_total)),
    CONSTRAINT import_job_failed_says_why CHECK (state <> 'failed' OR problem_count > 0 OR failure IS NOT NULL)
);
COMMENT ON TABLE client_api.import_job IS
    'Bulk imports of clients (POST /v1/imports/clients): state, progress and outcome; the report is import_problem.';
-- The stale-job sweep reads the running jobs by heartbeat.
CREATE INDEX import_job_running_idx ON client_api.import_job (heartbeat_at) WHERE finished_at IS NULL;
-- The purge of old jobs reads the finished ones by age.
CREATE INDEX import_job_finished_idx ON client_api.import_job (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE client_api.import_problem (
    job_id       uuid    NOT NULL,
    line         integer NOT NULL,
    seq          integer NOT NULL,
    -- The column of the file (a header name / JSON field); NULL when the whole line is at fault.
    field        text,
    problem_type text    NOT NULL,
    detail       text    NOT NULL,
    CONSTRAINT import_problem_pkey PRIMARY KEY (job_id, line, seq),
    CONSTRAINT import_problem_job_fk FOREIGN KEY (job_id) REFERENCES client_api.import_job (id) ON DELETE CASCADE,
    CONSTRAINT import_problem_line_positive CHECK (line >= 1),
    CONSTRAINT import_problem_seq_range CHECK (seq >= 0),
    CONSTRAINT import_problem_field_clean CHECK (client_api.is_clean_text(field, 100)),
    -- The API's problem type URIs (/problems/<slug>, docs/API.md).
    CONSTRAINT import_problem_type_format CHECK (problem_type ~ '^/problems/[a-z]+(-[a-z]+)*$'),
    CONSTRAINT import_problem_detail_clean CHECK (client_api.is_clean_text(detail, 2000))
);
COMMENT ON TABLE client_api.import_problem IS 'The report of an import job: one row per problem of a line of the file.';

-- State changes follow import_job_transition; a final job never changes again (its report neither).
CREATE FUNCTION client_api.tg_import_job_before_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.principal IS DISTINCT FROM OLD.principal
       OR NEW.mode IS DISTINCT FROM OLD.mode OR NEW.format IS DISTINCT FROM OLD.format
       OR NEW.rows_total IS DISTINCT FROM OLD.rows_total OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR NEW.request_id IS DISTINCT FROM OLD.request_id THEN
        RAISE EXCEPTION 'the identity of import job % cannot change', OLD.id
            USING ERRCODE = 'PC020', SCHEMA = 'client_api', TABLE = 'import_job',
                  CONSTRAINT = 'import_job_identity_immutable';
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT EXISTS (SELECT 1 FROM client_api.import_job_transition AS t
                        WHERE t.from_state = OLD.state AND t.to_state = NEW.state) THEN
            RAISE EXCEPTION 'import job % cannot go from % to %', OLD.id, OLD.state, NEW.state
                USING ERRCODE = 'PC020', SCHEMA = 'client_api', TABLE = 'import_job', COLUMN = 'state',
                      CONSTRAINT = 'import_job_transition';
        END IF;
        IF OLD.state = 'queued' THEN
            NEW.started_at := pg_catalog.now();
        END IF;
        IF NEW.state IN ('succeeded', 'failed') THEN
            NEW.finished_at := GREATEST(pg_catalog.now(), NEW.started_at);
        END IF;
    ELSIF OLD.state IN ('succeeded', 'failed') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'import job % is finished (%) and cannot change', OLD.id, OLD.state
            USING ERRCODE = 'PC020', SCHEMA = 'client_api', TABLE = 'import_job', CONSTRAINT = 'import_job_final';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER import_job_before_update BEFORE UPDATE ON client_api.import_job
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_import_job_before_update();

-- A new job starts queued, with nothing done.
CREATE FUNCTION client_api.tg_import_job_before_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.state := 'queued';
    NEW.rows_done := 0;
    NEW.problem_count := 0;
    NEW.clients_created := NULL;
    NEW.failure := NULL;
    NEW.created_at := pg_catalog.now();
    NEW.started_at := NULL;
    NEW.finished_at := NULL;
    NEW.heartbeat_at := pg_catalog.now();
    RETURN NEW;
END
$$;
CREATE TRIGGER import_job_before_insert BEFORE INSERT ON client_api.import_job
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_import_job_before_insert();

-- The report is written while the job runs (in the transaction that finishes it), never after.
CREATE FUNCTION client_api.tg_import_problem_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM client_api.import_job AS j WHERE j.id = NEW.job_id AND j.finished_at IS NOT NULL) THEN
            RAISE EXCEPTION 'import job % is finished: its report cannot change', NEW.job_id
                USING ERRCODE = 'PC020', SCHEMA = 'client_api', TABLE = 'import_problem',
                      CONSTRAINT = 'import_problem_job_running';
        END IF;
        RETURN NEW;
    END IF;
    -- UPDATE: the report is append-only (DELETE happens only with its job, by the cascade).
    RAISE EXCEPTION 'the report of an import job cannot change'
        USING ERRCODE = 'PC006', SCHEMA = 'client_api', TABLE = 'import_problem',
              CONSTRAINT = 'import_problem_append_only';
END
$$;
CREATE TRIGGER import_problem_guard BEFORE INSERT OR UPDATE ON client_api.import_problem
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_import_problem_guard();

-- Marks running jobs whose heartbeat is older than stale_after as failed (their service instance stopped); returns
-- how many. Every instance of the service calls it periodically; the row lock makes concurrent calls harmless.
CREATE FUNCTION client_api.fail_stale_import_jobs(stale_after interval) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    failed integer;
BEGIN
    IF stale_after IS NULL OR stale_after <= interval '0' THEN
        RAISE EXCEPTION 'stale_after must be positive, not %', stale_after USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE client_api.import_job AS j
       SET state = 'failed',
           failure = 'interrupted: the service instance running the job stopped before it finished; nothing was written'
     WHERE j.finished_at IS NULL AND j.heartbeat_at < pg_catalog.now() - stale_after;
    GET DIAGNOSTICS failed = ROW_COUNT;
    RETURN failed;
END
$$;

-- Deletes up to batch_size jobs (with their reports) that finished more than older_than ago; returns how many.
CREATE FUNCTION client_api.purge_import_jobs(older_than interval, batch_size integer DEFAULT 100) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    purged integer;
BEGIN
    IF older_than IS NULL OR older_than <= interval '0' THEN
        RAISE EXCEPTION 'older_than must be positive, not %', older_than USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM client_api.import_job AS j
     WHERE j.id IN (SELECT o.id FROM client_api.import_job AS o
                     WHERE o.finished_at < pg_catalog.now() - older_than
                     ORDER BY o.finished_at
                     LIMIT batch_size
                       FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- Writing imported rows.
-- ---------------------------------------------------------------------------------------------------------------------

-- One row of an import as the service sends it (ids assigned by the service, parents resolved to ids).
CREATE TYPE client_api.client_import_row AS (
    line                   integer,
    id                     uuid,
    parent_id              uuid,
    display_name           text,
    legal_name             text,
    lei                    text,
    registration_authority text,
    registration_number    text,
    incorporation_country  text,
    hq_country             text,
    website                text,
    status                 text,
    owner                  text,
    industry_scheme        text,
    industry_code          text,
    employee_count         integer,
    revenue_amount         text,
    revenue_currency       text,
    revenue_fiscal_year    smallint
);

-- Inserts `batch` (in its order) in one subtransaction; on a row's error, halves it until each failing row is alone.
-- Returns the failing rows; the others stay inserted (in the caller's transaction).
CREATE FUNCTION client_api.import_client_batch(batch client_api.client_import_row[])
    RETURNS TABLE (failed_line integer, failed_sqlstate text, failed_constraint text, failed_column text,
                   failed_message text)
    LANGUAGE plpgsql
    AS $$
DECLARE
    n constant integer := COALESCE(pg_catalog.cardinality(batch), 0);
    half integer;
    err_state text;
    err_constraint text;
    err_column text;
    err_message text;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    BEGIN
        INSERT INTO client_api.client AS c (id, parent_id, display_name, legal_name, lei, registration_authority,
                                            registration_number, incorporation_country, hq_country, website, status,
                                            owner, industry_scheme, industry_code, employee_count, revenue_amount,
                                            revenue_currency, revenue_fiscal_year)
        SELECT r.id, r.parent_id, r.display_name, r.legal_name, r.lei, r.registration_authority,
               r.registration_number, r.incorporation_country, r.hq_country, r.website, COALESCE(r.status, 'prospect'),
               r.owner, r.industry_scheme, r.industry_code, r.employee_count, r.revenue_amount::numeric,
               r.revenue_currency, r.revenue_fiscal_year
          FROM pg_catalog.unnest(batch) WITH ORDINALITY AS r
         ORDER BY r.ordinality;
        RETURN;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_constraint = CONSTRAINT_NAME,
                                err_column = COLUMN_NAME, err_message = MESSAGE_TEXT;
        -- Only what a row can be blamed for is diagnosed; the rest ends the transaction as it would anyway.
        IF NOT (err_state LIKE '22%' OR err_state LIKE '23%' OR err_state LIKE 'PC%') THEN
            RAISE;
        END IF;
    END;
    IF n = 1 THEN
        RETURN QUERY SELECT batch[1].line, err_state, NULLIF(err_constraint, ''), NULLIF(err_column, ''), err_message;
        RETURN;
    END IF;
    half := n / 2;
    RETURN QUERY SELECT * FROM client_api.import_client_batch(batch[1:half]);
    RETURN QUERY SELECT * FROM client_api.import_client_batch(batch[half + 1:n]);
END
$$;
COMMENT ON FUNCTION client_api.import_client_batch(client_api.client_import_row[]) IS
    'Inserts imported clients with every rule of client_api.client; returns the rows that broke one, keeps the rest.';

-- The service's entry point: `rows` is a JSON array of client_import_row objects, inserted in array order.
CREATE FUNCTION client_api.import_client_rows(rows jsonb)
    RETURNS TABLE (failed_line integer, failed_sqlstate text, failed_constraint text, failed_column text,
                   failed_message text)
    LANGUAGE sql
    AS $$
    SELECT b.* FROM client_api.import_client_batch(ARRAY(
        SELECT pg_catalog.jsonb_populate_record(NULL::client_api.client_import_row, e.value)
          FROM pg_catalog.jsonb_array_elements(rows) WITH ORDINALITY AS e (value, ordinality)
         ORDER BY e.ordinality)) AS b
    $$;
