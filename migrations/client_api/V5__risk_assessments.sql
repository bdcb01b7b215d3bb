-- V5: risk assessments, an append-only history per client; the client's current risk (client.risk_category,
-- risk_assessed_at, risk_next_review_due) is a copy of its latest assessment, kept by a trigger.
--
-- "Latest" is the greatest (assessed_at, id): an assessment recorded late with an earlier assessed_at joins the
-- history without replacing a newer one. next_review_due defaults to assessed_at + risk_rating.review_interval.

CREATE TABLE client_api.risk_assessment (
    id              uuid        NOT NULL DEFAULT client_api.uuid_generate_v7(),
    client_id       uuid        NOT NULL,
    rating          text        NOT NULL,
    rationale       text        NOT NULL,
    assessed_at     timestamptz NOT NULL DEFAULT now(),
    assessed_by     text        NOT NULL DEFAULT client_api.current_actor(),
    next_review_due date        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    recorded_by     text        NOT NULL DEFAULT client_api.current_actor(),
    CONSTRAINT risk_assessment_pkey PRIMARY KEY (id),
    CONSTRAINT risk_assessment_id_is_v7 CHECK (client_api.uuid_is_v7(id)),
    CONSTRAINT risk_assessment_client_fk FOREIGN KEY (client_id) REFERENCES client_api.client (id),
    CONSTRAINT risk_assessment_rating_fk FOREIGN KEY (rating) REFERENCES client_api.risk_rating (rating),
    CONSTRAINT risk_assessment_rationale_length CHECK (
        pg_catalog.length(pg_catalog.btrim(rationale)) BETWEEN 1 AND 10000),
    CONSTRAINT risk_assessment_assessed_by_clean CHECK (client_api.is_clean_text(assessed_by, 200)),
    CONSTRAINT risk_assessment_review_after_assessment CHECK (next_review_due > (assessed_at AT TIME ZONE 'UTC')::date),
    CONSTRAINT risk_assessment_review_within_5_years CHECK (
        next_review_due <= (assessed_at AT TIME ZONE 'UTC')::date + 5 * 366)
);
CREATE INDEX risk_assessment_client_idx ON client_api.risk_assessment (client_id, assessed_at DESC, id DESC);
COMMENT ON TABLE client_api.risk_assessment IS 'Append-only risk assessment history; the latest is copied onto client.';

-- BEFORE INSERT: stamp the recorder, default the next review, refuse assessments of deleted clients and of the future.
CREATE FUNCTION client_api.tg_risk_assessment_before_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    client_deleted timestamptz;
    interval_for_rating interval;
BEGIN
    NEW.recorded_at := pg_catalog.now();
    NEW.recorded_by := client_api.current_actor();
    NEW.assessed_by := COALESCE(NEW.assessed_by, NEW.recorded_by);
    IF NEW.assessed_at > pg_catalog.now() THEN
        RAISE EXCEPTION 'assessed_at % is in the future', NEW.assessed_at
            USING ERRCODE = 'check_violation', SCHEMA = 'client_api', TABLE = 'risk_assessment',
                  COLUMN = 'assessed_at', CONSTRAINT = 'risk_assessment_not_in_future';
    END IF;
    IF NEW.next_review_due IS NULL THEN
        SELECT r.review_interval INTO interval_for_rating FROM client_api.risk_rating AS r WHERE r.rating = NEW.rating;
        IF NOT FOUND THEN
            -- The foreign key would say this after the NOT NULL check; say it first, in its words.
            RAISE EXCEPTION 'risk rating % does not exist', NEW.rating
                USING ERRCODE = 'foreign_key_violation', SCHEMA = 'client_api', TABLE = 'risk_assessment',
                      COLUMN = 'rating', CONSTRAINT = 'risk_assessment_rating_fk';
        END IF;
        NEW.next_review_due := ((NEW.assessed_at AT TIME ZONE 'UTC') + interval_for_rating)::date;
    END IF;
    SELECT c.deleted_at INTO client_deleted FROM client_api.client AS c WHERE c.id = NEW.client_id;
    IF client_deleted IS NOT NULL THEN
        RAISE EXCEPTION 'client % is deleted: restore it before assessing it', NEW.client_id
            USING ERRCODE = 'PC007', SCHEMA = 'client_api', TABLE = 'risk_assessment', COLUMN = 'client_id';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER risk_assessment_before_insert BEFORE INSERT ON client_api.risk_assessment
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_risk_assessment_before_insert();
CREATE TRIGGER risk_assessment_append_only BEFORE UPDATE OR DELETE ON client_api.risk_assessment
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_reject_history_change();
CREATE TRIGGER risk_assessment_no_truncate BEFORE TRUNCATE ON client_api.risk_assessment
    FOR EACH STATEMENT EXECUTE FUNCTION client_api.tg_reject_history_change();

-- AFTER INSERT: copy the latest assessment onto the client. The client row is locked first, so two concurrent
-- assessments of one client are applied one after the other and the second one reads the first (READ COMMITTED);
-- under REPEATABLE READ or SERIALIZABLE the second fails with a serialization error instead of going stale.
-- SECURITY DEFINER: the current-risk columns are not the service's to write.
CREATE FUNCTION client_api.tg_risk_assessment_after_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    latest client_api.risk_assessment;
BEGIN
    PERFORM 1 FROM client_api.client AS c WHERE c.id = NEW.client_id FOR NO KEY UPDATE;
    SELECT * INTO latest FROM client_api.risk_assessment AS a
     WHERE a.client_id = NEW.client_id
     ORDER BY a.assessed_at DESC, a.id DESC
     LIMIT 1;
    UPDATE client_api.client AS c
       SET risk_category = latest.rating,
           risk_assessed_at = latest.assessed_at,
           risk_next_review_due = latest.next_review_due
     WHERE c.id = NEW.client_id
       AND (c.risk_category, c.risk_assessed_at, c.risk_next_review_due)
           IS DISTINCT FROM (latest.rating, latest.assessed_at, latest.next_review_due);
    RETURN NULL;
END
$$;
CREATE TRIGGER risk_assessment_after_insert AFTER INSERT ON client_api.risk_assessment
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_risk_assessment_after_insert();
