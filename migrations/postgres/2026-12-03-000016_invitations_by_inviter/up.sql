-- Each person's invitations of the last 24 hours are counted, across every team, before
-- more are sent (`service::invitation_budgets`): found by who made them, not by scanning
-- the audit log.
CREATE INDEX audit_events_by_actor ON audit_events (actor_id, created_at);
