-- 0009 (PostgreSQL): notifications, as SQLite's 0013: their own append-only event
-- log (`notify_events`) and its projection (`notifications`), one row per (key,
-- channel): queued once however many ticks race (an advisory lock on each key and
-- channel, backed by the unique key), claimed by one tick (`FOR UPDATE SKIP
-- LOCKED`), its outcome recorded by the claimant only. Ids come from a sequence.

CREATE TABLE notify_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification BIGINT NOT NULL,
    type         TEXT NOT NULL,
    data         TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX notify_events_by_notification ON notify_events (notification, seq);

CREATE FUNCTION notify_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER notify_events_no_update BEFORE UPDATE OR DELETE ON notify_events
    FOR EACH ROW EXECUTE FUNCTION notify_events_append_only();

CREATE SEQUENCE notification_ids;

CREATE TABLE notifications (
    id          BIGINT PRIMARY KEY,
    key         TEXT NOT NULL,
    channel     TEXT NOT NULL,
    event       TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL,          -- pending | sent | failed (gave up)
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    claimed_by  TEXT,
    claim_until BIGINT,
    error       TEXT,
    reply       TEXT,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT,
    UNIQUE (key, channel)
);
CREATE INDEX notifications_due ON notifications (status, next_at);
