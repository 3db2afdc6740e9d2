-- 0011 (PostgreSQL): dry runs are pruned with their events, as SQLite's 0011: the
-- append-only trigger of `events` spares the events of dry runs (and only theirs).
-- Run ids come from a sequence, so a pruned run's id is never taken again (SQLite
-- needs `dry_pruned` for that; PostgreSQL does not).

CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND EXISTS (SELECT 1 FROM runs WHERE id = OLD.run_id AND dry IS NOT NULL) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'events are append-only';
END $$;
