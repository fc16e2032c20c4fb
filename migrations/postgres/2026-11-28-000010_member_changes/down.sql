DROP TRIGGER users_credentials_changed ON users;
DROP TRIGGER login_tokens_credentials_changed ON login_tokens;
DROP TRIGGER memberships_credentials_changed ON memberships;
