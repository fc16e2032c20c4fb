DROP TRIGGER api_keys_credentials_changed ON api_keys;
CREATE TRIGGER api_keys_credentials_changed
    AFTER UPDATE OF id, account_id, name, scope, public_id, secret_hash, last4, created_at, revoked_at OR DELETE OR TRUNCATE
    ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
DROP TRIGGER accounts_credentials_changed ON accounts;
CREATE TRIGGER accounts_credentials_changed
    AFTER UPDATE OF id, kind, slug, name, personal_owner_id, created_at, archived_at OR DELETE OR TRUNCATE
    ON accounts FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
DROP TABLE key_spend_alerts;
DROP INDEX usage_events_by_key;
ALTER TABLE api_requests DROP COLUMN old_secret;
ALTER TABLE accounts DROP COLUMN spend_blocked_until;
ALTER TABLE billing_profiles DROP COLUMN hard_limit;
ALTER TABLE api_keys DROP COLUMN expiry_reminded_at;
ALTER TABLE api_keys DROP COLUMN revoked_by;
ALTER TABLE api_keys DROP COLUMN created_by_key;
ALTER TABLE api_keys DROP COLUMN last_used_ip;
ALTER TABLE api_keys DROP COLUMN spend_capped_until;
ALTER TABLE api_keys DROP COLUMN spend_cap;
ALTER TABLE api_keys DROP COLUMN allowed_ips;
ALTER TABLE api_keys DROP COLUMN rotated_at;
ALTER TABLE api_keys DROP COLUMN previous_until;
ALTER TABLE api_keys DROP COLUMN previous_last4;
ALTER TABLE api_keys DROP COLUMN previous_secret_hash;
ALTER TABLE api_keys DROP COLUMN expires_at;
