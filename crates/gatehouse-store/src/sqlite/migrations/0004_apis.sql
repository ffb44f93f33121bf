-- HTTP APIs: one document per API (routes, integrations, authorizers, stages inside), and the
-- immutable snapshots its deployments froze.
CREATE TABLE http_apis (
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_deployments (
    api_id        TEXT NOT NULL REFERENCES http_apis(id) ON DELETE CASCADE,
    deployment_id TEXT NOT NULL,
    doc           TEXT NOT NULL,
    PRIMARY KEY (api_id, deployment_id)
) WITHOUT ROWID;
