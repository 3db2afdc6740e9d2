-- 0003 (PostgreSQL): the LLM call ledger, as SQLite's 0002, 0010 and 0019: a
-- projection of `llm_call` events (run_id NULL for a call of no run).

CREATE TABLE llm_calls (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        BIGINT REFERENCES runs (id),
    step_id       TEXT NOT NULL,
    attempt       BIGINT NOT NULL,
    alias         TEXT NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    request       TEXT NOT NULL,
    response      TEXT,
    error         TEXT,
    tokens_in     BIGINT NOT NULL,
    tokens_out    BIGINT NOT NULL,
    cost_usd      DOUBLE PRECISION NOT NULL,
    latency_ms    BIGINT NOT NULL,
    http_attempts BIGINT NOT NULL,
    heuristic     BOOLEAN NOT NULL,
    at            BIGINT NOT NULL,
    finish_reason TEXT,
    failure       TEXT,
    persona       TEXT
);
CREATE INDEX llm_calls_by_run ON llm_calls (run_id, id);
CREATE INDEX llm_calls_by_time ON llm_calls (at);
CREATE INDEX llm_calls_schema_refusals ON llm_calls (provider, model, at)
    WHERE failure = 'schema_refused';
