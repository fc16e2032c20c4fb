DROP TABLE secrets_key_check;
DROP TABLE secrets;
