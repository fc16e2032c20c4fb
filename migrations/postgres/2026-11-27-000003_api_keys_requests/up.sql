-- Team API keys, members' login tokens, and the record of authenticated API requests.

CREATE TABLE api_keys (
    id BIGINT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('API', 'ADMIN')),
    -- the key's public part, unique: verification is one indexed lookup by it
    public_id TEXT NOT NULL UNIQUE,
    -- SHA-256 (hex) of the secret part; the secret itself is never stored
    secret_hash TEXT NOT NULL,
    last4 TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);

CREATE TABLE login_tokens (
    id BIGINT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name TEXT NOT NULL,
    public_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX login_tokens_by_user ON login_tokens (user_id, created_at);

CREATE TABLE api_requests (
    id BIGINT PRIMARY KEY NOT NULL,
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
CREATE INDEX api_requests_by_account ON api_requests (account_id, created_at, id);
