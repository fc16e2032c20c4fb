-- Rate limits counted where every instance sees them: one row per limit (`what`) and key,
-- holding the current fixed window. Keys are SHA-256 (hex) of what is counted (an email, a
-- client address, a session), so no email or address is kept here. A row is reset in place
-- when its window has ended; rows nobody comes back for are deleted a few at a time, through
-- the index on `expires_at`, whenever a new window starts.
CREATE TABLE rate_limits (
    what TEXT NOT NULL,
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (what, key)
);
CREATE INDEX rate_limits_by_expiry ON rate_limits (expires_at);

-- Where a CLI login was started from, shown to the person asked to confirm it.
ALTER TABLE device_codes ADD COLUMN client_address TEXT;
