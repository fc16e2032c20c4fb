DROP TRIGGER accounts_credentials_changed ON accounts;
DROP TRIGGER api_keys_credentials_changed ON api_keys;
DROP FUNCTION notify_credentials_changed();
