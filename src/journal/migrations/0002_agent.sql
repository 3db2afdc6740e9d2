-- 0002: the LLM call ledger (agent steps). A projection of `llm_call` events:
-- rebuilt by `aios replay`, written in the same transaction as its event.
-- Requests hold the conversation and the endpoint, never headers or keys.

CREATE TABLE llm_calls (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    alias       TEXT NOT NULL,
    provider    TEXT NOT NULL,
    model       TEXT NOT NULL,
    request     TEXT NOT NULL,
    response    TEXT,
    error       TEXT,
    tokens_in   INTEGER NOT NULL,
    tokens_out  INTEGER NOT NULL,
    cost_usd    REAL NOT NULL,
    latency_ms  INTEGER NOT NULL,
    http_attempts INTEGER NOT NULL,
    heuristic   INTEGER NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX llm_calls_by_run ON llm_calls (run_id, id);
CREATE INDEX llm_calls_by_time ON llm_calls (at);
