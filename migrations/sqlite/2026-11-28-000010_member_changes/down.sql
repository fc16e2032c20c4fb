-- Nothing on SQLite (see `credential_changes`): the migration is here so both backends have
-- the same list.
SELECT 1;
