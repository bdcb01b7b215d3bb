-- V16: an import carries the parent's ownership stake (V13), so an export (which writes it) imports again whole.
--
-- Two more attributes of client_api.client_import_row, ownership_percent (decimal text, as revenue_amount) and
-- ownership_effective_from (a date), and import_client_batch inserts them with the holder set to the row's parent:
-- a stake belongs to the parent link it arrives with (client_ownership_holder_is_parent). Every rule of V13 applies
-- as to POST /v1/clients (range, scale, not in the future, a stake only under a parent). A service of the previous
-- release sends rows without the new keys; jsonb_populate_record leaves them NULL, so it keeps working unchanged.

ALTER TYPE client_api.client_import_row
    ADD ATTRIBUTE ownership_percent text,
    ADD ATTRIBUTE ownership_effective_from date;

CREATE OR REPLACE FUNCTION client_api.import_client_batch(batch client_api.client_import_row[])
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
                                            revenue_currency, revenue_fiscal_year, ownership_percent,
                                            ownership_effective_from, ownership_holder_id)
        SELECT r.id, r.parent_id, r.display_name, r.legal_name, r.lei, r.registration_authority,
               r.registration_number, r.incorporation_country, r.hq_country, r.website, COALESCE(r.status, 'prospect'),
               r.owner, r.industry_scheme, r.industry_code, r.employee_count, r.revenue_amount::numeric,
               r.revenue_currency, r.revenue_fiscal_year, r.ownership_percent::numeric, r.ownership_effective_from,
               CASE WHEN r.ownership_percent IS NOT NULL OR r.ownership_effective_from IS NOT NULL THEN r.parent_id END
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
