ALTER TABLE usage_events DROP COLUMN app;
DROP TABLE app_change_counter;
DROP TABLE app_status_reports;
DROP TABLE app_revisions;
DROP TABLE apps;
