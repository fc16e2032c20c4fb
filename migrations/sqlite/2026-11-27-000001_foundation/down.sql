DROP TABLE memberships;
DROP TABLE accounts;
DROP TABLE users;
