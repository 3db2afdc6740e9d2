-- 0018: cost flat as history grows. `aios tick` asks, of every waiting run,
-- whether an inbox item of it is pending: without this index SQLite answered with
-- proposals_by_status, reading every pending item once per waiting run (10,000
-- waiting runs: 100 million rows, seconds per tick). The partial index holds only
-- pending items and covers the question (run_id, status), so each one is one seek
-- in a small index, without reading the item.

CREATE INDEX IF NOT EXISTS proposals_pending_by_run ON proposals (run_id, status) WHERE status = 'pending';

-- `aios status` counts pending items by kind with the oldest of each: from this
-- index alone, without reading the items.
CREATE INDEX IF NOT EXISTS proposals_pending_by_kind ON proposals (kind, created_at) WHERE status = 'pending';

-- The same question skips dry runs (`dry IS NULL`): with `dry` in the index the
-- waiting runs are listed from it alone, without reading each run's row.
CREATE INDEX IF NOT EXISTS runs_by_status_dry ON runs (status, dry, id);
