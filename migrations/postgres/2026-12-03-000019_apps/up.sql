-- A team's deployed apps. Teamdeck records what should run (each deploy is a revision), who
-- deployed it, and what the platform's runtime reports; the runtime runs the containers.
-- `change_seq` is the runtime's cursor: every change the runtime must act on (a deploy, a
-- rollback, a delete, the team archived) gives the app the next number of
-- `app_change_counter`, taken under that row's lock so numbers commit in order.
CREATE TABLE apps (
    id BIGINT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- set when deleted; deploying the name again brings the app back
    deleted_at BIGINT,
    -- the number of the revision that should run
    current_revision INTEGER NOT NULL,
    change_seq BIGINT NOT NULL,
    -- the current revision's status as last reported (queued, building, starting, running, failed)
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    instances INTEGER NOT NULL,
    endpoint TEXT,
    status_at BIGINT NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX apps_change_seq ON apps (change_seq);

CREATE TABLE app_revisions (
    id BIGINT PRIMARY KEY NOT NULL,
    app_id BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    -- chosen by the client: the same id deploys once
    deployment_id TEXT NOT NULL,
    image TEXT NOT NULL,
    command TEXT,
    machine_type TEXT NOT NULL,
    min_instances INTEGER NOT NULL,
    max_instances INTEGER NOT NULL,
    -- the names of the team's secrets the revision receives, space-separated
    env TEXT NOT NULL,
    public BOOLEAN NOT NULL,
    rollback_of INTEGER,
    deployed_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- a member's name or "team key NAME", as it was at the deploy
    deployed_by_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    instances INTEGER NOT NULL,
    endpoint TEXT,
    status_at BIGINT NOT NULL,
    UNIQUE (app_id, number),
    UNIQUE (app_id, deployment_id)
);

-- Every status report of the runtime, kept (also those of superseded revisions, which do not
-- change the app's status); the runtime's report id makes a resent report a duplicate.
CREATE TABLE app_status_reports (
    id BIGINT PRIMARY KEY NOT NULL,
    app_id BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    report_id TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    instances INTEGER NOT NULL,
    endpoint TEXT,
    received_at BIGINT NOT NULL,
    applied BOOLEAN NOT NULL,
    UNIQUE (app_id, report_id)
);
CREATE INDEX app_status_reports_revision ON app_status_reports (app_id, revision);

CREATE TABLE app_change_counter (
    id INTEGER PRIMARY KEY NOT NULL,
    last BIGINT NOT NULL
);
INSERT INTO app_change_counter (id, last) VALUES (1, 0);

-- Usage a gateway reports for one of the team's apps.
ALTER TABLE usage_events ADD COLUMN app TEXT;
