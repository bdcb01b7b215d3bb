-- V2: reference data tables and the small vocabularies the client tables point at.
--
-- ISO 3166-1 countries, ISO 4217 currencies and industry classifications are filled by repeatable migrations
-- (R__reference_*.sql, generated from reference/*.csv by crates/schema_tests; see reference/README.md). Rows are
-- never deleted by those migrations: a code that leaves its standard is marked withdrawn, because clients may still
-- point at it. The vocabularies below are part of the schema itself and change only through versioned migrations.

-- ---------------------------------------------------------------------------------------------------------------------
-- ISO 3166-1 countries.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE TABLE client_api.country (
    alpha2        text    NOT NULL,
    alpha3        text    NOT NULL,
    numeric_code  text    NOT NULL,
    name          text    NOT NULL,
    official_name text,
    withdrawn     boolean NOT NULL DEFAULT false,
    CONSTRAINT country_pkey PRIMARY KEY (alpha2),
    CONSTRAINT country_alpha3_key UNIQUE (alpha3),
    CONSTRAINT country_numeric_code_key UNIQUE (numeric_code),
    CONSTRAINT country_alpha2_format CHECK (alpha2 ~ '^[A-Z]{2}$'),
    CONSTRAINT country_alpha3_format CHECK (alpha3 ~ '^[A-Z]{3}$'),
    CONSTRAINT country_numeric_code_format CHECK (numeric_code ~ '^[0-9]{3}$'),
    CONSTRAINT country_name_clean CHECK (client_api.is_clean_text(name, 200)),
    CONSTRAINT country_official_name_clean CHECK (official_name IS NULL OR client_api.is_clean_text(official_name, 300))
);
COMMENT ON TABLE client_api.country IS 'ISO 3166-1 countries (alpha-2 key). Filled by R__reference_countries.sql.';

-- ---------------------------------------------------------------------------------------------------------------------
-- ISO 4217 currencies. minor_units is NULL where the standard says N.A. (precious metals, testing codes, ...).
-- ---------------------------------------------------------------------------------------------------------------------
CREATE TABLE client_api.currency (
    code         text     NOT NULL,
    numeric_code text     NOT NULL,
    minor_units  smallint,
    name         text     NOT NULL,
    withdrawn    boolean  NOT NULL DEFAULT false,
    CONSTRAINT currency_pkey PRIMARY KEY (code),
    CONSTRAINT currency_numeric_code_key UNIQUE (numeric_code),
    CONSTRAINT currency_code_format CHECK (code ~ '^[A-Z]{3}$'),
    CONSTRAINT currency_numeric_code_format CHECK (numeric_code ~ '^[0-9]{3}$'),
    CONSTRAINT currency_minor_units_range CHECK (minor_units BETWEEN 0 AND 4),
    CONSTRAINT currency_name_clean CHECK (client_api.is_clean_text(name, 200))
);
COMMENT ON TABLE client_api.currency IS 'ISO 4217 currencies. Filled by R__reference_currencies.sql.';

-- ---------------------------------------------------------------------------------------------------------------------
-- Industry classifications: one row per scheme (NAICS 2022 today; ISIC, NACE, SIC, GICS fit the same shape) and one
-- row per code, each code pointing at its parent within its scheme. sector_code is the code's top-level ancestor,
-- so a portfolio can be grouped by sector without walking the tree (NAICS sectors such as 31-33 are ranges, which a
-- prefix cannot express).
-- ---------------------------------------------------------------------------------------------------------------------
CREATE TABLE client_api.industry_scheme (
    scheme      text NOT NULL,
    name        text NOT NULL,
    source      text NOT NULL,
    CONSTRAINT industry_scheme_pkey PRIMARY KEY (scheme),
    CONSTRAINT industry_scheme_format CHECK (scheme ~ '^[a-z][a-z0-9_]{1,31}$'),
    CONSTRAINT industry_scheme_name_clean CHECK (client_api.is_clean_text(name, 200)),
    CONSTRAINT industry_scheme_source_clean CHECK (client_api.is_clean_text(source, 500))
);

CREATE TABLE client_api.industry_code (
    scheme      text     NOT NULL,
    code        text     COLLATE "C" NOT NULL,
    title       text     NOT NULL,
    level       smallint NOT NULL,
    parent_code text     COLLATE "C",
    sector_code text     COLLATE "C" NOT NULL,
    withdrawn   boolean  NOT NULL DEFAULT false,
    CONSTRAINT industry_code_pkey PRIMARY KEY (scheme, code),
    CONSTRAINT industry_code_scheme_fk FOREIGN KEY (scheme) REFERENCES client_api.industry_scheme (scheme),
    CONSTRAINT industry_code_parent_fk FOREIGN KEY (scheme, parent_code)
        REFERENCES client_api.industry_code (scheme, code),
    CONSTRAINT industry_code_sector_fk FOREIGN KEY (scheme, sector_code)
        REFERENCES client_api.industry_code (scheme, code),
    CONSTRAINT industry_code_format CHECK (code ~ '^[0-9A-Z][0-9A-Z.-]{0,15}$'),
    CONSTRAINT industry_code_title_clean CHECK (client_api.is_clean_text(title, 300)),
    CONSTRAINT industry_code_level_range CHECK (level BETWEEN 1 AND 10),
    CONSTRAINT industry_code_not_own_parent CHECK (parent_code IS DISTINCT FROM code),
    CONSTRAINT industry_code_sector_is_self_at_top CHECK ((parent_code IS NULL) = (sector_code = code))
);
CREATE INDEX industry_code_parent_idx ON client_api.industry_code (scheme, parent_code);
CREATE INDEX industry_code_title_trgm_idx ON client_api.industry_code USING gin (title client_api.gin_trgm_ops);
COMMENT ON TABLE client_api.industry_code IS
    'Industry classification codes per scheme. NAICS 2022 filled by R__reference_naics_2022.sql.';

-- ---------------------------------------------------------------------------------------------------------------------
-- Vocabularies. Lookup tables rather than enum types: the service reads and writes plain text, the reference
-- endpoints list them with labels and ordering, and foreign keys name the offending value in errors.
-- ---------------------------------------------------------------------------------------------------------------------
CREATE TABLE client_api.client_status (
    status     text     NOT NULL,
    label      text     NOT NULL,
    sort_order smallint NOT NULL,
    CONSTRAINT client_status_pkey PRIMARY KEY (status),
    CONSTRAINT client_status_sort_order_key UNIQUE (sort_order)
);
INSERT INTO client_api.client_status (status, label, sort_order) VALUES
    ('prospect', 'Prospect', 1),
    ('onboarding', 'Onboarding', 2),
    ('active', 'Active', 3),
    ('suspended', 'Suspended', 4),
    ('exited', 'Exited', 5);

-- The allowed status changes (a change to the same status is always allowed). A new client may start in any
-- status, so an existing book can be loaded as it is. docs/SCHEMA.md draws the graph.
CREATE TABLE client_api.client_status_transition (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    CONSTRAINT client_status_transition_pkey PRIMARY KEY (from_status, to_status),
    CONSTRAINT client_status_transition_from_fk FOREIGN KEY (from_status) REFERENCES client_api.client_status (status),
    CONSTRAINT client_status_transition_to_fk FOREIGN KEY (to_status) REFERENCES client_api.client_status (status),
    CONSTRAINT client_status_transition_not_self CHECK (from_status <> to_status)
);
INSERT INTO client_api.client_status_transition (from_status, to_status) VALUES
    ('prospect', 'onboarding'),
    ('prospect', 'exited'),       -- a prospect that never became a client
    ('onboarding', 'prospect'),   -- onboarding paused, back in the pipeline
    ('onboarding', 'active'),
    ('onboarding', 'exited'),
    ('active', 'suspended'),
    ('active', 'exited'),
    ('suspended', 'active'),
    ('suspended', 'exited'),
    ('exited', 'prospect');       -- a former client re-enters the pipeline

CREATE TABLE client_api.risk_rating (
    rating          text     NOT NULL,
    label           text     NOT NULL,
    severity        smallint NOT NULL,
    review_interval interval NOT NULL,
    CONSTRAINT risk_rating_pkey PRIMARY KEY (rating),
    CONSTRAINT risk_rating_severity_key UNIQUE (severity),
    CONSTRAINT risk_rating_review_interval_positive CHECK (review_interval > interval '0')
);
-- review_interval: the default time to the next review when an assessment does not name a date.
INSERT INTO client_api.risk_rating (rating, label, severity, review_interval) VALUES
    ('low', 'Low', 1, interval '24 months'),
    ('medium', 'Medium', 2, interval '12 months'),
    ('high', 'High', 3, interval '6 months'),
    ('critical', 'Critical', 4, interval '3 months');

-- Size bands by headcount, after the thresholds of EU Recommendation 2003/361/EC. Headcount only: revenue comes in
-- many currencies and a band derived from it would depend on exchange rates, which a generated column cannot use.
-- client.size_band is a generated column whose CASE repeats these bounds; a schema test checks that both agree.
CREATE TABLE client_api.size_band (
    band          text     NOT NULL,
    label         text     NOT NULL,
    min_employees integer  NOT NULL,
    max_employees integer,
    sort_order    smallint NOT NULL,
    CONSTRAINT size_band_pkey PRIMARY KEY (band),
    CONSTRAINT size_band_sort_order_key UNIQUE (sort_order),
    CONSTRAINT size_band_bounds CHECK (min_employees >= 0 AND (max_employees IS NULL OR max_employees >= min_employees))
);
INSERT INTO client_api.size_band (band, label, min_employees, max_employees, sort_order) VALUES
    ('micro', 'Micro (fewer than 10 employees)', 0, 9, 1),
    ('small', 'Small (10 to 49 employees)', 10, 49, 2),
    ('medium', 'Medium (50 to 249 employees)', 50, 249, 3),
    ('large', 'Large (250 employees or more)', 250, NULL, 4);

CREATE TABLE client_api.contact_role (
    role       text     NOT NULL,
    label      text     NOT NULL,
    sort_order smallint NOT NULL,
    CONSTRAINT contact_role_pkey PRIMARY KEY (role),
    CONSTRAINT contact_role_sort_order_key UNIQUE (sort_order)
);
INSERT INTO client_api.contact_role (role, label, sort_order) VALUES
    ('primary', 'Primary contact', 1),
    ('finance', 'Finance', 2),
    ('legal', 'Legal', 3),
    ('board_member', 'Board member', 4),
    ('executive', 'Executive', 5),
    ('operations', 'Operations', 6),
    ('other', 'Other', 7);

-- single_per_client: at most one address of this type per client (enforced by a partial unique index that lists
-- the same types; a schema test checks that both agree).
CREATE TABLE client_api.address_type (
    address_type      text     NOT NULL,
    label             text     NOT NULL,
    single_per_client boolean  NOT NULL,
    sort_order        smallint NOT NULL,
    CONSTRAINT address_type_pkey PRIMARY KEY (address_type),
    CONSTRAINT address_type_sort_order_key UNIQUE (sort_order)
);
INSERT INTO client_api.address_type (address_type, label, single_per_client, sort_order) VALUES
    ('registered', 'Registered office', true, 1),
    ('headquarters', 'Headquarters', true, 2),
    ('billing', 'Billing', true, 3),
    ('mailing', 'Mailing', true, 4),
    ('operating', 'Operating site', false, 5),
    ('other', 'Other', false, 6);
