-- 0003: memory. Versioned facts, searchable documents (notes, decisions, outcomes)
-- with a full-text index and optional embedding vectors, and run outcomes.
-- Never edit an applied migration; add a new file instead.

-- Every version of every fact, append-only. The current value of (entity, key) is
-- its highest version. Versions set by a run are projected from that run's
-- `fact_set` events; manual ones (`aios fact set`) are recorded here directly.
CREATE TABLE fact_versions (
    entity      TEXT NOT NULL,
    key         TEXT NOT NULL,
    version     INTEGER NOT NULL,
    value       TEXT NOT NULL,            -- JSON
    source      TEXT NOT NULL,            -- manual | run | decision
    run_id      INTEGER,
    step_id     TEXT,
    proposal_id INTEGER,
    note        TEXT,
    set_by      TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (entity, key, version)
) WITHOUT ROWID;
CREATE INDEX fact_versions_by_run ON fact_versions (run_id) WHERE run_id IS NOT NULL;
CREATE TRIGGER fact_versions_no_update BEFORE UPDATE ON fact_versions
BEGIN SELECT RAISE(ABORT, 'fact versions are append-only'); END;

-- Searchable documents. `note`: text the operator or a `remember` step wrote;
-- `decision`: an inbox decision (projected from `proposal_decided`); `outcome`:
-- measured results attached to a run (projected from `outcome_recorded`).
CREATE TABLE memory_docs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    source      TEXT,
    run_id      INTEGER,
    step_id     TEXT,
    workflow    TEXT,
    proposal_id INTEGER,
    decision    TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX memory_docs_by_run ON memory_docs (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX memory_docs_decisions ON memory_docs (workflow, step_id, id) WHERE kind = 'decision';

-- Full-text index over the documents (external content: the text is stored once).
CREATE VIRTUAL TABLE memory_fts USING fts5(
    text, tags, content = 'memory_docs', content_rowid = 'id', tokenize = 'porter unicode61'
);
-- Document frequency of each indexed term (to leave out words bm25 gives no weight).
CREATE VIRTUAL TABLE memory_fts_terms USING fts5vocab(memory_fts, 'row');
CREATE TRIGGER memory_docs_ai AFTER INSERT ON memory_docs BEGIN
    INSERT INTO memory_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
END;
CREATE TRIGGER memory_docs_ad AFTER DELETE ON memory_docs BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
END;
CREATE TRIGGER memory_docs_au AFTER UPDATE ON memory_docs BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
    INSERT INTO memory_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
END;

-- Embedding vectors (a derived index, filled when [embeddings] is configured):
-- little-endian f32, and a 1-bit-per-dimension sign sketch scanned first.
CREATE TABLE memory_vectors (
    doc_id INTEGER PRIMARY KEY REFERENCES memory_docs (id) ON DELETE CASCADE,
    model  TEXT NOT NULL,
    dim    INTEGER NOT NULL,
    vec    BLOB NOT NULL
);
CREATE TABLE memory_sketches (
    doc_id INTEGER PRIMARY KEY REFERENCES memory_docs (id) ON DELETE CASCADE,
    bits   BLOB NOT NULL
);

-- Measured results of runs (latest value per key), projected from `outcome_recorded`.
CREATE TABLE outcomes (
    run_id  INTEGER NOT NULL REFERENCES runs (id),
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,                 -- JSON
    step_id TEXT,
    at      INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- Decisions taken before this migration become searchable too.
INSERT INTO memory_docs (kind, text, tags, source, run_id, step_id, workflow, proposal_id, decision, created_at)
SELECT 'decision',
       p.decision || ' ' || p.step_id || ': ' || p.summary
         || coalesce(char(10) || 'reason: ' || p.reason, '')
         || coalesce(char(10) || 'edit:' || char(10) || p.diff, ''),
       '[]', 'decision', p.run_id, p.step_id, r.workflow, p.id, p.decision, coalesce(p.decided_at, p.created_at)
FROM proposals p JOIN runs r ON r.id = p.run_id
WHERE p.decision IS NOT NULL
ORDER BY p.id;
