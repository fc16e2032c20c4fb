-- A team's members page (its members, their roles, names and emails, and its pending
-- invitations) changes only when one of these rows does. Triggers count every such change
-- in `members_version`, so a rendered page can be kept and reused for as long as the
-- version read with the viewer's live role is the one it was rendered at, whichever code
-- path (or instance) made the change.
--
-- The triggers are deferred to commit: the account row is then locked as a transaction's
-- last step, when it waits for nothing else, so a transaction that changes several
-- invitations or memberships never holds the account while waiting for a row another one
-- holds while waiting for the account (archiving a team while an invitation is accepted or
-- sent, a bulk invite resending what the outbox is sending).
ALTER TABLE accounts ADD COLUMN members_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION bump_members_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE accounts SET members_version = members_version + 1 WHERE id = NEW.account_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE accounts SET members_version = members_version + 1 WHERE id = OLD.account_id;
    ELSE
        UPDATE accounts SET members_version = members_version + 1 WHERE id IN (OLD.account_id, NEW.account_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER memberships_members_version AFTER INSERT OR UPDATE OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_members_version();
CREATE CONSTRAINT TRIGGER invitations_members_version AFTER INSERT OR UPDATE OR DELETE ON invitations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_members_version();

-- A user's name and email show in every team they belong to, and as the inviter of
-- pending invitations (also in teams they have since left).
CREATE FUNCTION bump_members_version_of_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET members_version = members_version + 1
    WHERE id IN (SELECT account_id FROM memberships WHERE user_id = NEW.id)
       OR id IN (SELECT account_id FROM invitations WHERE invited_by = NEW.id);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER users_members_version AFTER UPDATE OF name, email ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION bump_members_version_of_user();
