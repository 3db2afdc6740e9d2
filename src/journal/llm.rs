//! Reads of the LLM call ledger: calls, spending over periods, raises granted.

use rusqlite::{OptionalExtension, params};

use super::SqliteJournal;
use super::types::*;
use crate::clock::Millis;
use crate::error::Result;

impl SqliteJournal {
    /// LLM calls that match `f`, newest first. Without a run, those of offline dry
    /// runs (free drafts that rehearsed a run) are left out.
    pub fn llm_calls(&self, f: &CallFilter) -> Result<Vec<LlmCallRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, coalesce(c.run_id, 0), coalesce(r.workflow, '(prompt)'), c.at, c.step_id, c.attempt,
                    c.alias, c.provider, c.model, c.request, c.response, c.error, c.tokens_in, c.tokens_out,
                    c.cost_usd, c.latency_ms, c.http_attempts, c.heuristic, c.finish_reason, c.failure, c.persona
             FROM llm_calls c LEFT JOIN runs r ON r.id = c.run_id
             WHERE (?1 IS NULL OR coalesce(c.run_id, 0) = ?1)
               AND (?2 IS NULL OR c.step_id = ?2)
               AND (?3 IS NULL OR c.attempt = ?3)
               AND (NOT ?4 OR c.error IS NOT NULL)
               AND (?1 IS NOT NULL OR coalesce(r.dry, '') != 'offline')
             ORDER BY c.id DESC LIMIT ?5",
        )?;
        let limit = f.limit.map(|l| l as i64).unwrap_or(-1);
        let rows = stmt.query_map(
            params![f.run, f.step, f.attempt, f.errors, limit],
            read_call,
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// When `provider` (at `url`) last refused the schema form for `model`, at or
    /// after `since`: the call's id and time.
    pub fn schema_refusal(
        &self,
        provider: &str,
        model: &str,
        url: &str,
        since: Millis,
    ) -> Result<Option<(i64, Millis)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, at FROM llm_calls
                 WHERE failure = 'schema_refused' AND provider = ?1 AND model = ?2 AND at >= ?4
                   AND json_extract(request, '$.url') = ?3
                 ORDER BY at DESC LIMIT 1",
            )?
            .query_row(params![provider, model, url, since], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    /// Tokens in and out of every LLM call at or after `since`.
    pub fn llm_tokens_since(&self, since: Millis) -> Result<(u64, u64)> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0) FROM llm_calls WHERE at >= ?1",
            )?
            .query_row(params![since], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
            })?)
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

    /// What the calls of steps running under `persona` cost since `since`.
    pub fn llm_spent_by_persona_since(&self, persona: &str, since: Millis) -> Result<f64> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(cost_usd), 0.0) FROM llm_calls WHERE persona = ?1 AND at >= ?2",
            )?
            .query_row(params![persona, since], |r| r.get(0))?)
    }

    /// Spending per workflow since `since`, most expensive first (then most
    /// tokens); calls of no run count as `(prompt)`.
    pub fn llm_spend_by_workflow(&self, since: Millis) -> Result<Vec<Spend>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT coalesce(r.workflow, '(prompt)'), count(*), coalesce(sum(c.cost_usd), 0.0),
                    coalesce(sum(c.tokens_in), 0), coalesce(sum(c.tokens_out), 0)
             FROM llm_calls c LEFT JOIN runs r ON r.id = c.run_id WHERE c.at >= ?1
               AND coalesce(r.dry, '') != 'offline'
             GROUP BY 1 ORDER BY 3 DESC, 4 + 5 DESC, 1",
        )?;
        let rows = stmt.query_map(params![since], |r| {
            Ok(Spend {
                workflow: r.get(0)?,
                calls: r.get(1)?,
                usd: r.get(2)?,
                tokens_in: r.get::<_, i64>(3)? as u64,
                tokens_out: r.get::<_, i64>(4)? as u64,
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

/// Which calls `llm_calls` returns.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// One run's (0: the calls of no run).
    pub run: Option<i64>,
    pub step: Option<String>,
    pub attempt: Option<u32>,
    /// Only failed or invalid calls.
    pub errors: bool,
    /// At most this many (the newest).
    pub limit: Option<usize>,
}

fn read_call(r: &rusqlite::Row<'_>) -> rusqlite::Result<LlmCallRecord> {
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
            finish_reason: r.get(18)?,
            failure: r.get(19)?,
            persona: r.get(20)?,
            tool_calls: Vec::new(),
        },
    })
}
