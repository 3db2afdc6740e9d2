-- 0016: circuit breakers, one per connector target (`http:HOST`, `smtp:ACCOUNT`,
-- `mcp:SERVER`, `llm:PROVIDER`). Their own append-only event log
-- (breaker_events) and its projection (`breakers`), written in one transaction.
-- A step whose call waits for an open breaker is `waiting` with `held` naming the
-- target and `wake_at` when it may go (projected from its run's `step_held`).

CREATE TABLE breaker_events (
    seq    INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    type   TEXT NOT NULL,
    data   TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX breaker_events_by_target ON breaker_events (target, seq);

CREATE TRIGGER breaker_events_no_update BEFORE UPDATE ON breaker_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER breaker_events_no_delete BEFORE DELETE ON breaker_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE breakers (
    target     TEXT PRIMARY KEY,
    state      TEXT NOT NULL,           -- closed | open | half_open
    failures   INTEGER NOT NULL,
    trips      INTEGER NOT NULL,
    opened_at  INTEGER,
    until      INTEGER,
    probe      TEXT,
    last_error TEXT,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE steps ADD COLUMN held TEXT;
CREATE INDEX steps_held ON steps (held) WHERE held IS NOT NULL AND status = 'waiting';
