-- Devices of users (remembered devices). Unconfirmed rows are devices issued at sign-in
-- that the client has not confirmed yet.
CREATE TABLE devices (
    pool_id    TEXT NOT NULL,
    device_key TEXT NOT NULL,
    sub        TEXT NOT NULL,
    confirmed  INTEGER NOT NULL,
    created    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (pool_id, device_key),
    FOREIGN KEY (pool_id, sub) REFERENCES users(pool_id, sub) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX devices_by_user ON devices(pool_id, sub, confirmed, device_key);
