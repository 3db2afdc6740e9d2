-- 0008 (PostgreSQL): circuit breakers, as SQLite's 0016: one per connector target
-- (`http:HOST`, `smtp:ACCOUNT`, `mcp:SERVER`, `llm:PROVIDER`). Their own append-only
-- event log (`breaker_events`) and its projection (`breakers`), written in one
-- transaction. A step held by an open breaker is `waiting` with `steps.held` naming
-- the target (that column is 0001's).

CREATE TABLE breaker_events (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target TEXT NOT NULL,
    type   TEXT NOT NULL,
    data   TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX breaker_events_by_target ON breaker_events (target, seq);

CREATE FUNCTION breaker_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER breaker_events_no_update BEFORE UPDATE OR DELETE ON breaker_events
    FOR EACH ROW EXECUTE FUNCTION breaker_events_append_only();

CREATE TABLE breakers (
    target     TEXT PRIMARY KEY,
    state      TEXT NOT NULL,           -- closed | open | half_open
    failures   BIGINT NOT NULL,
    trips      BIGINT NOT NULL,
    opened_at  BIGINT,
    until      BIGINT,
    probe      TEXT,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);

CREATE INDEX steps_held ON steps (held) WHERE held IS NOT NULL AND status = 'waiting';
