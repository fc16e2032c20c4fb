DROP TABLE security_events;
ALTER TABLE outbox_emails DROP COLUMN email_link_id;
DROP TABLE email_links;
ALTER TABLE users DROP COLUMN email_verified_at;
