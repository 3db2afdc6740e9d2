-- 0021: cost flat as history grows (issue 15 part 7). Each command reads what it
-- shows or what is due, not the history behind it: these indexes answer the
-- listing and spending questions from small index entries, without reading the
-- rows (whose actions, evidence, requests and replies run to kilobytes).

-- Whether an offline heuristic (no LLM) drafted some of an item (an agent of its
-- `evidence.agents` has `"heuristic": true`): `aios inbox list` says so on each line.
-- Written with the item (it never changes), so the list reads no evidence.
ALTER TABLE proposals ADD COLUMN offline INTEGER;
UPDATE proposals SET offline = 1
 WHERE json_valid(evidence) AND json_type(evidence) = 'object'
   AND json_type(evidence, '$.agents') = 'array'
   AND EXISTS (SELECT 1 FROM json_each(evidence, '$.agents') a
               WHERE a.type = 'object' AND json_type(a.value, '$.heuristic') = 'true');

-- `aios inbox list` and the TUI list the pending items from this index alone: the
-- columns of a line, and the two evidence values the TUI's list reads (`status` is
-- in it too: SQLite covers a query with an index only when every column it names is).
CREATE INDEX proposals_pending_list ON proposals (
    id, status, run_id, kind, step_id, created_at, deadline, on_timeout, reminders, offline,
    summary, json_extract(evidence, '$.confidence'), json_extract(evidence, '$.versions')
) WHERE status = 'pending';

-- Spending and tokens over a period (`aios budget`, `aios status`, `aios stats`,
-- the caps checked before each LLM call) are summed from this index alone: it
-- replaces the index of calls by time, which made each sum read the calls' rows.
DROP INDEX IF EXISTS llm_calls_by_time;
CREATE INDEX llm_calls_spend ON llm_calls (at, cost_usd, tokens_in, tokens_out, run_id, persona);

-- `aios runs` and the TUI show each run's steps done out of its steps: counted from
-- this index, without reading the steps' rows (their outputs fill the pages).
CREATE INDEX steps_by_run_status ON steps (run_id, status);

-- `aios stats`: the items decided in its window, the runs failed in it, and the
-- outcomes recorded in it, without reading the rest of the history.
CREATE INDEX proposals_decided ON proposals (decided_at, created_at, run_id) WHERE decided_at IS NOT NULL;
CREATE INDEX runs_by_status_updated ON runs (status, updated_at);
CREATE INDEX outcomes_by_time ON outcomes (at);

-- How many items of a run are pending, kept by these triggers in the transaction
-- that changes an item (whichever code does it). `aios tick` continues the waiting
-- runs that no item holds: with this count it finds them from the index below,
-- instead of asking each waiting run (10,000 at a gate: 10,000 look-ups a tick).
ALTER TABLE runs ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET pending = (SELECT count(*) FROM proposals p WHERE p.run_id = runs.id AND p.status = 'pending')
 WHERE id IN (SELECT run_id FROM proposals WHERE status = 'pending');
CREATE TRIGGER proposals_pending_added AFTER INSERT ON proposals WHEN new.status = 'pending'
BEGIN UPDATE runs SET pending = pending + 1 WHERE id = new.run_id; END;
CREATE TRIGGER proposals_pending_changed AFTER UPDATE OF status ON proposals
 WHEN (old.status = 'pending') != (new.status = 'pending')
BEGIN
    UPDATE runs SET pending = pending + (CASE WHEN new.status = 'pending' THEN 1 ELSE -1 END)
     WHERE id = new.run_id;
END;
CREATE TRIGGER proposals_pending_removed AFTER DELETE ON proposals WHEN old.status = 'pending'
BEGIN UPDATE runs SET pending = pending - 1 WHERE id = old.run_id; END;
CREATE INDEX runs_waiting_free ON runs (pending, dry, id) WHERE status = 'waiting';
