DROP TABLE audit_events;
DROP TABLE outbox_emails;
DROP TABLE invitations;
