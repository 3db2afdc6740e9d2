-- 0010: the LLM call ledger records why each reply stopped (`finish_reason`, as the
-- provider says it: stop, length, end_turn, max_tokens, tool_use) and why a call
-- failed (`failure`: transient | fatal | schema_refused | deadline), and takes calls
-- that belong to no run (`aios llm prompt`: journaled under run 0, stored with a
-- NULL run_id). SQLite cannot relax a NOT NULL in place: the table is rebuilt with
-- its rows (a projection of `llm_call` events; `aios replay` still rebuilds it).

CREATE TABLE llm_calls_0010 (
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
);
INSERT INTO llm_calls_0010 (id, run_id, step_id, attempt, alias, provider, model, request,
    response, error, tokens_in, tokens_out, cost_usd, latency_ms, http_attempts, heuristic, at)
SELECT id, run_id, step_id, attempt, alias, provider, model, request,
    response, error, tokens_in, tokens_out, cost_usd, latency_ms, http_attempts, heuristic, at
FROM llm_calls;
DROP TABLE llm_calls;
ALTER TABLE llm_calls_0010 RENAME TO llm_calls;
CREATE INDEX llm_calls_by_run ON llm_calls (run_id, id);
CREATE INDEX llm_calls_by_time ON llm_calls (at);
-- A server's refusal of the schema form is remembered from these rows (per
-- provider, model and endpoint): later calls ask for plain JSON at once.
CREATE INDEX llm_calls_schema_refusals ON llm_calls (provider, model, at)
    WHERE failure = 'schema_refused';
