-- 0009: instants older than a schedule's catch_up_window are skipped together, by
-- one `fires_skipped_old` event; they now have a `fires` row too (until now only
-- the event had them), so every decision is in `recent_fires`. One row covers the
-- range: `due_at` is its last instant, `first_due_at` its first, `instants` how
-- many it holds (1 for every other fire).

ALTER TABLE fires ADD COLUMN first_due_at INTEGER;
ALTER TABLE fires ADD COLUMN instants INTEGER NOT NULL DEFAULT 1;

INSERT OR IGNORE INTO fires (schedule, due_at, status, reason, run_id, decided_at, first_due_at, instants)
SELECT schedule, json_extract(data, '$.last'), 'skipped', 'older than the catch_up_window',
       NULL, at, json_extract(data, '$.first'), json_extract(data, '$.count')
FROM schedule_events WHERE type = 'fires_skipped_old';
