CREATE TABLE api_requests_checked (
    id INTEGER PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- a login token's member, or NULL for a team key
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    key_id BIGINT REFERENCES api_keys (id) ON DELETE SET NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO api_requests_checked (id, account_id, user_id, key_id, method, path, status, duration_ms, created_at)
SELECT id, account_id, user_id, key_id, method, path, status, duration_ms, created_at FROM api_requests ORDER BY id;
DROP TABLE api_requests;
ALTER TABLE api_requests_checked RENAME TO api_requests;
CREATE INDEX api_requests_by_account ON api_requests (account_id, created_at, id);
