-- 0020: `aios fact unset`. A tombstone is a version of a fact with `unset = 1` (its
-- value column holds JSON null): the fact's history keeps it, and the fact has no
-- current value until it is set again. Tombstones are projected from `fact_unset`
-- events journaled under run 0 (they belong to no run); `aios replay` rebuilds them.
-- Self-contained: it only adds a column whose default keeps every existing version.
ALTER TABLE fact_versions ADD COLUMN unset INTEGER NOT NULL DEFAULT 0 CHECK (unset IN (0, 1));
