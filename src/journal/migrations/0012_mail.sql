-- 0012: mail watches: workflows whose `[trigger] imap` starts one run per message of
-- an IMAP folder. Their own append-only event log (`mail_events`) and the
-- projections derived from it: `mail_watches` (the registry, like `schedules`) and
-- `mail_messages` (one row per message decided: a run started, a malformed message
-- put in the inbox as a notice, or a message already handled before the folder's
-- UIDVALIDITY changed). A message is keyed by (watch, account, folder, UIDVALIDITY,
-- UID) and its row is written in the same transaction as the run it starts, so it
-- starts exactly one run however many `aios tick` processes fetch it.

CREATE TABLE mail_events (
    seq   INTEGER PRIMARY KEY,
    watch TEXT NOT NULL,
    type  TEXT NOT NULL,
    data  TEXT NOT NULL,
    at    INTEGER NOT NULL
);
CREATE INDEX mail_events_by_watch ON mail_events (watch, seq);

CREATE TRIGGER mail_events_no_update BEFORE UPDATE ON mail_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER mail_events_no_delete BEFORE DELETE ON mail_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE mail_watches (
    name          TEXT PRIMARY KEY,
    path          TEXT NOT NULL,
    dir           TEXT NOT NULL,
    source_hash   TEXT NOT NULL REFERENCES sources (hash),
    account       TEXT NOT NULL,
    folder        TEXT NOT NULL,
    search        TEXT NOT NULL,
    -- what is done to a message once its run is recorded: seen | move | keep
    after         TEXT NOT NULL,
    move_to       TEXT,
    max_per_tick  INTEGER NOT NULL,
    inputs        TEXT NOT NULL,
    paused        INTEGER NOT NULL DEFAULT 0,
    -- the folder's UIDVALIDITY when last polled (NULL: never polled)
    uidvalidity   INTEGER,
    -- a failure streak: set by the first poll that fails, cleared by the next that works
    failing_since INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE mail_messages (
    watch       TEXT NOT NULL,
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    -- the Message-ID header, when the message has one
    message_id  TEXT,
    -- the Message-ID, or a hash of the header block: how a message is recognized
    -- after the folder's UIDVALIDITY changed
    key         TEXT NOT NULL,
    -- started | malformed | duplicate
    status      TEXT NOT NULL,
    run_id      INTEGER REFERENCES runs (id),
    notice_id   INTEGER,
    received_at INTEGER NOT NULL,
    -- when what `after` says was applied to the message in its folder (the \Seen
    -- flag, the move); set when it is recorded when there is nothing to apply
    -- (after = keep, a malformed message). NULL: still to do.
    flagged_at  INTEGER,
    PRIMARY KEY (watch, account, folder, uidvalidity, uid)
) WITHOUT ROWID;
CREATE INDEX mail_messages_by_key ON mail_messages (watch, key);
CREATE INDEX mail_messages_by_run ON mail_messages (run_id);
CREATE INDEX mail_messages_recent ON mail_messages (watch, received_at);
CREATE INDEX mail_messages_pending ON mail_messages (watch) WHERE flagged_at IS NULL;
