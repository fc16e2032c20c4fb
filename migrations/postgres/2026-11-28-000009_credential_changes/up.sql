-- A process that keeps working team keys in memory (`service::lookups`) must hear of every
-- change that could stop one working or change what it answers, whichever instance or tool
-- made it. These triggers notify the channel `teamdeck_credentials` (`db::changes`) when such
-- a change commits; a notification carries no data, it only says "forget what you kept".
--
-- Statement-level, and only for the columns a key check reads: `last_used_at` (moved by the
-- request recorder) and `members_version` (moved by every change to a team's members) do not
-- notify, so neither empties the caches under load.
CREATE FUNCTION notify_credentials_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('teamdeck_credentials', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_credentials_changed
    AFTER UPDATE OF id, account_id, name, scope, public_id, secret_hash, last4, created_at, revoked_at OR DELETE OR TRUNCATE
    ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
CREATE TRIGGER accounts_credentials_changed
    AFTER UPDATE OF id, kind, slug, name, personal_owner_id, created_at, archived_at OR DELETE OR TRUNCATE
    ON accounts FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
