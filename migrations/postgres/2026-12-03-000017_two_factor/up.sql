-- Second factors. An authenticator app (TOTP): one per person, its secret sealed under the
-- secrets key (AES-256-GCM, bound to the person), unconfirmed until a current code was
-- typed; last_step is the time step of the last code accepted, so no code works twice.
CREATE TABLE totp_factors (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed BYTEA NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Recovery codes: single use, only their SHA-256 kept; a new set replaces the old one.
CREATE TABLE recovery_codes (
    id BIGINT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

-- A sign-in half done: the password was right and the second factor is awaited. The
-- browser holds a random token in a cookie of its own; only its SHA-256 is kept.
-- Short-lived, with its own count of wrong codes.
CREATE TABLE sign_in_challenges (
    id BIGINT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    next TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sign_in_challenges_by_expiry ON sign_in_challenges (expires_at);
