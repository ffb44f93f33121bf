-- Revoked refresh-token families (GlobalSignOut, AdminUserGlobalSignOut, RevokeToken), keyed by
-- the origin_jti every token of the family carries. Nodes load the live rows at start and poll
-- for rows after the highest seq they have seen, so the per-request check stays in memory.
-- A row is kept until `expires`: past it no token of the family can still be valid.
CREATE TABLE revoked_token_families (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    origin_jti TEXT NOT NULL UNIQUE,
    pool_id    TEXT NOT NULL,
    sub        TEXT NOT NULL,
    revoked_at INTEGER NOT NULL,
    expires    INTEGER NOT NULL
);
CREATE INDEX revoked_token_families_by_expiry ON revoked_token_families(expires);
