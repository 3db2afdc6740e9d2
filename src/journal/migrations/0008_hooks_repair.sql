-- 0008: repair. 0006 gained the `hooks` table after it had been applied, so a
-- database migrated to 0006 before that edit has no `hooks` table. Create it when
-- missing, exactly as 0006 does now (a database that has it is left unchanged).

CREATE TABLE IF NOT EXISTS hooks (
    name        TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    dir         TEXT NOT NULL,
    source_hash TEXT NOT NULL REFERENCES sources (hash),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
