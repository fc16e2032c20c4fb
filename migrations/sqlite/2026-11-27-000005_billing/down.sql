DROP TABLE webhook_events;
DROP TABLE spend_alerts;
DROP TABLE billing_profiles;
DROP TABLE ledger_entries;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE invoice_numbers;
DROP TABLE usage_events;
