-- 0004: schedules. Their own append-only event log (schedule_events) and the
-- projections derived from it: `schedules` (the registry) and `fires` (one row per
-- scheduled instant decided: started, queued or skipped). A fire is keyed by
-- (schedule, due_at), so a scheduled instant is decided exactly once.

CREATE TABLE schedule_events (
    seq      INTEGER PRIMARY KEY,
    schedule TEXT NOT NULL,
    type     TEXT NOT NULL,
    data     TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX schedule_events_by_name ON schedule_events (schedule, seq);

CREATE TRIGGER schedule_events_no_update BEFORE UPDATE ON schedule_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER schedule_events_no_delete BEFORE DELETE ON schedule_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE schedules (
    name            TEXT PRIMARY KEY,
    path            TEXT NOT NULL,
    dir             TEXT NOT NULL,
    source_hash     TEXT NOT NULL REFERENCES sources (hash),
    cron            TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    overlap         TEXT NOT NULL,
    catch_up        TEXT NOT NULL,
    catch_up_window INTEGER NOT NULL,
    inputs          TEXT NOT NULL,
    paused          INTEGER NOT NULL DEFAULT 0,
    -- every scheduled instant at or before `cursor` has been decided
    cursor          INTEGER NOT NULL,
    -- the first scheduled instant after `cursor` (NULL: never again)
    next_due        INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX schedules_due ON schedules (paused, next_due);

CREATE TABLE fires (
    schedule   TEXT NOT NULL,
    due_at     INTEGER NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT,
    run_id     INTEGER REFERENCES runs (id),
    decided_at INTEGER NOT NULL,
    PRIMARY KEY (schedule, due_at)
) WITHOUT ROWID;
CREATE INDEX fires_by_run ON fires (run_id);
CREATE INDEX fires_queued ON fires (status, schedule, due_at);
