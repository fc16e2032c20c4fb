-- A verified address: set by the emailed link (or an invitation to that address). Accounts
-- that exist when this runs count as verified.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = created_at;

-- A link emailed to a person: to verify their address, reset their password or confirm a
-- new address. The token is minted when the message is sent; only its SHA-256 is kept.
-- A link is used once; a newer link of the same purpose for the same person replaces it.
CREATE TABLE email_links (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('verify', 'reset', 'change_email')),
    -- the address the link was sent to (for change_email, the new address)
    email TEXT NOT NULL,
    token_hash TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    -- replaced by a newer link, or ended by a sign-in with the password (reset links)
    voided_at BIGINT
);
CREATE INDEX email_links_by_user ON email_links (user_id, purpose);

-- A queued message that carries an email link (its token is minted when it is sent).
ALTER TABLE outbox_emails ADD COLUMN email_link_id BIGINT REFERENCES email_links (id);

-- A person's own security log (shown on /account): sign-ins, password and email changes,
-- second-factor changes, new CLI tokens. Never holds a secret.
CREATE TABLE security_events (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    client_address TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX security_events_by_user ON security_events (user_id, created_at);
