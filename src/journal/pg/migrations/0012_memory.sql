-- 0012 (PostgreSQL): memory, as SQLite's 0003, 0020, 0021 (outcomes by time) and
-- 0022: every version of every fact (append-only; tombstones of `fact_unset`), the
-- searchable documents (notes, decisions, outcomes) with a full-text `tsvector`
-- column and its GIN index, embedding vectors, the outcomes of runs. Self-contained:
-- it only creates what it names, and indexes the decisions already taken.

-- Words as SQLite's `porter unicode61` tokenizer cuts them: punctuation and spaces
-- separate words (so `open_rate`, `customer:acme` and `bob@acme.com` are words a
-- search finds one by one), stemmed in English (Snowball, the Porter stemmer's
-- successor), with no stop word left out (FTS5 keeps every word).
CREATE FUNCTION aios_memory_words(t TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT regexp_replace(t, '[[:punct:][:space:]]+', ' ', 'g') $$;
CREATE TEXT SEARCH DICTIONARY aios_memory_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION aios_memory (COPY = english);
ALTER TEXT SEARCH CONFIGURATION aios_memory
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
    WITH aios_memory_stem;
-- The OR of the terms of a query.
CREATE AGGREGATE aios_tsquery_or(tsquery) (SFUNC = tsquery_or, STYPE = tsquery);

-- Every version of every fact. The current value of (entity, key) is its highest
-- version, unless that one is a tombstone (`unset`, its value JSON null).
CREATE TABLE fact_versions (
    entity      TEXT NOT NULL,
    key         TEXT NOT NULL,
    version     BIGINT NOT NULL,
    value       TEXT NOT NULL,            -- JSON
    source      TEXT NOT NULL,            -- manual | run | decision
    run_id      BIGINT,
    step_id     TEXT,
    proposal_id BIGINT,
    note        TEXT,
    set_by      TEXT,
    at          BIGINT NOT NULL,
    unset       BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (entity, key, version)
);
CREATE INDEX fact_versions_by_run ON fact_versions (run_id) WHERE run_id IS NOT NULL;
CREATE FUNCTION fact_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'fact versions are append-only';
END $$;
CREATE TRIGGER fact_versions_no_update BEFORE UPDATE ON fact_versions
    FOR EACH ROW EXECUTE FUNCTION fact_versions_append_only();

-- Document ids: allocated by the database, never reused (a note's id is allocated
-- in its step's transaction and carried by its `note_added` event).
CREATE SEQUENCE memory_doc_ids;

-- Searchable documents. `note`: text the operator or a `remember` step wrote;
-- `decision`: an inbox decision (projected from `proposal_decided`); `outcome`:
-- measured results attached to a run (projected from `outcome_recorded`). `fts`
-- weighs the text (A) above the tags (B), as SQLite's bm25 weights 1.0 and 0.5.
CREATE TABLE memory_docs (
    id          BIGINT PRIMARY KEY DEFAULT nextval('memory_doc_ids'),
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    source      TEXT,
    run_id      BIGINT,
    step_id     TEXT,
    workflow    TEXT,
    proposal_id BIGINT,
    decision    TEXT,
    created_at  BIGINT NOT NULL,
    fts         tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('aios_memory', aios_memory_words(text)), 'A')
                    || setweight(to_tsvector('aios_memory', aios_memory_words(tags)), 'B')
                ) STORED
);
ALTER SEQUENCE memory_doc_ids OWNED BY memory_docs.id;
CREATE INDEX memory_docs_fts ON memory_docs USING gin (fts);
CREATE INDEX memory_docs_by_run ON memory_docs (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX memory_docs_decisions ON memory_docs (workflow, step_id, id) WHERE kind = 'decision';

-- Embedding vectors (a derived index, filled when [embeddings] is configured):
-- exact f32 values, and a 1-bit-per-dimension sign sketch scanned first.
CREATE TABLE memory_vectors (
    doc_id BIGINT PRIMARY KEY REFERENCES memory_docs (id) ON DELETE CASCADE,
    model  TEXT NOT NULL,
    dim    BIGINT NOT NULL,
    vec    REAL[] NOT NULL
);
CREATE TABLE memory_sketches (
    doc_id BIGINT PRIMARY KEY REFERENCES memory_docs (id) ON DELETE CASCADE,
    bits   BYTEA NOT NULL
);

-- Measured results of runs (latest value per key), projected from `outcome_recorded`.
CREATE TABLE outcomes (
    run_id  BIGINT NOT NULL REFERENCES runs (id),
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,                 -- JSON
    step_id TEXT,
    at      BIGINT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX outcomes_by_time ON outcomes (at);

-- Decisions taken before this migration become searchable too.
INSERT INTO memory_docs (kind, text, tags, source, run_id, step_id, workflow, proposal_id, decision, created_at)
SELECT 'decision',
       p.decision || ' ' || p.step_id || ': ' || p.summary
         || coalesce(chr(10) || 'reason: ' || p.reason, '')
         || coalesce(chr(10) || 'edit:' || chr(10) || p.diff, ''),
       '[]', 'decision', p.run_id, p.step_id, r.workflow, p.id, p.decision, coalesce(p.decided_at, p.created_at)
FROM proposals p JOIN runs r ON r.id = p.run_id
WHERE p.decision IS NOT NULL
ORDER BY p.id;
