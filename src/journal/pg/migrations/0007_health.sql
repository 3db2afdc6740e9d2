-- 0007 (PostgreSQL): heartbeats, as SQLite's 0017: per kind of routine work (`tick`,
-- `backup`), when it last happened, who did it and what it said; each write
-- replaces the row.

CREATE TABLE heartbeats (
    name   TEXT PRIMARY KEY,
    at     BIGINT NOT NULL,
    by     TEXT NOT NULL,
    detail TEXT NOT NULL
);
