-- 0022: a fact the operator sets outside any run (`aios fact set`, or set from an
-- inbox decision) is a `fact_recorded` event under run 0, projected into
-- `fact_versions` in the same transaction, so `aios replay` rebuilds it (before, only
-- a run's `fact` steps and the tombstones of `aios fact unset` were events).
-- The versions set that way before this migration get their events now, in the order
-- they were set, with the instants they were set at.
INSERT INTO events (run_id, step_id, type, data, at)
SELECT 0, NULL, 'fact_recorded',
       json_object('type', 'fact_recorded', 'entity', entity, 'key', key,
                   'value', json(value), 'version', version, 'source', source,
                   'run', run_id, 'step', step_id, 'proposal', proposal_id,
                   'by', set_by, 'note', note),
       at
FROM fact_versions
WHERE unset = 0 AND source IN ('manual', 'decision') AND json_valid(value)
ORDER BY at, entity, key, version;
