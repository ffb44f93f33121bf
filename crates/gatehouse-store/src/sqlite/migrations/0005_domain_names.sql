-- Custom domain names (API Gateway v2) and the API mappings that route their requests to a
-- stage of an API. A mapping key is unique per domain; the API and stage it names are checked
-- by the domain layer (an API or stage with mappings cannot be deleted), not by foreign keys,
-- since a stage lives inside its API's document.
CREATE TABLE domain_names (
    name TEXT PRIMARY KEY,
    doc  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_mappings (
    domain_name TEXT NOT NULL REFERENCES domain_names(name) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    api_id      TEXT NOT NULL,
    stage       TEXT NOT NULL,
    mapping_key TEXT NOT NULL,
    PRIMARY KEY (domain_name, id),
    UNIQUE (domain_name, mapping_key)
) WITHOUT ROWID;

CREATE INDEX api_mappings_by_api ON api_mappings (api_id, stage);
