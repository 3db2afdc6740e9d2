-- 0010 (PostgreSQL): mail watches, as SQLite's 0012: their own append-only event log
-- (`mail_events`) and its projections, `mail_watches` (the registry) and
-- `mail_messages` (one row per message decided, keyed by watch, account, folder,
-- UIDVALIDITY and UID, written in the transaction of the run it starts: one run
-- per message however many ticks fetch it).

CREATE TABLE mail_events (
    seq   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch TEXT NOT NULL,
    type  TEXT NOT NULL,
    data  TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX mail_events_by_watch ON mail_events (watch, seq);

CREATE FUNCTION mail_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER mail_events_no_update BEFORE UPDATE OR DELETE ON mail_events
    FOR EACH ROW EXECUTE FUNCTION mail_events_append_only();

CREATE TABLE mail_watches (
    name          TEXT PRIMARY KEY,
    path          TEXT NOT NULL,
    dir           TEXT NOT NULL,
    source_hash   TEXT NOT NULL REFERENCES sources (hash),
    account       TEXT NOT NULL,
    folder        TEXT NOT NULL,
    search        TEXT NOT NULL,
    after         TEXT NOT NULL,          -- seen | move | keep
    move_to       TEXT,
    max_per_tick  BIGINT NOT NULL,
    inputs        TEXT NOT NULL,
    paused        BOOLEAN NOT NULL DEFAULT false,
    uidvalidity   BIGINT,                 -- at the last poll (NULL: never polled)
    failing_since BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE mail_messages (
    watch       TEXT NOT NULL,
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    uid         BIGINT NOT NULL,
    message_id  TEXT,
    key         TEXT NOT NULL,            -- the Message-ID, or a hash of the headers
    status      TEXT NOT NULL,            -- started | malformed | duplicate
    run_id      BIGINT REFERENCES runs (id),
    notice_id   BIGINT,
    received_at BIGINT NOT NULL,
    flagged_at  BIGINT,                   -- NULL: `after` still to apply
    PRIMARY KEY (watch, account, folder, uidvalidity, uid)
);
CREATE INDEX mail_messages_by_key ON mail_messages (watch, key);
CREATE INDEX mail_messages_by_run ON mail_messages (run_id);
CREATE INDEX mail_messages_recent ON mail_messages (watch, received_at);
CREATE INDEX mail_messages_pending ON mail_messages (watch) WHERE flagged_at IS NULL;
