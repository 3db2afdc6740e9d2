-- 0006 (PostgreSQL): inbound webhooks, as SQLite's 0006 and 0008: a hook's name, the
-- workflow snapshot it starts, how requests to it are checked and read. Its secret
-- is never here (a 0600 file).

CREATE TABLE hooks (
    name        TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    dir         TEXT NOT NULL,
    source_hash TEXT NOT NULL REFERENCES sources (hash),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    format      TEXT NOT NULL DEFAULT 'aios',
    payload     TEXT,
    tolerance_s BIGINT NOT NULL DEFAULT 300
);
