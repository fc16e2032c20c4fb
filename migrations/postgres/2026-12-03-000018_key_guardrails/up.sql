-- Key lifecycle and guardrails (`service::keys`): expiry, rotation with an overlap, an
-- address allowlist, a monthly spend cap, and who archived a key.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
-- After a rotation, the old secret's hash and how long it keeps working (the grace).
ALTER TABLE api_keys ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE api_keys ADD COLUMN previous_last4 TEXT;
ALTER TABLE api_keys ADD COLUMN previous_until BIGINT;
ALTER TABLE api_keys ADD COLUMN rotated_at BIGINT;
-- CIDR ranges separated by spaces; empty: any address.
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
-- Micro-dollars per calendar month; NULL: no cap.
ALTER TABLE api_keys ADD COLUMN spend_cap BIGINT;
-- Set by usage ingestion when the month's spend reaches the cap: the end of that month.
ALTER TABLE api_keys ADD COLUMN spend_capped_until BIGINT;
ALTER TABLE api_keys ADD COLUMN last_used_ip TEXT;
-- A key made with a team key names that key (`created_by` names a member).
ALTER TABLE api_keys ADD COLUMN created_by_key TEXT;
ALTER TABLE api_keys ADD COLUMN revoked_by TEXT;
ALTER TABLE api_keys ADD COLUMN expiry_reminded_at BIGINT;
-- A team's monthly limit may be hard: every credential of the team stops at introspection
-- once it is reached, until the end of the month (`spend_blocked_until`).
ALTER TABLE billing_profiles ADD COLUMN hard_limit BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN spend_blocked_until BIGINT;
-- Requests made with a rotated key's old secret, so the team can find who has not switched.
ALTER TABLE api_requests ADD COLUMN old_secret BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX usage_events_by_key ON usage_events (key_id, at);
CREATE TABLE key_spend_alerts (
    key_id BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    period TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, period, threshold)
);
-- The columns a key check reads notify the instances that keep keys in memory; the spend
-- flags too (a cap reached is seen everywhere at once), while `last_used_ip`, like
-- `last_used_at`, does not.
DROP TRIGGER api_keys_credentials_changed ON api_keys;
CREATE TRIGGER api_keys_credentials_changed
    AFTER UPDATE OF id, account_id, name, scope, public_id, secret_hash, last4, created_at, revoked_at,
        expires_at, previous_secret_hash, previous_until, allowed_ips, spend_cap, spend_capped_until
        OR DELETE OR TRUNCATE
    ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
DROP TRIGGER accounts_credentials_changed ON accounts;
CREATE TRIGGER accounts_credentials_changed
    AFTER UPDATE OF id, kind, slug, name, personal_owner_id, created_at, archived_at, spend_blocked_until
        OR DELETE OR TRUNCATE
    ON accounts FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
