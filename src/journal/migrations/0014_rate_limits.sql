-- 0014: rate limits (`[rate]` in config.toml) and a step's remarks.
--
-- `rate_grants` holds the turns given out per target (an HTTP host, `mcp:NAME`,
-- `llm:NAME`, `smtp:NAME`), past and reserved ahead, so that every process using
-- this journal spaces its calls together. Operational, like a run's lease: not a
-- projection of events (a step's wait is journaled as `step_throttled`), trimmed
-- as turns age out of their window.
CREATE TABLE rate_grants (
    target TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX rate_grants_by_target ON rate_grants (target, at);

-- A step waiting for its turn: until when, and under which limit (set by
-- `step_throttled`, cleared when the step starts, calls or ends).
ALTER TABLE steps ADD COLUMN throttled_until INTEGER;
ALTER TABLE steps ADD COLUMN throttled_by TEXT;
