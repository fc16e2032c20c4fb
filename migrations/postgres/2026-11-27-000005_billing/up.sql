-- Usage reported by the platform's gateways, the prepaid credit ledger, invoices, billing
-- details and spend alerts. Money is integer micro-dollars (1 USD = 1,000,000).

-- One model call (or other metered use), as a gateway reported it.
CREATE TABLE usage_events (
    -- the gateway's own id: a re-sent event is recognised by it and changes nothing
    id TEXT PRIMARY KEY NOT NULL,
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
    received_at BIGINT NOT NULL
);
CREATE INDEX usage_events_by_account ON usage_events (account_id, at);
-- the month-close job finds the teams that used something in a month without a full scan
CREATE INDEX usage_events_by_time ON usage_events (at, account_id);

-- Gap-free invoice numbers: the last number used in each year.
CREATE TABLE invoice_numbers (
    year INTEGER PRIMARY KEY NOT NULL,
    last BIGINT NOT NULL
);

CREATE TABLE invoices (
    id BIGINT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('usage', 'credits')),
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void')),
    -- 'YYYY-MM' of a monthly usage invoice; NULL for a credit purchase
    period TEXT,
    currency TEXT NOT NULL,
    total BIGINT NOT NULL,
    -- what was printed on it when issued: later changes of details do not rewrite it
    issuer TEXT NOT NULL,
    payee TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    customer_email TEXT NOT NULL,
    customer_address TEXT NOT NULL,
    customer_tax_id TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    due_at BIGINT,
    paid_at BIGINT,
    voided_at BIGINT,
    -- who settled it: the operator command or the payment provider's event id
    paid_by TEXT,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL
);
-- one usage invoice per team and month, however often the month is closed
CREATE UNIQUE INDEX invoices_one_per_period ON invoices (account_id, period);
CREATE INDEX invoices_by_account ON invoices (account_id, issued_at);

CREATE TABLE invoice_lines (
    id BIGINT PRIMARY KEY NOT NULL,
    invoice_id BIGINT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    description TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    amount BIGINT NOT NULL
);
CREATE INDEX invoice_lines_by_invoice ON invoice_lines (invoice_id, position);

-- Append-only: the balance is the sum of the amounts, never a stored field.
CREATE TABLE ledger_entries (
    id BIGINT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('purchase', 'usage', 'adjustment')),
    -- credits added are positive, usage is negative
    amount BIGINT NOT NULL,
    description TEXT NOT NULL,
    -- the paid credit invoice of a purchase: at most one purchase per invoice
    invoice_id BIGINT UNIQUE REFERENCES invoices (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id, created_at);

CREATE TABLE billing_profiles (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    billing_email TEXT NOT NULL,
    legal_name TEXT NOT NULL,
    address TEXT NOT NULL,
    tax_id TEXT NOT NULL,
    -- monthly spend limit in micro-dollars; NULL for none
    monthly_limit BIGINT,
    updated_at BIGINT NOT NULL
);

-- A spend alert sent: at most one per team, month and threshold.
CREATE TABLE spend_alerts (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    period TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, period, threshold)
);

-- Payment-provider webhook events already processed: a replayed id is refused.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY NOT NULL,
    received_at BIGINT NOT NULL
);
