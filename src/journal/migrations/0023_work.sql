-- 0023: the queue of runs handed to workers (`aios run --detach`, or a run whose
-- next step needs `runs_on` tags its driver lacks), and the workers (`aios worker`)
-- that claim them. Operational state, like run leases: not events, not replayed.
-- `tags`: the tags a worker must have, sorted, comma-separated ('' = any worker).
CREATE TABLE work (
    run_id        INTEGER PRIMARY KEY,
    tags          TEXT NOT NULL DEFAULT '',
    queued_at     INTEGER NOT NULL,
    claimed_by    TEXT,
    lease_expires INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX work_by_age ON work (queued_at, run_id);
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    tags         TEXT NOT NULL DEFAULT '',
    concurrency  INTEGER NOT NULL,
    lease_ms     INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER
);
