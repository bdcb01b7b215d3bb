-- V6: typed postal addresses of clients (registered office, headquarters, billing, ...).
--
-- At most one address per client for the types marked single_per_client in client_api.address_type (the partial
-- unique index lists the same types; a schema test checks both agree). Addresses of a deleted client are read-only.

CREATE TABLE client_api.client_address (
    id           uuid        NOT NULL DEFAULT client_api.uuid_generate_v7(),
    client_id    uuid        NOT NULL,
    address_type text        NOT NULL,
    line1        text        NOT NULL,
    line2        text,
    line3        text,
    city         text        NOT NULL,
    region       text,
    postal_code  text,
    country_code text        NOT NULL,
    version      bigint      NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL DEFAULT client_api.current_actor(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   text        NOT NULL DEFAULT client_api.current_actor(),
    CONSTRAINT client_address_pkey PRIMARY KEY (id),
    CONSTRAINT client_address_id_is_v7 CHECK (client_api.uuid_is_v7(id)),
    CONSTRAINT client_address_client_fk FOREIGN KEY (client_id) REFERENCES client_api.client (id),
    CONSTRAINT client_address_type_fk FOREIGN KEY (address_type) REFERENCES client_api.address_type (address_type),
    CONSTRAINT client_address_country_fk FOREIGN KEY (country_code) REFERENCES client_api.country (alpha2),
    CONSTRAINT client_address_line1_clean CHECK (client_api.is_clean_text(line1, 200)),
    CONSTRAINT client_address_line2_clean CHECK (client_api.is_clean_text(line2, 200)),
    CONSTRAINT client_address_line3_clean CHECK (client_api.is_clean_text(line3, 200)),
    CONSTRAINT client_address_city_clean CHECK (client_api.is_clean_text(city, 100)),
    CONSTRAINT client_address_region_clean CHECK (client_api.is_clean_text(region, 100)),
    CONSTRAINT client_address_postal_code_format CHECK (postal_code ~ '^[A-Za-z0-9]([A-Za-z0-9 -]{0,14}[A-Za-z0-9])?$'),
    CONSTRAINT client_address_version_positive CHECK (version >= 1)
);
CREATE UNIQUE INDEX client_address_single_type_key ON client_api.client_address (client_id, address_type)
    WHERE address_type IN ('registered', 'headquarters', 'billing', 'mailing');
CREATE INDEX client_address_client_idx ON client_api.client_address (client_id, address_type, id);
CREATE INDEX client_address_country_idx ON client_api.client_address (country_code);

CREATE TRIGGER client_address_stamp_audit BEFORE INSERT OR UPDATE ON client_api.client_address
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_stamp_audit();

-- Writes to the addresses of a deleted client are refused (PC007); the client's row is share-locked so that a
-- concurrent soft delete is ordered before or after, never beside, this write.
CREATE FUNCTION client_api.tg_client_child_row_client_live() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    target uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.client_id ELSE NEW.client_id END;
    client_deleted timestamptz;
BEGIN
    SELECT c.deleted_at INTO client_deleted FROM client_api.client AS c WHERE c.id = target FOR SHARE;
    IF client_deleted IS NULL AND TG_OP = 'UPDATE' AND OLD.client_id IS DISTINCT FROM NEW.client_id THEN
        SELECT c.deleted_at INTO client_deleted FROM client_api.client AS c WHERE c.id = OLD.client_id FOR SHARE;
    END IF;
    IF client_deleted IS NOT NULL THEN
        RAISE EXCEPTION 'client % is deleted: restore it before changing its %', target, TG_TABLE_NAME
            USING ERRCODE = 'PC007', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = 'client_id';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER client_address_client_live BEFORE INSERT OR UPDATE OR DELETE ON client_api.client_address
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_client_child_row_client_live();
