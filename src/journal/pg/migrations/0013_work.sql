-- 0013: the queue of runs handed to workers (`aios run --detach`, or a run whose
-- next step needs `runs_on` tags its driver lacks), and the workers (`aios worker`)
-- that claim them. Operational state, like run leases: not events, not replayed.
-- `tags`: the tags a worker must have, sorted ('{}' = any worker); claimed with
-- `tags <@ the worker's` and `FOR UPDATE SKIP LOCKED`.
CREATE TABLE work (
    run_id        BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    tags          TEXT[] NOT NULL DEFAULT '{}',
    queued_at     BIGINT NOT NULL,
    claimed_by    TEXT,
    lease_expires BIGINT,
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX work_by_age ON work (queued_at, run_id);
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    tags         TEXT[] NOT NULL DEFAULT '{}',
    concurrency  INTEGER NOT NULL,
    lease_ms     BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    stopped_at   BIGINT
);
