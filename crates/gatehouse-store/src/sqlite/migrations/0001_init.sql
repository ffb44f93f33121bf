-- Aggregates are stored as JSON documents keyed by their identities; the columns beside them
-- are the keys and indexes the queries need.
CREATE TABLE user_pools (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    doc      TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE app_clients (
    client_id TEXT PRIMARY KEY,
    pool_id   TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    doc       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX app_clients_by_pool ON app_clients(pool_id, client_id);

CREATE TABLE users (
    pool_id      TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    sub          TEXT NOT NULL,
    username_key TEXT NOT NULL,
    doc          TEXT NOT NULL,
    PRIMARY KEY (pool_id, sub)
) WITHOUT ROWID;
CREATE UNIQUE INDEX users_by_username ON users(pool_id, username_key);

-- One row per attribute value, so ListUsers filters and alias sign-in are index lookups.
CREATE TABLE user_attributes (
    pool_id TEXT NOT NULL,
    sub     TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (pool_id, sub, name),
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX user_attributes_by_value ON user_attributes(pool_id, name, value);

CREATE TABLE groups (
    pool_id TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    doc     TEXT NOT NULL,
    PRIMARY KEY (pool_id, name)
) WITHOUT ROWID;

CREATE TABLE group_members (
    pool_id    TEXT NOT NULL,
    group_name TEXT NOT NULL,
    sub        TEXT NOT NULL,
    PRIMARY KEY (pool_id, group_name, sub),
    FOREIGN KEY (pool_id, group_name) REFERENCES groups(pool_id, name) ON DELETE CASCADE,
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members(pool_id, sub);

CREATE TABLE one_time_codes (
    pool_id         TEXT NOT NULL,
    sub             TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    expires         INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pool_id, sub, purpose),
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE auth_sessions (
    id_hash   TEXT PRIMARY KEY,
    pool_id   TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    username  TEXT NOT NULL,
    challenge TEXT NOT NULL,
    expires   INTEGER NOT NULL,
    data      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX auth_sessions_by_expiry ON auth_sessions(expires);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    pool_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    sub        TEXT NOT NULL,
    origin_jti TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(pool_id, sub);

CREATE TABLE signing_keys (
    pool_id       TEXT NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    kid           TEXT NOT NULL,
    private_pkcs8 BLOB NOT NULL,
    created       INTEGER NOT NULL,
    active        INTEGER NOT NULL,
    PRIMARY KEY (pool_id, kid)
) WITHOUT ROWID;
