-- 0019: trust marks. Each row is a step (workflow, step) promoted to decide by
-- policy or demoted back to asking: by hand (`aios trust promote|demote`), by a
-- policy's first automatic decision, or by an edit, a rejection or a low outcome.
-- A projection of `trust_changed` events: of the run whose decision caused it, or
-- of run 0 (by hand); `aios replay` rebuilds a run's rows.
CREATE TABLE trust_marks (
    id       INTEGER PRIMARY KEY,
    workflow TEXT NOT NULL,
    step     TEXT NOT NULL,
    level    TEXT NOT NULL,            -- promoted | demoted
    by       TEXT NOT NULL,
    reason   TEXT,
    run_id   INTEGER NOT NULL,         -- 0: journaled by hand, of no run
    seq      INTEGER NOT NULL,         -- its event's seq: orders it among decisions
    at       INTEGER NOT NULL
);
CREATE INDEX trust_marks_by_step ON trust_marks (workflow, step, id);

-- The persona each LLM call's step ran under: a persona's own spending caps
-- (`max_usd_day`, `max_usd_month`) count its calls. NULL for calls before this.
ALTER TABLE llm_calls ADD COLUMN persona TEXT;
