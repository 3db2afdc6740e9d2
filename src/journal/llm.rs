//! Reads of the LLM call ledger: calls, spending over periods, raises granted.

use rusqlite::params;

use super::Journal;
use super::types::*;
use crate::clock::Millis;
use crate::error::Result;

impl Journal {
    /// LLM calls, oldest first; of one run, or all (but those of offline dry runs:
    /// free drafts that rehearsed a run).
    pub fn llm_calls(&self, run: Option<i64>) -> Result<Vec<LlmCallRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.run_id, r.workflow, c.at, c.step_id, c.attempt, c.alias, c.provider, c.model,
                    c.request, c.response, c.error, c.tokens_in, c.tokens_out, c.cost_usd, c.latency_ms,
                    c.http_attempts, c.heuristic
             FROM llm_calls c JOIN runs r ON r.id = c.run_id
             WHERE (?1 IS NULL AND coalesce(r.dry, '') != 'offline' OR c.run_id = ?1) ORDER BY c.id",
        )?;
        let rows = stmt.query_map(params![run], |r| {
            let request: String = r.get(9)?;
            Ok(LlmCallRecord {
                id: r.get(0)?,
                run_id: r.get(1)?,
                workflow: r.get(2)?,
                at: r.get(3)?,
                call: LlmCall {
                    step: r.get(4)?,
                    attempt: r.get(5)?,
                    alias: r.get(6)?,
                    provider: r.get(7)?,
                    model: r.get(8)?,
                    request: serde_json::from_str(&request).unwrap_or(serde_json::Value::Null),
                    response: r.get(10)?,
                    error: r.get(11)?,
                    tokens_in: r.get::<_, i64>(12)? as u64,
                    tokens_out: r.get::<_, i64>(13)? as u64,
                    cost_usd: r.get(14)?,
                    latency_ms: r.get::<_, i64>(15)? as u64,
                    http_attempts: r.get(16)?,
                    heuristic: r.get(17)?,
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// What a run's LLM calls cost.
    pub fn llm_spent_by_run(&self, run: i64) -> Result<f64> {
        Ok(self
            .conn
            .prepare_cached("SELECT coalesce(sum(cost_usd), 0.0) FROM llm_calls WHERE run_id = ?1")?
            .query_row(params![run], |r| r.get(0))?)
    }

    /// What every LLM call at or after `since` cost.
    pub fn llm_spent_since(&self, since: Millis) -> Result<f64> {
        Ok(self
            .conn
            .prepare_cached("SELECT coalesce(sum(cost_usd), 0.0) FROM llm_calls WHERE at >= ?1")?
            .query_row(params![since], |r| r.get(0))?)
    }

    /// Spending per workflow since `since`, most expensive first.
    pub fn llm_spend_by_workflow(&self, since: Millis) -> Result<Vec<Spend>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.workflow, count(*), coalesce(sum(c.cost_usd), 0.0)
             FROM llm_calls c JOIN runs r ON r.id = c.run_id
             WHERE c.at >= ?1 AND coalesce(r.dry, '') != 'offline'
             GROUP BY r.workflow ORDER BY 3 DESC, 1",
        )?;
        let rows = stmt.query_map(params![since], |r| {
            Ok(Spend {
                workflow: r.get(0)?,
                calls: r.get(1)?,
                usd: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// USD the operator allowed a run beyond its caps (`aios approve ID --raise USD`
    /// on its budget items).
    pub fn budget_raised(&self, run: i64) -> Result<f64> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(json_extract(fields, '$.raise_usd')), 0.0) FROM proposals
                 WHERE run_id = ?1 AND kind = 'budget' AND decision = 'approve'",
            )?
            .query_row(params![run], |r| r.get(0))?)
    }
}
