-- 0011: dry runs (`aios run --dry-run`). A dry run is journaled like any run but
-- kept apart: `runs.dry` says how it was made (NULL for a real run, 'offline' or
-- 'llm'), listings and statistics leave it out, and `aios runs --dry --prune`
-- deletes it, its events included: the append-only trigger spares the events of
-- dry runs (and only theirs). `dry_pruned` keeps the highest id pruned, so a new
-- run never takes the id of a removed one. Self-contained: it may be renumbered at
-- merge time.

ALTER TABLE runs ADD COLUMN dry TEXT;
CREATE INDEX runs_dry ON runs (id) WHERE dry IS NOT NULL;

DROP TRIGGER events_no_delete;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
WHEN NOT EXISTS (SELECT 1 FROM runs WHERE id = OLD.run_id AND dry IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE dry_pruned (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_run INTEGER NOT NULL
);
