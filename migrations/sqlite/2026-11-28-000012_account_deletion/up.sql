-- A deleted account: the user's row stays (what they did keeps a name to point at), with its
-- email, name and password replaced, and this set; a session of it is signed out.
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
