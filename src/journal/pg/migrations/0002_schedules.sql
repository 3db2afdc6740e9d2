-- 0002 (PostgreSQL): schedules, as SQLite's 0004 and 0009. Their own append-only
-- event log (schedule_events) and its projections: `schedules` (the registry) and
-- `fires` (one row per scheduled instant decided), keyed by (schedule, due_at) so an
-- instant is decided exactly once.

CREATE TABLE schedule_events (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule TEXT NOT NULL,
    type     TEXT NOT NULL,
    data     TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX schedule_events_by_name ON schedule_events (schedule, seq);
CREATE TRIGGER schedule_events_no_update BEFORE UPDATE OR DELETE ON schedule_events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TABLE schedules (
    name            TEXT PRIMARY KEY,
    path            TEXT NOT NULL,
    dir             TEXT NOT NULL,
    source_hash     TEXT NOT NULL REFERENCES sources (hash),
    cron            TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    overlap         TEXT NOT NULL,
    catch_up        TEXT NOT NULL,
    catch_up_window BIGINT NOT NULL,
    inputs          TEXT NOT NULL,
    paused          BOOLEAN NOT NULL DEFAULT false,
    cursor          BIGINT NOT NULL,
    next_due        BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX schedules_due ON schedules (paused, next_due);

CREATE TABLE fires (
    schedule     TEXT NOT NULL,
    due_at       BIGINT NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT,
    run_id       BIGINT REFERENCES runs (id),
    decided_at   BIGINT NOT NULL,
    first_due_at BIGINT,
    instants     BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (schedule, due_at)
);
CREATE INDEX fires_by_run ON fires (run_id);
CREATE INDEX fires_queued ON fires (status, schedule, due_at);
