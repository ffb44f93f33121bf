-- REST APIs (API Gateway v1): one document per API (resources, methods, integrations,
-- authorizers, stages inside), and the immutable snapshots its deployments froze.
CREATE TABLE rest_apis (
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE rest_api_deployments (
    api_id        TEXT NOT NULL REFERENCES rest_apis(id) ON DELETE CASCADE,
    deployment_id TEXT NOT NULL,
    doc           TEXT NOT NULL,
    PRIMARY KEY (api_id, deployment_id)
) WITHOUT ROWID;
