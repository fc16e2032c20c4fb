-- A usage event's id is the gateway's, unique within its team only: one team's ids can no
-- longer shadow (and so drop) another's events.
ALTER TABLE usage_events DROP CONSTRAINT usage_events_pkey;
ALTER TABLE usage_events ADD PRIMARY KEY (account_id, id);

-- Each team's usage so far, kept by every ingestion in its transaction: an event that would
-- carry either past a 64-bit integer is refused, so every sum of a team's usage fits.
ALTER TABLE accounts ADD COLUMN usage_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN usage_quantity BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET
    usage_amount = (SELECT COALESCE(SUM(amount), 0) FROM usage_events WHERE usage_events.account_id = accounts.id),
    usage_quantity = (SELECT COALESCE(SUM(quantity), 0) FROM usage_events WHERE usage_events.account_id = accounts.id);
