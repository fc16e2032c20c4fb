DROP TRIGGER users_members_version ON users;
DROP FUNCTION bump_members_version_of_user();
DROP TRIGGER invitations_members_version ON invitations;
DROP TRIGGER memberships_members_version ON memberships;
DROP FUNCTION bump_members_version();
ALTER TABLE accounts DROP COLUMN members_version;
