-- 0005 (PostgreSQL): notices, as SQLite's 0007: inbox items about schedules that
-- belong to no run, ids from the inbox's sequence (shared with proposals), raised
-- once per key.

CREATE TABLE notices (
    id              BIGINT PRIMARY KEY,
    schedule        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL UNIQUE,
    summary         TEXT NOT NULL,
    data            TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT,
    reason          TEXT
);
CREATE INDEX notices_by_status ON notices (status, id);
