-- 0013: notifications: what `aios tick` and `aios daemon` tell the operator through
-- the channels of [notify] in config.toml (an item waited too long, a run failed, a
-- schedule is late or failing, a budget stop, the daily digest). Their own
-- append-only event log (`notify_events`) and its projection (`notifications`), one
-- row per (key, channel): queued once however many ticks race, sent by the one tick
-- that claims it, retried with a backoff when sending fails.

CREATE TABLE notify_events (
    seq          INTEGER PRIMARY KEY,
    notification INTEGER NOT NULL,
    type         TEXT NOT NULL,
    data         TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX notify_events_by_notification ON notify_events (notification, seq);

CREATE TRIGGER notify_events_no_update BEFORE UPDATE ON notify_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER notify_events_no_delete BEFORE DELETE ON notify_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    -- what it is about: `waiting:12`, `failed:3:1795253400000`, `digest:2026-11-21`
    key         TEXT NOT NULL,
    channel     TEXT NOT NULL,
    -- waiting | failed | schedule | budget | digest
    event       TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    -- pending | sent | failed (gave up)
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    -- when it may be tried (again)
    next_at     INTEGER NOT NULL,
    -- the tick sending it, until when
    claimed_by  TEXT,
    claim_until INTEGER,
    error       TEXT,
    reply       TEXT,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    UNIQUE (key, channel)
);
CREATE INDEX notifications_due ON notifications (status, next_at);
