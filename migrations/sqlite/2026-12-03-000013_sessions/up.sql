-- One signed-in browser. The cookie holds a random token; only its SHA-256 is kept here.
-- A session ends when it is revoked, idle for too long (last_seen_at) or at expires_at.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    client_address TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    second_factor_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
