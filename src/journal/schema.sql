-- version 23
-- Generated from the migrations by journal::schema's test: do not edit.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL,
    step_id TEXT,
    type    TEXT NOT NULL,
    data    TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX events_by_run ON events (run_id, seq);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE sources (
    hash TEXT PRIMARY KEY,
    text TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    uid           TEXT NOT NULL UNIQUE,
    workflow      TEXT NOT NULL,
    path          TEXT,
    dir           TEXT NOT NULL,
    source_hash   TEXT NOT NULL REFERENCES sources (hash),
    inputs        TEXT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    -- operational, not projected: who executes the run now
    lease_owner   TEXT,
    lease_expires INTEGER
, dry TEXT, pending INTEGER NOT NULL DEFAULT 0);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE TABLE steps (
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    output      TEXT,
    error       TEXT,
    started_at  INTEGER,
    finished_at INTEGER, wake_at INTEGER, throttled_until INTEGER, throttled_by TEXT, held TEXT,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;
CREATE TABLE proposals (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    action      TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    decision    TEXT,
    reason      TEXT,
    fields      TEXT,
    edited      TEXT,
    diff        TEXT,
    decided_by  TEXT,
    decided_at  INTEGER,
    created_at  INTEGER NOT NULL, deadline INTEGER, on_timeout TEXT, reminders INTEGER NOT NULL DEFAULT 0, offline INTEGER,
    UNIQUE (run_id, step_id, attempt, kind)
);
CREATE INDEX proposals_by_status ON proposals (status, id);
CREATE TABLE fact_versions (
    entity      TEXT NOT NULL,
    key         TEXT NOT NULL,
    version     INTEGER NOT NULL,
    value       TEXT NOT NULL,            -- JSON
    source      TEXT NOT NULL,            -- manual | run | decision
    run_id      INTEGER,
    step_id     TEXT,
    proposal_id INTEGER,
    note        TEXT,
    set_by      TEXT,
    at          INTEGER NOT NULL, unset INTEGER NOT NULL DEFAULT 0 CHECK (unset IN (0, 1)),
    PRIMARY KEY (entity, key, version)
) WITHOUT ROWID;
CREATE INDEX fact_versions_by_run ON fact_versions (run_id) WHERE run_id IS NOT NULL;
CREATE TRIGGER fact_versions_no_update BEFORE UPDATE ON fact_versions
BEGIN SELECT RAISE(ABORT, 'fact versions are append-only'); END;
CREATE TABLE memory_docs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    source      TEXT,
    run_id      INTEGER,
    step_id     TEXT,
    workflow    TEXT,
    proposal_id INTEGER,
    decision    TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX memory_docs_by_run ON memory_docs (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX memory_docs_decisions ON memory_docs (workflow, step_id, id) WHERE kind = 'decision';
CREATE VIRTUAL TABLE memory_fts USING fts5(
    text, tags, content = 'memory_docs', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE VIRTUAL TABLE memory_fts_terms USING fts5vocab(memory_fts, 'row');
CREATE TRIGGER memory_docs_ai AFTER INSERT ON memory_docs BEGIN
    INSERT INTO memory_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
END;
CREATE TRIGGER memory_docs_ad AFTER DELETE ON memory_docs BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
END;
CREATE TRIGGER memory_docs_au AFTER UPDATE ON memory_docs BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
    INSERT INTO memory_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
END;
CREATE TABLE memory_vectors (
    doc_id INTEGER PRIMARY KEY REFERENCES memory_docs (id) ON DELETE CASCADE,
    model  TEXT NOT NULL,
    dim    INTEGER NOT NULL,
    vec    BLOB NOT NULL
);
CREATE TABLE memory_sketches (
    doc_id INTEGER PRIMARY KEY REFERENCES memory_docs (id) ON DELETE CASCADE,
    bits   BLOB NOT NULL
);
CREATE TABLE outcomes (
    run_id  INTEGER NOT NULL REFERENCES runs (id),
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,                 -- JSON
    step_id TEXT,
    at      INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE schedule_events (
    seq      INTEGER PRIMARY KEY,
    schedule TEXT NOT NULL,
    type     TEXT NOT NULL,
    data     TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX schedule_events_by_name ON schedule_events (schedule, seq);
CREATE TRIGGER schedule_events_no_update BEFORE UPDATE ON schedule_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER schedule_events_no_delete BEFORE DELETE ON schedule_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE schedules (
    name            TEXT PRIMARY KEY,
    path            TEXT NOT NULL,
    dir             TEXT NOT NULL,
    source_hash     TEXT NOT NULL REFERENCES sources (hash),
    cron            TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    overlap         TEXT NOT NULL,
    catch_up        TEXT NOT NULL,
    catch_up_window INTEGER NOT NULL,
    inputs          TEXT NOT NULL,
    paused          INTEGER NOT NULL DEFAULT 0,
    -- every scheduled instant at or before `cursor` has been decided
    cursor          INTEGER NOT NULL,
    -- the first scheduled instant after `cursor` (NULL: never again)
    next_due        INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX schedules_due ON schedules (paused, next_due);
CREATE TABLE fires (
    schedule   TEXT NOT NULL,
    due_at     INTEGER NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT,
    run_id     INTEGER REFERENCES runs (id),
    decided_at INTEGER NOT NULL, first_due_at INTEGER, instants INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (schedule, due_at)
) WITHOUT ROWID;
CREATE INDEX fires_by_run ON fires (run_id);
CREATE INDEX fires_queued ON fires (status, schedule, due_at);
CREATE TABLE proposal_snoozes (
    proposal INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL,
    until    INTEGER NOT NULL,
    by       TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX proposal_snoozes_by_run ON proposal_snoozes (run_id);
CREATE INDEX steps_waking ON steps (wake_at) WHERE wake_at IS NOT NULL AND status = 'waiting';
CREATE INDEX proposals_deadline ON proposals (deadline) WHERE deadline IS NOT NULL AND status = 'pending';
CREATE TABLE hooks (
    name        TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    dir         TEXT NOT NULL,
    source_hash TEXT NOT NULL REFERENCES sources (hash),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
, format TEXT NOT NULL DEFAULT 'aios', payload TEXT, tolerance_s INTEGER NOT NULL DEFAULT 300) WITHOUT ROWID;
CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,
    schedule        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL UNIQUE,
    summary         TEXT NOT NULL,
    data            TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    reason          TEXT
);
CREATE INDEX notices_by_status ON notices (status, id);
CREATE TABLE "llm_calls" (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER REFERENCES runs (id),
    step_id       TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    alias         TEXT NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    request       TEXT NOT NULL,
    response      TEXT,
    error         TEXT,
    tokens_in     INTEGER NOT NULL,
    tokens_out    INTEGER NOT NULL,
    cost_usd      REAL NOT NULL,
    latency_ms    INTEGER NOT NULL,
    http_attempts INTEGER NOT NULL,
    heuristic     INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    finish_reason TEXT,
    failure       TEXT
, persona TEXT);
CREATE INDEX llm_calls_by_run ON llm_calls (run_id, id);
CREATE INDEX llm_calls_schema_refusals ON llm_calls (provider, model, at)
    WHERE failure = 'schema_refused';
CREATE INDEX runs_dry ON runs (id) WHERE dry IS NOT NULL;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
WHEN NOT EXISTS (SELECT 1 FROM runs WHERE id = OLD.run_id AND dry IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE dry_pruned (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_run INTEGER NOT NULL
);
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
CREATE TABLE rate_grants (
    target TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX rate_grants_by_target ON rate_grants (target, at);
CREATE INDEX runs_by_workflow ON runs (workflow, id);
CREATE TABLE breaker_events (
    seq    INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    type   TEXT NOT NULL,
    data   TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX breaker_events_by_target ON breaker_events (target, seq);
CREATE TRIGGER breaker_events_no_update BEFORE UPDATE ON breaker_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER breaker_events_no_delete BEFORE DELETE ON breaker_events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE breakers (
    target     TEXT PRIMARY KEY,
    state      TEXT NOT NULL,           -- closed | open | half_open
    failures   INTEGER NOT NULL,
    trips      INTEGER NOT NULL,
    opened_at  INTEGER,
    until      INTEGER,
    probe      TEXT,
    last_error TEXT,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX steps_held ON steps (held) WHERE held IS NOT NULL AND status = 'waiting';
CREATE TABLE heartbeats (
    name   TEXT PRIMARY KEY,      -- tick | backup
    at     INTEGER NOT NULL,
    by     TEXT NOT NULL,         -- `aios tick 123@host`, `aios daemon 123@host`
    detail TEXT NOT NULL          -- JSON
) WITHOUT ROWID;
CREATE INDEX proposals_pending_by_run ON proposals (run_id, status) WHERE status = 'pending';
CREATE INDEX proposals_pending_by_kind ON proposals (kind, created_at) WHERE status = 'pending';
CREATE INDEX runs_by_status_dry ON runs (status, dry, id);
CREATE TABLE trust_marks (
    id       INTEGER PRIMARY KEY,
    workflow TEXT NOT NULL,
    step     TEXT NOT NULL,
    level    TEXT NOT NULL,            -- promoted | demoted
    by       TEXT NOT NULL,
    reason   TEXT,
    run_id   INTEGER NOT NULL,         -- 0: journaled by hand, of no run
    seq      INTEGER NOT NULL,         -- its event's seq: orders it among decisions
    at       INTEGER NOT NULL
);
CREATE INDEX trust_marks_by_step ON trust_marks (workflow, step, id);
CREATE INDEX proposals_pending_list ON proposals (
    id, status, run_id, kind, step_id, created_at, deadline, on_timeout, reminders, offline,
    summary, json_extract(evidence, '$.confidence'), json_extract(evidence, '$.versions')
) WHERE status = 'pending';
CREATE INDEX llm_calls_spend ON llm_calls (at, cost_usd, tokens_in, tokens_out, run_id, persona);
CREATE INDEX steps_by_run_status ON steps (run_id, status);
CREATE INDEX proposals_decided ON proposals (decided_at, created_at, run_id) WHERE decided_at IS NOT NULL;
CREATE INDEX runs_by_status_updated ON runs (status, updated_at);
CREATE INDEX outcomes_by_time ON outcomes (at);
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
CREATE TABLE work (
    run_id        INTEGER PRIMARY KEY,
    tags          TEXT NOT NULL DEFAULT '',
    queued_at     INTEGER NOT NULL,
    claimed_by    TEXT,
    lease_expires INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX work_by_age ON work (queued_at, run_id);
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    tags         TEXT NOT NULL DEFAULT '',
    concurrency  INTEGER NOT NULL,
    lease_ms     INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER
);
INSERT INTO "sqlite_sequence" ("name", "seq") VALUES ('memory_docs', 0);
