-- Devices, the OAuth configuration of a pool, and API keys with usage plans on PostgreSQL: the
-- logical schema of the SQLite store's migrations 0002, 0006 and 0010, written natively (JSONB
-- documents beside the key columns the queries need, every key column COLLATE "C").

-- Devices of users (remembered devices). Unconfirmed rows are devices issued at sign-in that
-- the client has not confirmed yet.
CREATE TABLE devices (
    pool_id    TEXT COLLATE "C" NOT NULL,
    device_key TEXT COLLATE "C" NOT NULL,
    sub        TEXT COLLATE "C" NOT NULL,
    confirmed  BOOLEAN NOT NULL,
    created    BIGINT NOT NULL,
    doc        JSONB NOT NULL,
    PRIMARY KEY (pool_id, device_key),
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
);
-- ListDevices, the stale-pending sweep, and the cascade when a user is deleted.
CREATE INDEX devices_by_user ON devices(pool_id, sub, confirmed, device_key);

-- Domain names are globally unique; a pool holds at most one prefix and one custom domain.
CREATE TABLE user_pool_domains (
    domain  TEXT COLLATE "C" PRIMARY KEY,
    pool_id TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    kind    TEXT NOT NULL CHECK (kind IN ('prefix', 'custom')),
    doc     JSONB NOT NULL,
    CONSTRAINT user_pool_domains_by_pool UNIQUE (pool_id, kind)
);

CREATE TABLE resource_servers (
    pool_id    TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    identifier TEXT COLLATE "C" NOT NULL,
    doc        JSONB NOT NULL,
    PRIMARY KEY (pool_id, identifier)
);

-- One row per app client, or per pool with client_id 'ALL'. The logo is kept beside the
-- document so reading the CSS does not drag 100 KB of image along. A client's customization
-- goes with the client: `client_ref` is the client id except for the pool-wide row, and
-- references the client (SQLite does this with a trigger).
CREATE TABLE ui_customizations (
    pool_id    TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    client_id  TEXT COLLATE "C" NOT NULL,
    client_ref TEXT COLLATE "C" GENERATED ALWAYS AS (NULLIF(client_id, 'ALL')) STORED
               REFERENCES app_clients(client_id) ON DELETE CASCADE,
    doc        JSONB NOT NULL,
    image      BYTEA,
    PRIMARY KEY (pool_id, client_id)
);
CREATE INDEX ui_customizations_by_client ON ui_customizations(client_ref);

-- API keys and usage plans (API Gateway v1). A key's value is looked up by its SHA-256 (hex),
-- unique as AWS keeps values unique; the value itself is kept sealed when the node has a master
-- key. Usage is counted per plan, key and UTC day (days since the epoch).
CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    value_hash   TEXT COLLATE "C" NOT NULL CONSTRAINT api_keys_value_hash UNIQUE,
    value        TEXT NOT NULL,
    value_sealed BOOLEAN NOT NULL,
    name         TEXT NOT NULL,
    customer_id  TEXT,
    doc          JSONB NOT NULL
);

CREATE TABLE usage_plans (
    id  TEXT COLLATE "C" PRIMARY KEY,
    doc JSONB NOT NULL
);

CREATE TABLE usage_plan_keys (
    plan_id TEXT COLLATE "C" NOT NULL REFERENCES usage_plans(id) ON DELETE CASCADE,
    key_id  TEXT COLLATE "C" NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    PRIMARY KEY (plan_id, key_id)
);
CREATE INDEX usage_plan_keys_by_key ON usage_plan_keys(key_id, plan_id);

CREATE TABLE usage_counters (
    plan_id TEXT COLLATE "C" NOT NULL REFERENCES usage_plans(id) ON DELETE CASCADE,
    key_id  TEXT COLLATE "C" NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    day     BIGINT NOT NULL,
    used    BIGINT NOT NULL,
    PRIMARY KEY (plan_id, key_id, day)
);
CREATE INDEX usage_counters_by_day ON usage_counters(day);
-- For the cascade when a key is deleted.
CREATE INDEX usage_counters_by_key ON usage_counters(key_id);
