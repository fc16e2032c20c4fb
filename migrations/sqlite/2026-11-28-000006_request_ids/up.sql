-- Request records get their ids from the database, past every existing one. Nothing to
-- change here: an INTEGER PRIMARY KEY inserted without a value already gets max(rowid) + 1.
-- (The PostgreSQL migration of the same name adds an identity.)
SELECT 1;
