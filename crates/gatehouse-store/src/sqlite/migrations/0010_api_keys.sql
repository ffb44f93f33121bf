-- API keys and usage plans (API Gateway v1). A key's value is looked up by its SHA-256 (hex),
-- indexed and unique as AWS keeps values unique; the value itself is kept sealed when the
-- node has a master key (`value_sealed = 1`). Usage is counted per plan, key and UTC day
-- (days since the epoch): quotas sum the days of their period, GetUsage lists them.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    value_hash   TEXT NOT NULL UNIQUE,
    value        TEXT NOT NULL,
    value_sealed INTEGER NOT NULL,
    name         TEXT NOT NULL,
    customer_id  TEXT,
    doc          TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE usage_plans (
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE usage_plan_keys (
    plan_id TEXT NOT NULL REFERENCES usage_plans(id) ON DELETE CASCADE,
    key_id  TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    PRIMARY KEY (plan_id, key_id)
) WITHOUT ROWID;

CREATE INDEX usage_plan_keys_by_key ON usage_plan_keys(key_id);

CREATE TABLE usage_counters (
    plan_id TEXT NOT NULL REFERENCES usage_plans(id) ON DELETE CASCADE,
    key_id  TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    day     INTEGER NOT NULL,
    used    INTEGER NOT NULL,
    PRIMARY KEY (plan_id, key_id, day)
) WITHOUT ROWID;

CREATE INDEX usage_counters_by_day ON usage_counters(day);
