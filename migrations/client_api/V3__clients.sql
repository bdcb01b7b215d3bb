-- V3: the client table (portfolio companies) with its constraints and the indexes behind every read path.
--
-- The rules that need more than one row (hierarchy, soft delete, status transitions, audit stamping) are the
-- triggers of V4. Derived columns (root_id, path, depth, risk_*, size_band, search_vector, version, created_*,
-- updated_*, deleted_by) are maintained by the database: values a client writes into them are replaced.
-- docs/SCHEMA.md lists every column, constraint and index with the read path it serves.

CREATE TABLE client_api.client (
    id                     uuid        NOT NULL DEFAULT client_api.uuid_generate_v7(),
    display_name           text        NOT NULL,
    legal_name             text        NOT NULL,
    lei                    text,
    registration_authority text,
    registration_number    text,
    incorporation_country  text,
    hq_country             text,
    website                text,
    status                 text        NOT NULL DEFAULT 'prospect',
    owner                  text,

    -- Hierarchy: parent_id is the truth; root_id, path and depth are maintained from it by triggers.
    -- path is '/<root id>/.../<own id>/' (37 characters per level), in the "C" collation so that a subtree is one
    -- btree range: path >= '<ancestor path>' AND path < '<ancestor path>' || '~'.
    parent_id              uuid,
    root_id                uuid        NOT NULL,
    path                   text        COLLATE "C" NOT NULL,
    depth                  smallint    NOT NULL,

    -- Metadata.
    industry_scheme        text,
    industry_code          text        COLLATE "C",
    employee_count         integer,
    size_band              text        GENERATED ALWAYS AS (
                               CASE
                                   WHEN employee_count IS NULL THEN NULL
                                   WHEN employee_count < 10 THEN 'micro'
                                   WHEN employee_count < 50 THEN 'small'
                                   WHEN employee_count < 250 THEN 'medium'
                                   ELSE 'large'
                               END) STORED,
    revenue_amount         numeric,
    revenue_currency       text,
    revenue_fiscal_year    smallint,

    -- Current risk: a copy of the latest risk_assessment, maintained by its trigger (V5).
    risk_category          text,
    risk_assessed_at       timestamptz,
    risk_next_review_due   date,

    -- Optimistic concurrency, audit, soft delete.
    version                bigint      NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    created_by             text        NOT NULL DEFAULT client_api.current_actor(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    updated_by             text        NOT NULL DEFAULT client_api.current_actor(),
    deleted_at             timestamptz,
    deleted_by             text,

    -- Full-text search document ('simple' configuration: company names are not English prose).
    search_vector          tsvector    GENERATED ALWAYS AS (
                               setweight(to_tsvector('pg_catalog.simple'::regconfig, display_name), 'A')
                               || setweight(to_tsvector('pg_catalog.simple'::regconfig, legal_name), 'A')
                               || setweight(to_tsvector('pg_catalog.simple'::regconfig,
                                      coalesce(lei, '') || ' ' || coalesce(registration_number, '')), 'B')
                               || setweight(to_tsvector('pg_catalog.simple'::regconfig, coalesce(website, '')), 'C')
                           ) STORED,

    CONSTRAINT client_pkey PRIMARY KEY (id),
    CONSTRAINT client_id_is_v7 CHECK (client_api.uuid_is_v7(id)),
    CONSTRAINT client_display_name_clean CHECK (client_api.is_clean_text(display_name, 200)),
    CONSTRAINT client_legal_name_clean CHECK (client_api.is_clean_text(legal_name, 500)),
    CONSTRAINT client_lei_valid CHECK (client_api.lei_is_valid(lei)),
    -- GLEIF Registration Authorities List code, e.g. RA000585 (UK Companies House).
    CONSTRAINT client_registration_authority_format CHECK (registration_authority ~ '^RA[0-9]{6}$'),
    CONSTRAINT client_registration_number_clean CHECK (client_api.is_clean_text(registration_number, 100)),
    CONSTRAINT client_registration_complete
        CHECK ((registration_authority IS NULL) = (registration_number IS NULL)),
    CONSTRAINT client_incorporation_country_fk FOREIGN KEY (incorporation_country)
        REFERENCES client_api.country (alpha2),
    CONSTRAINT client_hq_country_fk FOREIGN KEY (hq_country) REFERENCES client_api.country (alpha2),
    CONSTRAINT client_website_format CHECK (
        pg_catalog.length(website) <= 2048
        AND website ~ '^https?://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}\.?(:[0-9]{1,5})?([/?#][^[:space:][:cntrl:]]*)?$'),
    CONSTRAINT client_status_fk FOREIGN KEY (status) REFERENCES client_api.client_status (status),
    CONSTRAINT client_owner_clean CHECK (client_api.is_clean_text(owner, 200)),

    CONSTRAINT client_parent_fk FOREIGN KEY (parent_id) REFERENCES client_api.client (id),
    CONSTRAINT client_not_own_parent CHECK (parent_id <> id),
    CONSTRAINT client_depth_limit CHECK (depth BETWEEN 0 AND 15),
    CONSTRAINT client_root_shape CHECK ((parent_id IS NULL) = (root_id = id) AND (parent_id IS NULL) = (depth = 0)),
    CONSTRAINT client_path_shape CHECK (
        pg_catalog.length(path) = 37 * (depth + 1) + 1
        AND pg_catalog.left(path, 38) = '/' || root_id::text || '/'
        AND pg_catalog.right(path, 38) = '/' || id::text || '/'),

    CONSTRAINT client_industry_fk FOREIGN KEY (industry_scheme, industry_code)
        REFERENCES client_api.industry_code (scheme, code),
    CONSTRAINT client_industry_complete CHECK ((industry_scheme IS NULL) = (industry_code IS NULL)),
    CONSTRAINT client_employee_count_range CHECK (employee_count BETWEEN 0 AND 10000000),
    CONSTRAINT client_size_band_fk FOREIGN KEY (size_band) REFERENCES client_api.size_band (band),
    CONSTRAINT client_revenue_currency_fk FOREIGN KEY (revenue_currency) REFERENCES client_api.currency (code),
    CONSTRAINT client_revenue_complete CHECK ((revenue_amount IS NULL) = (revenue_currency IS NULL)),
    CONSTRAINT client_revenue_range CHECK (
        revenue_amount >= 0 AND revenue_amount < 1e18 AND pg_catalog.scale(pg_catalog.trim_scale(revenue_amount)) <= 4),
    CONSTRAINT client_revenue_fiscal_year_range CHECK (
        revenue_fiscal_year IS NULL OR (revenue_fiscal_year BETWEEN 1900 AND 2200 AND revenue_amount IS NOT NULL)),

    CONSTRAINT client_risk_category_fk FOREIGN KEY (risk_category) REFERENCES client_api.risk_rating (rating),
    CONSTRAINT client_risk_complete CHECK (
        (risk_category IS NULL) = (risk_assessed_at IS NULL)
        AND (risk_category IS NULL) = (risk_next_review_due IS NULL)),

    CONSTRAINT client_version_positive CHECK (version >= 1),
    CONSTRAINT client_created_by_clean CHECK (client_api.is_clean_text(created_by, 200)),
    CONSTRAINT client_updated_by_clean CHECK (client_api.is_clean_text(updated_by, 200)),
    CONSTRAINT client_deleted_complete CHECK ((deleted_at IS NULL) = (deleted_by IS NULL))
);

COMMENT ON TABLE client_api.client IS 'Portfolio companies. Soft-deleted rows keep deleted_at; live rows have it NULL.';
COMMENT ON COLUMN client_api.client.owner IS 'Relationship manager: the principal (JWT subject) who owns the client.';
COMMENT ON COLUMN client_api.client.path IS
    'Materialized path /<root>/.../<id>/ maintained from parent_id; subtree = path range; ancestors = its segments.';

-- Uniqueness among live rows only: a soft-deleted client does not block a new client with the same identifiers.
CREATE UNIQUE INDEX client_lei_live_key ON client_api.client (lei) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX client_registration_live_key ON client_api.client (registration_authority, registration_number)
    WHERE deleted_at IS NULL;

-- Hierarchy. The path index is not partial: a move rewrites deleted descendants too.
CREATE INDEX client_path_idx ON client_api.client (path);
CREATE INDEX client_parent_name_idx ON client_api.client (parent_id, display_name, id);

-- List endpoint: keyset pagination by (sort key, id) over live rows, plain and under each equality filter.
CREATE INDEX client_live_name_idx ON client_api.client (display_name, id) WHERE deleted_at IS NULL;
CREATE INDEX client_live_created_idx ON client_api.client (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX client_live_updated_idx ON client_api.client (updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX client_live_status_name_idx ON client_api.client (status, display_name, id) WHERE deleted_at IS NULL;
CREATE INDEX client_live_hq_country_name_idx ON client_api.client (hq_country, display_name, id)
    WHERE deleted_at IS NULL;
CREATE INDEX client_live_risk_name_idx ON client_api.client (risk_category, display_name, id)
    WHERE deleted_at IS NULL;
CREATE INDEX client_live_size_band_name_idx ON client_api.client (size_band, display_name, id)
    WHERE deleted_at IS NULL;
CREATE INDEX client_live_owner_name_idx ON client_api.client (owner, display_name, id) WHERE deleted_at IS NULL;
CREATE INDEX client_live_root_name_idx ON client_api.client (root_id, display_name, id) WHERE deleted_at IS NULL;
-- Industry prefix filter: industry_code >= $prefix AND industry_code < $prefix || '~' (C collation range).
CREATE INDEX client_live_industry_idx ON client_api.client (industry_scheme, industry_code, id)
    WHERE deleted_at IS NULL;
-- Risk reviews due: a client never assessed counts as due since forever.
CREATE INDEX client_live_review_due_idx
    ON client_api.client ((coalesce(risk_next_review_due, '-infinity'::date)), id) WHERE deleted_at IS NULL;

-- Text search: words (tsvector) and substrings / similarity (trigrams) over live rows.
CREATE INDEX client_live_search_idx ON client_api.client USING gin (search_vector) WHERE deleted_at IS NULL;
CREATE INDEX client_live_display_name_trgm_idx ON client_api.client USING gin (display_name client_api.gin_trgm_ops)
    WHERE deleted_at IS NULL;
CREATE INDEX client_live_legal_name_trgm_idx ON client_api.client USING gin (legal_name client_api.gin_trgm_ops)
    WHERE deleted_at IS NULL;

