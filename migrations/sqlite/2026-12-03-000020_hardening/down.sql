ALTER TABLE accounts DROP COLUMN usage_quantity;
ALTER TABLE accounts DROP COLUMN usage_amount;
CREATE TABLE usage_events_new (
    -- the gateway's own id: a re-sent event is recognised by it and changes nothing
    id TEXT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- the member behind a login token, or NULL for a team key
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    key_id BIGINT REFERENCES api_keys (id) ON DELETE SET NULL,
    product TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    -- quantity × unit_price
    amount BIGINT NOT NULL,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    -- the team's app the work was for, if the gateway said (000019)
    app TEXT,
    PRIMARY KEY (id)
);
INSERT INTO usage_events_new SELECT id, account_id, user_id, key_id, product, quantity, unit, unit_price, amount, at, received_at, app FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_new RENAME TO usage_events;
CREATE INDEX usage_events_by_account ON usage_events (account_id, at);
CREATE INDEX usage_events_by_time ON usage_events (at, account_id);
-- a key's spend this month (000018)
CREATE INDEX usage_events_by_key ON usage_events (key_id, at);
