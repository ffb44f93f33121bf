-- The API service's aggregates on PostgreSQL: the logical schema of the SQLite store's
-- migrations 0004 (HTTP APIs), 0005 (domain names) and 0009 (REST APIs), written natively.
-- APIs and domain names are JSONB documents keyed by id (the domain owns their shape); the
-- immutable deployment snapshots of an API live in their own table and go with it. API mappings
-- are rows, because they are unique per (domain, key) and looked up by API and stage.
--
-- Keys are COLLATE "C" as in 0001: listings page by `id > after`, which must follow code points.
CREATE TABLE http_apis (
    id  TEXT COLLATE "C" PRIMARY KEY,
    doc JSONB NOT NULL
);

CREATE TABLE api_deployments (
    api_id        TEXT COLLATE "C" NOT NULL REFERENCES http_apis(id) ON DELETE CASCADE,
    deployment_id TEXT COLLATE "C" NOT NULL,
    doc           JSONB NOT NULL,
    PRIMARY KEY (api_id, deployment_id)
);

CREATE TABLE rest_apis (
    id  TEXT COLLATE "C" PRIMARY KEY,
    doc JSONB NOT NULL
);

CREATE TABLE rest_api_deployments (
    api_id        TEXT COLLATE "C" NOT NULL REFERENCES rest_apis(id) ON DELETE CASCADE,
    deployment_id TEXT COLLATE "C" NOT NULL,
    doc           JSONB NOT NULL,
    PRIMARY KEY (api_id, deployment_id)
);

-- Names are stored lower case by the domain; the API and stage a mapping names are checked by
-- the domain (a stage lives inside its API's document), not by foreign keys.
CREATE TABLE domain_names (
    name TEXT COLLATE "C" PRIMARY KEY,
    doc  JSONB NOT NULL
);

CREATE TABLE api_mappings (
    domain_name TEXT COLLATE "C" NOT NULL REFERENCES domain_names(name) ON DELETE CASCADE,
    id          TEXT COLLATE "C" NOT NULL,
    api_id      TEXT COLLATE "C" NOT NULL,
    stage       TEXT COLLATE "C" NOT NULL,
    mapping_key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (domain_name, id),
    CONSTRAINT api_mappings_by_key UNIQUE (domain_name, mapping_key)
);
CREATE INDEX api_mappings_by_api ON api_mappings(api_id, stage);
