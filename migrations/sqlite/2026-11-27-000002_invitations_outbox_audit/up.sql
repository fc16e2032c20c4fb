-- Invitations, the email outbox and the audit log.

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'billing')),
    invited_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- SHA-256 (hex) of the token in the emailed link; the token itself is never stored
    token_hash TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined', 'cancelled')),
    delivery TEXT NOT NULL CHECK (delivery IN ('queued', 'sent', 'failed')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- at most one pending invitation per team and address
CREATE UNIQUE INDEX invitations_one_pending ON invitations (account_id, email_normalized) WHERE state = 'pending';
CREATE INDEX invitations_by_account ON invitations (account_id, state, created_at);

-- Written in the same transaction as the change that causes it; delivered by a worker.
CREATE TABLE outbox_emails (
    id INTEGER PRIMARY KEY NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    invitation_id BIGINT REFERENCES invitations (id) ON DELETE SET NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    -- a worker's claim: its lease id and until when it holds the row
    lease BIGINT,
    leased_until BIGINT,
    sent_at BIGINT,
    failed_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_emails_due ON outbox_emails (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

-- Append-only: who did what in an account. Never holds a secret.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_by_account ON audit_events (account_id, created_at, id);
