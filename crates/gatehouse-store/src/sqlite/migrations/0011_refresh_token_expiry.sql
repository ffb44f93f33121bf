-- Expired refresh tokens are purged in batches (TokenStore::purge_expired_refresh_tokens):
-- find them without scanning the table.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires);
