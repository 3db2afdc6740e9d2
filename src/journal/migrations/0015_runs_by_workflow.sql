-- 0015: runs by workflow name. `aios undo` and a saga (`on_failure = "compensate"`)
-- look up the compensation runs of a run (named `undo of run N`) by name; without
-- this index that read scans every run ever recorded.

CREATE INDEX IF NOT EXISTS runs_by_workflow ON runs (workflow, id);
