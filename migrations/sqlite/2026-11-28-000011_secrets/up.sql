-- A team's secrets: named values its apps receive as environment variables. A value is
-- written, replaced or deleted, never shown again; it is kept encrypted (AES-256-GCM under
-- the server's secrets key, the nonce first), so the database alone does not hold it.
CREATE TABLE secrets (
    id INTEGER PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- "team key NAME" when a team key set it through the API (updated_by is then NULL)
    updated_by_key TEXT,
    updated_at BIGINT NOT NULL,
    UNIQUE (account_id, name)
);

-- One row: a known value sealed under the secrets key by the first server that started, so a
-- server started with another key refuses to start rather than list secrets it cannot open.
CREATE TABLE secrets_key_check (
    id INTEGER PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL
);
