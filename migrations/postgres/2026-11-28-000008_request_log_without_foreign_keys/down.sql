ALTER TABLE api_requests
    ADD CONSTRAINT api_requests_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE,
    ADD CONSTRAINT api_requests_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL,
    ADD CONSTRAINT api_requests_key_id_fkey FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE SET NULL;
