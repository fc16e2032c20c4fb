-- Nothing on SQLite: it has no way to tell another connection that a change committed, so a
-- process on SQLite never answers a key check from memory (`db::changes`). The migration is
-- here so both backends have the same list.
SELECT 1;
