-- 0004 (PostgreSQL): rate-limit turns, as SQLite's 0014: the turns given out per
-- target, past and reserved ahead; operational (a step's wait is journaled as
-- `step_throttled`), trimmed as turns age out of their window.

CREATE TABLE rate_grants (
    target TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX rate_grants_by_target ON rate_grants (target, at);
