-- Request records get their ids from the database, in the order written: an INTEGER
-- PRIMARY KEY inserted without a value gets max(rowid) + 1. The records already here have
-- random ids; they are renumbered in the order they were written (negated first, so no new
-- number meets an old one), so new ids start right after them instead of near the top of
-- the range. Nothing refers to these ids. (The PostgreSQL migration adds an identity.)
UPDATE api_requests SET id = -id;
UPDATE api_requests SET id = numbered.n
FROM (SELECT id AS old, row_number() OVER (ORDER BY created_at, id DESC) AS n FROM api_requests) AS numbered
WHERE api_requests.id = numbered.old;
