-- 0017: the operator's health view. `heartbeats` keeps, per kind of routine work
-- (`tick`, `backup`), when it last happened, who did it and what it said: what
-- `aios status` shows as "is something ticking" and "the last backup". These are
-- observations of the routine, not state of runs: each write replaces the row.

CREATE TABLE heartbeats (
    name   TEXT PRIMARY KEY,      -- tick | backup
    at     INTEGER NOT NULL,
    by     TEXT NOT NULL,         -- `aios tick 123@host`, `aios daemon 123@host`
    detail TEXT NOT NULL          -- JSON
) WITHOUT ROWID;
