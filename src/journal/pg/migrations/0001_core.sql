-- 0001 (PostgreSQL): the event log and the projections of the concerns ported so
-- far: runs, steps, inbox items (with their deadlines and snoozes) and trust marks.
-- Columns and meanings are SQLite's (src/journal/migrations/0001..0019); integers are
-- BIGINT, JSON is kept as the text SQLite keeps (key order preserved). Ids come from
-- sequences. Never edit an applied migration; add 0002_*.sql instead.

CREATE TABLE events (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id  BIGINT NOT NULL,
    step_id TEXT,
    type    TEXT NOT NULL,
    data    TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX events_by_run ON events (run_id, seq);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TABLE sources (
    hash TEXT PRIMARY KEY,
    text TEXT NOT NULL
);

-- Run ids: allocated by the database, never reused.
CREATE SEQUENCE run_ids;

CREATE TABLE runs (
    id            BIGINT PRIMARY KEY,
    uid           TEXT NOT NULL UNIQUE,
    workflow      TEXT NOT NULL,
    path          TEXT,
    dir           TEXT NOT NULL,
    source_hash   TEXT NOT NULL REFERENCES sources (hash),
    inputs        TEXT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    lease_owner   TEXT,
    lease_expires BIGINT,
    dry           TEXT
);
CREATE INDEX runs_by_status ON runs (status, dry, id);
CREATE INDEX runs_by_workflow ON runs (workflow, id);

CREATE TABLE steps (
    run_id          BIGINT NOT NULL REFERENCES runs (id),
    step_id         TEXT NOT NULL,
    idx             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    output          TEXT,
    error           TEXT,
    started_at      BIGINT,
    finished_at     BIGINT,
    wake_at         BIGINT,
    throttled_until BIGINT,
    throttled_by    TEXT,
    held            TEXT,
    PRIMARY KEY (run_id, step_id)
);

-- Inbox item ids (proposals now, notices when they are ported: one number names one
-- item).
CREATE SEQUENCE inbox_ids;

CREATE TABLE proposals (
    id          BIGINT PRIMARY KEY,
    run_id      BIGINT NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    action      TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    decision    TEXT,
    reason      TEXT,
    fields      TEXT,
    edited      TEXT,
    diff        TEXT,
    decided_by  TEXT,
    decided_at  BIGINT,
    created_at  BIGINT NOT NULL,
    deadline    BIGINT,
    on_timeout  TEXT,
    reminders   BIGINT NOT NULL DEFAULT 0,
    UNIQUE (run_id, step_id, attempt, kind)
);
CREATE INDEX proposals_by_status ON proposals (status, id);
CREATE INDEX proposals_pending_by_run ON proposals (run_id, status) WHERE status = 'pending';

CREATE TABLE proposal_snoozes (
    proposal BIGINT PRIMARY KEY,
    run_id   BIGINT NOT NULL,
    until    BIGINT NOT NULL,
    by       TEXT NOT NULL,
    at       BIGINT NOT NULL
);

CREATE TABLE trust_marks (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow TEXT NOT NULL,
    step     TEXT NOT NULL,
    level    TEXT NOT NULL,
    by       TEXT NOT NULL,
    reason   TEXT,
    run_id   BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX trust_marks_by_step ON trust_marks (workflow, step, id);
