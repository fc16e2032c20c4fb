-- Request records are a log: they name the account, member and key of a call by id, ids the
-- server had just verified when it wrote them. Checking three foreign keys for every record
-- (a query and a FOR KEY SHARE row lock on the account and the key each) was about 40 % of
-- PostgreSQL's CPU under a load of API calls, and those locks made the record writer and a
-- team's archiving (FOR UPDATE on the account) wait on each other. Nothing deletes accounts,
-- users or keys (teams are archived, keys revoked), so the ON DELETE actions never ran; code
-- that ever deletes one of them must remove or detach its request records itself. (The
-- SQLite migration copies the table, which cannot drop a constraint in place.)
ALTER TABLE api_requests
    DROP CONSTRAINT api_requests_account_id_fkey,
    DROP CONSTRAINT api_requests_user_id_fkey,
    DROP CONSTRAINT api_requests_key_id_fkey;
