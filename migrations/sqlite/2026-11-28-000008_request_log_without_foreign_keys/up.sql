-- Request records are a log: they name the account, member and key of a call by id, ids the
-- server had just verified when it wrote them. Nothing deletes accounts, users or keys (teams
-- are archived, keys revoked), so the ON DELETE actions never ran, and checking three foreign
-- keys for every record is work the record writer does for nothing. Code that ever deletes
-- one of them must remove or detach its request records itself. SQLite cannot drop a
-- constraint, so the table is copied into one without them (nothing refers to this table).
CREATE TABLE api_requests_unchecked (
    id INTEGER PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL,
    -- a login token's member, or NULL for a team key
    user_id BIGINT,
    key_id BIGINT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO api_requests_unchecked (id, account_id, user_id, key_id, method, path, status, duration_ms, created_at)
SELECT id, account_id, user_id, key_id, method, path, status, duration_ms, created_at FROM api_requests ORDER BY id;
DROP TABLE api_requests;
ALTER TABLE api_requests_unchecked RENAME TO api_requests;
CREATE INDEX api_requests_by_account ON api_requests (account_id, created_at, id);
