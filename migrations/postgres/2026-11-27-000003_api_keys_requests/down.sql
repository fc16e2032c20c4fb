DROP TABLE api_requests;
DROP TABLE login_tokens;
DROP TABLE api_keys;
