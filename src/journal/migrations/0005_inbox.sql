-- 0005: snoozed inbox items, the projection of `proposal_snoozed` events. An item
-- snoozed until an instant is hidden from the inbox TUI until then; it stays pending
-- (and decidable) meanwhile. Never edit an applied migration; add a file instead.

CREATE TABLE proposal_snoozes (
    proposal INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL,
    until    INTEGER NOT NULL,
    by       TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX proposal_snoozes_by_run ON proposal_snoozes (run_id);
