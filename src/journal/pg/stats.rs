//! The control room's figures on PostgreSQL: `journal::stats` — the same window and
//! the same arithmetic ([`assemble`]), over rows read in PostgreSQL's dialect. Dry
//! runs are left out; recorded outcomes are memory's `outcomes` rows.

use super::PgJournal;
use crate::error::Result;
use crate::journal::stats::{Failures, Rows, Stats, assemble, window};
use crate::journal::store::{LlmLedger, RunStore, StatsStore};

impl StatsStore for PgJournal {
    fn stats(&self, daily_cap_usd: Option<f64>, monthly_cap_usd: Option<f64>) -> Result<Stats> {
        let (start, end, month) = window(self.now());
        let rows = {
            let mut conn = self.conn();
            let spend = conn
                .query(
                    "SELECT (at - $1) / 86400000, sum(cost_usd) FROM llm_calls
                     WHERE at >= $1 AND at < $2 GROUP BY 1",
                    &[&start, &end],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let decided = conn
                .query(
                    "SELECT p.decided_at, p.decided_at - p.created_at FROM proposals p
                     JOIN runs r ON r.id = p.run_id
                     WHERE p.decided_at >= $1 AND p.decided_at < $2 AND r.dry IS NULL",
                    &[&start, &end],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let failures = conn
                .query(
                    "SELECT workflow, count(*) FROM runs
                     WHERE status = 'failed' AND dry IS NULL AND updated_at >= $1 AND updated_at < $2
                     GROUP BY workflow ORDER BY count(*) DESC, workflow COLLATE \"C\"",
                    &[&start, &end],
                )?
                .iter()
                .map(|r| Failures {
                    workflow: r.get(0),
                    failed: r.get(1),
                })
                .collect();
            let outcomes = conn
                .query(
                    "SELECT r.workflow, o.key, o.run_id, o.at, o.value FROM outcomes o
                 JOIN runs r ON r.id = o.run_id
                 WHERE o.at >= $1 AND o.at < $2 AND r.dry IS NULL
                 ORDER BY r.workflow COLLATE \"C\", o.key COLLATE \"C\", o.at, o.run_id",
                    &[&start, &end],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
                .collect();
            Rows {
                spend,
                decided,
                failures,
                outcomes,
                spent_month_usd: 0.0,
            }
        };
        let rows = Rows {
            spent_month_usd: self.llm_spent_since(month)?,
            ..rows
        };
        Ok(assemble(start, rows, daily_cap_usd, monthly_cap_usd))
    }
}
