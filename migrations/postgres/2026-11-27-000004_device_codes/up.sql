-- The CLI's browser login (device authorisation, RFC 8628 style).
CREATE TABLE device_codes (
    id BIGINT PRIMARY KEY NOT NULL,
    -- SHA-256 (hex) of the code the CLI polls with; the code itself is never stored
    device_code_hash TEXT NOT NULL UNIQUE,
    -- the short code a person confirms in the browser
    user_code TEXT NOT NULL UNIQUE,
    device_name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'used')),
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
