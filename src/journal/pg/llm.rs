//! The LLM call ledger on PostgreSQL: `journal::llm`'s reads (calls, spending over
//! periods, raises granted), on the `llm_calls` projection of `llm_call` events.

use postgres::Row;

use super::PgJournal;
use crate::clock::Millis;
use crate::error::Result;
use crate::journal::CallFilter;
use crate::journal::store::LlmLedger;
use crate::journal::types::*;

fn read_call(r: &Row) -> LlmCallRecord {
    let request: &str = r.get(9);
    LlmCallRecord {
        id: r.get(0),
        run_id: r.get(1),
        workflow: r.get(2),
        at: r.get(3),
        call: LlmCall {
            step: r.get(4),
            attempt: r.get::<_, i64>(5) as u32,
            alias: r.get(6),
            provider: r.get(7),
            model: r.get(8),
            request: serde_json::from_str(request).unwrap_or(serde_json::Value::Null),
            response: r.get(10),
            error: r.get(11),
            tokens_in: r.get::<_, i64>(12) as u64,
            tokens_out: r.get::<_, i64>(13) as u64,
            cost_usd: r.get(14),
            latency_ms: r.get::<_, i64>(15) as u64,
            http_attempts: r.get::<_, i64>(16) as u32,
            heuristic: r.get(17),
            finish_reason: r.get(18),
            failure: r.get(19),
            persona: r.get(20),
            tool_calls: Vec::new(),
        },
    }
}

impl PgJournal {
    fn sum_f64(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<f64> {
        Ok(self.conn().query_one(sql, params)?.get(0))
    }
}

impl LlmLedger for PgJournal {
    fn llm_calls(&self, f: &CallFilter) -> Result<Vec<LlmCallRecord>> {
        let rows = self.conn().query(
            "SELECT c.id, coalesce(c.run_id, 0), coalesce(r.workflow, '(prompt)'), c.at, c.step_id, c.attempt,
                    c.alias, c.provider, c.model, c.request, c.response, c.error, c.tokens_in, c.tokens_out,
                    c.cost_usd, c.latency_ms, c.http_attempts, c.heuristic, c.finish_reason, c.failure, c.persona
             FROM llm_calls c LEFT JOIN runs r ON r.id = c.run_id
             WHERE ($1::BIGINT IS NULL OR coalesce(c.run_id, 0) = $1)
               AND ($2::TEXT IS NULL OR c.step_id = $2)
               AND ($3::BIGINT IS NULL OR c.attempt = $3)
               AND (NOT $4 OR c.error IS NOT NULL)
               AND ($1::BIGINT IS NOT NULL OR coalesce(r.dry, '') != 'offline')
             ORDER BY c.id DESC LIMIT $5",
            &[
                &f.run,
                &f.step,
                &f.attempt.map(i64::from),
                &f.errors,
                &f.limit.map(|l| l.min(i64::MAX as usize) as i64),
            ],
        )?;
        Ok(rows.iter().map(read_call).collect())
    }

    fn schema_refusal(
        &self,
        provider: &str,
        model: &str,
        url: &str,
        since: Millis,
    ) -> Result<Option<(i64, Millis)>> {
        Ok(self
            .conn()
            .query_opt(
                "SELECT id, at FROM llm_calls
                 WHERE failure = 'schema_refused' AND provider = $1 AND model = $2 AND at >= $4
                   AND request::json->>'url' = $3
                 ORDER BY at DESC LIMIT 1",
                &[&provider, &model, &url, &since],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn llm_tokens_since(&self, since: Millis) -> Result<(u64, u64)> {
        let r = self.conn().query_one(
            "SELECT coalesce(sum(tokens_in), 0)::BIGINT, coalesce(sum(tokens_out), 0)::BIGINT
             FROM llm_calls WHERE at >= $1",
            &[&since],
        )?;
        Ok((r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
    }

    fn llm_spent_by_run(&self, run: i64) -> Result<f64> {
        self.sum_f64(
            "SELECT coalesce(sum(cost_usd), 0.0) FROM llm_calls WHERE run_id = $1",
            &[&run],
        )
    }

    fn llm_spent_since(&self, since: Millis) -> Result<f64> {
        self.sum_f64(
            "SELECT coalesce(sum(cost_usd), 0.0) FROM llm_calls WHERE at >= $1",
            &[&since],
        )
    }

    fn llm_spent_by_persona_since(&self, persona: &str, since: Millis) -> Result<f64> {
        self.sum_f64(
            "SELECT coalesce(sum(cost_usd), 0.0) FROM llm_calls WHERE persona = $1 AND at >= $2",
            &[&persona, &since],
        )
    }

    fn llm_spend_by_workflow(&self, since: Millis) -> Result<Vec<Spend>> {
        let rows = self.conn().query(
            "SELECT coalesce(r.workflow, '(prompt)'), count(*), coalesce(sum(c.cost_usd), 0.0),
                    coalesce(sum(c.tokens_in), 0)::BIGINT, coalesce(sum(c.tokens_out), 0)::BIGINT
             FROM llm_calls c LEFT JOIN runs r ON r.id = c.run_id WHERE c.at >= $1
               AND coalesce(r.dry, '') != 'offline'
             GROUP BY 1 ORDER BY 3 DESC, 4 + 5 DESC, 1",
            &[&since],
        )?;
        Ok(rows
            .iter()
            .map(|r| Spend {
                workflow: r.get(0),
                calls: r.get(1),
                usd: r.get(2),
                tokens_in: r.get::<_, i64>(3) as u64,
                tokens_out: r.get::<_, i64>(4) as u64,
            })
            .collect())
    }

    fn budget_raised(&self, run: i64) -> Result<f64> {
        self.sum_f64(
            "SELECT coalesce(sum((fields::json->>'raise_usd')::DOUBLE PRECISION), 0.0) FROM proposals
             WHERE run_id = $1 AND kind = 'budget' AND decision = 'approve'",
            &[&run],
        )
    }
}
