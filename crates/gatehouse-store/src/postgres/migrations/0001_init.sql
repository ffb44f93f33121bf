-- The user-pool aggregates on PostgreSQL: the logical schema of the SQLite store's migrations
-- 0001, 0003 and 0007, written natively. Aggregates are JSONB documents keyed by their
-- identities; the columns beside them are the keys and indexes the queries need.
--
-- Every key column is COLLATE "C": listings page by `key > after` and ListUsers prefix filters
-- are ranges, so keys must sort by code point (as SQLite's BINARY does and as Rust's String
-- compares), whatever locale the database was created with. It also lets plain B-tree indexes
-- answer those ranges.
CREATE TABLE user_pools (
    id   TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    doc  JSONB NOT NULL
);

CREATE TABLE app_clients (
    client_id TEXT COLLATE "C" PRIMARY KEY,
    pool_id   TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    doc       JSONB NOT NULL
);
CREATE INDEX app_clients_by_pool ON app_clients(pool_id, client_id);

CREATE TABLE users (
    pool_id      TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    sub          TEXT COLLATE "C" NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    doc          JSONB NOT NULL,
    PRIMARY KEY (pool_id, sub),
    CONSTRAINT users_by_username UNIQUE (pool_id, username_key)
);

-- One row per attribute value, so ListUsers filters and alias sign-in are index lookups.
CREATE TABLE user_attributes (
    pool_id TEXT COLLATE "C" NOT NULL,
    sub     TEXT COLLATE "C" NOT NULL,
    name    TEXT COLLATE "C" NOT NULL,
    value   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (pool_id, sub, name),
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
);
CREATE INDEX user_attributes_by_value ON user_attributes(pool_id, name, value);

CREATE TABLE groups (
    pool_id TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    name    TEXT COLLATE "C" NOT NULL,
    doc     JSONB NOT NULL,
    PRIMARY KEY (pool_id, name)
);

CREATE TABLE group_members (
    pool_id    TEXT COLLATE "C" NOT NULL,
    group_name TEXT COLLATE "C" NOT NULL,
    sub        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (pool_id, group_name, sub),
    FOREIGN KEY (pool_id, group_name) REFERENCES groups(pool_id, name) ON DELETE CASCADE,
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
);
CREATE INDEX group_members_by_user ON group_members(pool_id, sub);

CREATE TABLE one_time_codes (
    pool_id         TEXT COLLATE "C" NOT NULL,
    sub             TEXT COLLATE "C" NOT NULL,
    purpose         TEXT COLLATE "C" NOT NULL,
    code_hash       TEXT NOT NULL,
    expires         BIGINT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    PRIMARY KEY (pool_id, sub, purpose),
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
);

CREATE TABLE auth_sessions (
    id_hash   TEXT COLLATE "C" PRIMARY KEY,
    pool_id   TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    username  TEXT NOT NULL,
    challenge TEXT NOT NULL,
    expires   BIGINT NOT NULL,
    data      JSONB NOT NULL
);
CREATE INDEX auth_sessions_by_expiry ON auth_sessions(expires);
-- For the cascade when a pool is deleted.
CREATE INDEX auth_sessions_by_pool ON auth_sessions(pool_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    pool_id    TEXT COLLATE "C" NOT NULL,
    client_id  TEXT COLLATE "C" NOT NULL,
    sub        TEXT COLLATE "C" NOT NULL,
    origin_jti TEXT COLLATE "C" NOT NULL,
    auth_time  BIGINT NOT NULL,
    created    BIGINT NOT NULL,
    expires    BIGINT NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE,
    -- The scopes an OAuth grant gave the token, space-separated; NULL for Cognito API sign-ins.
    scopes     TEXT,
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(pool_id, sub);
-- DeleteUserPoolClient drops the client's tokens.
CREATE INDEX refresh_tokens_by_client ON refresh_tokens(pool_id, client_id);

CREATE TABLE signing_keys (
    pool_id       TEXT COLLATE "C" NOT NULL REFERENCES user_pools(id) ON DELETE CASCADE,
    kid           TEXT COLLATE "C" NOT NULL,
    private_pkcs8 BYTEA NOT NULL,
    created       BIGINT NOT NULL,
    active        BOOLEAN NOT NULL,
    PRIMARY KEY (pool_id, kid)
);

-- Revoked refresh-token families (GlobalSignOut, AdminUserGlobalSignOut, RevokeToken), keyed by
-- the origin_jti every token of the family carries. Nodes load the live rows at start and then
-- read rows after the highest seq they have seen. Writers serialize on an advisory lock (see
-- postgres/aggregates.rs) so that seqs become visible in order and no reader skips one.
CREATE TABLE revoked_token_families (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin_jti TEXT COLLATE "C" NOT NULL UNIQUE,
    pool_id    TEXT COLLATE "C" NOT NULL,
    sub        TEXT COLLATE "C" NOT NULL,
    revoked_at BIGINT NOT NULL,
    expires    BIGINT NOT NULL
);
CREATE INDEX revoked_token_families_by_expiry ON revoked_token_families(expires);
