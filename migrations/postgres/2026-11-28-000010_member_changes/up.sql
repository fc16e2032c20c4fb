-- What `POST /api/v1/introspect` keeps in memory about a member's login token (the member,
-- their role in the team) must be forgotten as soon as any instance or tool changes it, as
-- keys and teams are (`credential_changes`): removing a member, changing a role or revoking
-- a login token on one instance stops the token on every other within moments, not at the
-- end of the cache's TTL. Statement-level, and only for the columns an answer shows:
-- `sort_name`, `last_used_at`, `device_name` and `password_hash` do not notify.
CREATE TRIGGER memberships_credentials_changed
    AFTER UPDATE OF account_id, user_id, role OR DELETE OR TRUNCATE
    ON memberships FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
CREATE TRIGGER login_tokens_credentials_changed
    AFTER UPDATE OF id, user_id, public_id, secret_hash, revoked_at OR DELETE OR TRUNCATE
    ON login_tokens FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
CREATE TRIGGER users_credentials_changed
    AFTER UPDATE OF id, email, name OR DELETE OR TRUNCATE
    ON users FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
