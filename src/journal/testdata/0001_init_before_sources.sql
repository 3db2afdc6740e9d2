-- 0001: the event log and its projections. Never edit an applied migration;
-- add 0002_*.sql instead.

CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL,
    step_id TEXT,
    type    TEXT NOT NULL,
    data    TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX events_by_run ON events (run_id, seq);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- Projections: rebuilt from events by `aios replay`, updated in the same
-- transaction as the event that changes them.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    uid           TEXT NOT NULL UNIQUE,
    workflow      TEXT NOT NULL,
    path          TEXT,
    dir           TEXT NOT NULL,
    source        TEXT NOT NULL,
    source_hash   TEXT NOT NULL,
    inputs        TEXT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    -- operational, not projected: who executes the run now
    lease_owner   TEXT,
    lease_expires INTEGER
);
CREATE INDEX runs_by_status ON runs (status, id);

CREATE TABLE steps (
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    output      TEXT,
    error       TEXT,
    started_at  INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

CREATE TABLE proposals (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
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
    decided_at  INTEGER,
    created_at  INTEGER NOT NULL,
    UNIQUE (run_id, step_id, attempt, kind)
);
CREATE INDEX proposals_by_status ON proposals (status, id);
