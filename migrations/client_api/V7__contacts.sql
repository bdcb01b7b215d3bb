-- V7: contacts (people) and their links to clients, each link with a role and a validity period.
--
-- Validity is the half-open date range [valid_from, valid_to) (valid_to NULL: open-ended). Exclusion constraints
-- (btree_gist) guarantee that a client never has two primary contacts on the same day, and that one person never
-- holds the same role at the same client twice over overlapping periods. "Current" means the range contains today.

CREATE TABLE client_api.contact (
    id          uuid        NOT NULL DEFAULT client_api.uuid_generate_v7(),
    given_name  text,
    family_name text        NOT NULL,
    email       text,
    phone       text,
    job_title   text,
    version     bigint      NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text        NOT NULL DEFAULT client_api.current_actor(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL DEFAULT client_api.current_actor(),
    deleted_at  timestamptz,
    deleted_by  text,
    CONSTRAINT contact_pkey PRIMARY KEY (id),
    CONSTRAINT contact_id_is_v7 CHECK (client_api.uuid_is_v7(id)),
    CONSTRAINT contact_given_name_clean CHECK (client_api.is_clean_text(given_name, 200)),
    CONSTRAINT contact_family_name_clean CHECK (client_api.is_clean_text(family_name, 200)),
    CONSTRAINT contact_job_title_clean CHECK (client_api.is_clean_text(job_title, 200)),
    -- An addr-spec in the shape browsers accept (WHATWG "valid e-mail address"), with a dotted domain; 254 octets
    -- at most (RFC 5321 path limit minus the angle brackets).
    CONSTRAINT contact_email_format CHECK (
        pg_catalog.octet_length(email) <= 254
        AND email ~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$'),
    -- ITU-T E.164: '+', a country code that does not start with 0, at most 15 digits in all.
    CONSTRAINT contact_phone_e164 CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    CONSTRAINT contact_version_positive CHECK (version >= 1),
    CONSTRAINT contact_deleted_complete CHECK ((deleted_at IS NULL) = (deleted_by IS NULL))
);
CREATE INDEX contact_live_name_idx ON client_api.contact (family_name, given_name, id) WHERE deleted_at IS NULL;
CREATE INDEX contact_live_email_idx ON client_api.contact (pg_catalog.lower(email)) WHERE deleted_at IS NULL;
COMMENT ON TABLE client_api.contact IS 'People at client companies. Soft-deleted rows keep deleted_at.';

-- BEFORE triggers fire in name order: deleted_by is settled before the audit trigger compares old and new.
CREATE TRIGGER contact_before_1_soft_delete BEFORE INSERT OR UPDATE ON client_api.contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_stamp_soft_delete();
CREATE TRIGGER contact_before_2_audit BEFORE INSERT OR UPDATE ON client_api.contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_stamp_audit();

CREATE TABLE client_api.client_contact (
    id         uuid        NOT NULL DEFAULT client_api.uuid_generate_v7(),
    client_id  uuid        NOT NULL,
    contact_id uuid        NOT NULL,
    role       text        NOT NULL,
    valid_from date        NOT NULL DEFAULT CURRENT_DATE,
    valid_to   date,
    version    bigint      NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL DEFAULT client_api.current_actor(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text        NOT NULL DEFAULT client_api.current_actor(),
    CONSTRAINT client_contact_pkey PRIMARY KEY (id),
    CONSTRAINT client_contact_id_is_v7 CHECK (client_api.uuid_is_v7(id)),
    CONSTRAINT client_contact_client_fk FOREIGN KEY (client_id) REFERENCES client_api.client (id),
    CONSTRAINT client_contact_contact_fk FOREIGN KEY (contact_id) REFERENCES client_api.contact (id),
    CONSTRAINT client_contact_role_fk FOREIGN KEY (role) REFERENCES client_api.contact_role (role),
    CONSTRAINT client_contact_validity_order CHECK (valid_to > valid_from),
    CONSTRAINT client_contact_version_positive CHECK (version >= 1),
    CONSTRAINT client_contact_one_primary EXCLUDE USING gist (
        client_id WITH =, pg_catalog.daterange(valid_from, valid_to) WITH &&) WHERE (role = 'primary'),
    CONSTRAINT client_contact_no_overlap EXCLUDE USING gist (
        client_id WITH =, contact_id WITH =, role WITH =, pg_catalog.daterange(valid_from, valid_to) WITH &&)
);
CREATE INDEX client_contact_client_idx ON client_api.client_contact (client_id, role, valid_from, id);
CREATE INDEX client_contact_contact_idx ON client_api.client_contact (contact_id, valid_from, id);
COMMENT ON TABLE client_api.client_contact IS
    'Contact-to-client links: role and validity [valid_from, valid_to); at most one primary per client per day.';

CREATE TRIGGER client_contact_stamp_audit BEFORE INSERT OR UPDATE ON client_api.client_contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_stamp_audit();

-- Links are written only while both the client and the contact are live (PC007 otherwise); deleting a link is
-- always allowed (erasure of a person starts with their links). Both rows are share-locked, which orders this
-- write against a concurrent soft delete of either.
CREATE FUNCTION client_api.tg_client_contact_targets_live() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    target_deleted timestamptz;
BEGIN
    SELECT c.deleted_at INTO target_deleted FROM client_api.client AS c WHERE c.id = NEW.client_id FOR SHARE;
    IF target_deleted IS NOT NULL THEN
        RAISE EXCEPTION 'client % is deleted: its contact links cannot change', NEW.client_id
            USING ERRCODE = 'PC007', SCHEMA = 'client_api', TABLE = 'client_contact', COLUMN = 'client_id';
    END IF;
    SELECT p.deleted_at INTO target_deleted FROM client_api.contact AS p WHERE p.id = NEW.contact_id FOR SHARE;
    IF target_deleted IS NOT NULL THEN
        RAISE EXCEPTION 'contact % is deleted: it cannot be linked', NEW.contact_id
            USING ERRCODE = 'PC007', SCHEMA = 'client_api', TABLE = 'client_contact', COLUMN = 'contact_id';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER client_contact_targets_live BEFORE INSERT OR UPDATE ON client_api.client_contact
    FOR EACH ROW EXECUTE FUNCTION client_api.tg_client_contact_targets_live();
