-- A team's members page (its members, their roles, names and emails, and its pending
-- invitations) changes only when one of these rows does. Triggers count every such change
-- in `members_version`, so a rendered page can be kept and reused for as long as the
-- version read with the viewer's live role is the one it was rendered at, whichever code
-- path (or instance) made the change.
ALTER TABLE accounts ADD COLUMN members_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER memberships_insert_members_version AFTER INSERT ON memberships BEGIN
    UPDATE accounts SET members_version = members_version + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER memberships_update_members_version AFTER UPDATE ON memberships BEGIN
    UPDATE accounts SET members_version = members_version + 1 WHERE id IN (OLD.account_id, NEW.account_id);
END;
CREATE TRIGGER memberships_delete_members_version AFTER DELETE ON memberships BEGIN
    UPDATE accounts SET members_version = members_version + 1 WHERE id = OLD.account_id;
END;

CREATE TRIGGER invitations_insert_members_version AFTER INSERT ON invitations BEGIN
    UPDATE accounts SET members_version = members_version + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER invitations_update_members_version AFTER UPDATE ON invitations BEGIN
    UPDATE accounts SET members_version = members_version + 1 WHERE id IN (OLD.account_id, NEW.account_id);
END;
CREATE TRIGGER invitations_delete_members_version AFTER DELETE ON invitations BEGIN
    UPDATE accounts SET members_version = members_version + 1 WHERE id = OLD.account_id;
END;

-- A user's name and email show in every team they belong to, and as the inviter of
-- pending invitations (also in teams they have since left).
CREATE TRIGGER users_update_members_version AFTER UPDATE OF name, email ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN
    UPDATE accounts SET members_version = members_version + 1
    WHERE id IN (SELECT account_id FROM memberships WHERE user_id = NEW.id)
       OR id IN (SELECT account_id FROM invitations WHERE invited_by = NEW.id);
END;
