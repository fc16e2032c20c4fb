ALTER TABLE accounts DROP COLUMN usage_quantity;
ALTER TABLE accounts DROP COLUMN usage_amount;
ALTER TABLE usage_events DROP CONSTRAINT usage_events_pkey;
ALTER TABLE usage_events ADD PRIMARY KEY (id);
