-- 0007: notices: inbox items about schedules that belong to no run (missed fires,
-- a failing schedule). Their ids share the inbox id space with proposals. Raised
-- and acknowledged through `notice_raised` / `notice_acknowledged` events (run 0).

CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,
    schedule        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL UNIQUE,
    summary         TEXT NOT NULL,
    data            TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    reason          TEXT
);
CREATE INDEX notices_by_status ON notices (status, id);
