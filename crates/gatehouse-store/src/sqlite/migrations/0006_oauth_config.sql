-- The OAuth configuration of a pool: its domains, resource servers and hosted-UI customizations.

-- Domain names are globally unique; a pool holds at most one prefix and one custom domain.
CREATE TABLE user_pool_domains (
    domain  TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    kind    TEXT NOT NULL CHECK (kind IN ('prefix', 'custom')),
    doc     TEXT NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX user_pool_domains_by_pool ON user_pool_domains(pool_id, kind);

CREATE TABLE resource_servers (
    pool_id    TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    identifier TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (pool_id, identifier)
) WITHOUT ROWID;

-- One row per app client, or per pool with client_id 'ALL'. The logo is kept beside the
-- document so reading the CSS does not drag 100 KB of image along.
CREATE TABLE ui_customizations (
    pool_id   TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    doc       TEXT NOT NULL,
    image     BLOB,
    PRIMARY KEY (pool_id, client_id)
) WITHOUT ROWID;

-- A client's customization goes with the client.
CREATE TRIGGER ui_customizations_follow_clients AFTER DELETE ON app_clients
BEGIN
    DELETE FROM ui_customizations
     WHERE pool_id = OLD.pool_id AND client_id = OLD.client_id;
END;
