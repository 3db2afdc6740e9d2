//! Replay: rebuild a run's projections from its events and compare them with the
//! stored ones. Proves invariant 2 (the log is the source of truth). Read-only: the
//! rebuild happens in a transaction that is always rolled back.

use rusqlite::params;

use super::{SqliteJournal, project};
use crate::error::Result;

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub run: i64,
    pub events: usize,
    /// Human-readable differences; empty when the projections match.
    pub differences: Vec<String>,
}

const SNAPSHOT: &[(&str, &str)] = &[
    (
        "runs",
        "SELECT json_array(id, uid, workflow, path, dir, source_hash, inputs, status, error, created_at, updated_at, finished_at, dry, pending)
         FROM runs WHERE id = ?1",
    ),
    (
        "steps",
        "SELECT json_array(step_id, idx, kind, status, attempts, output, error, started_at, finished_at, wake_at, throttled_until, throttled_by, held)
         FROM steps WHERE run_id = ?1 ORDER BY idx",
    ),
    (
        "proposals",
        "SELECT json_array(id, step_id, attempt, kind, status, summary, action, evidence, decision, reason, fields, edited, diff, decided_by, decided_at, created_at, deadline, on_timeout, reminders, offline)
         FROM proposals WHERE run_id = ?1 ORDER BY id",
    ),
    (
        "llm_calls",
        "SELECT json_array(step_id, attempt, alias, provider, model, request, response, error, tokens_in, tokens_out, cost_usd, latency_ms, http_attempts, heuristic, at, finish_reason, failure)
         FROM llm_calls WHERE run_id = ?1 ORDER BY id",
    ),
    (
        "fact_versions",
        "SELECT json_array(entity, key, version, value, source, step_id, at)
         FROM fact_versions WHERE run_id = ?1 AND source = 'run' ORDER BY entity, key, version",
    ),
    (
        // Notes keep their ids (carried by their events); decisions and outcomes
        // are compared without them. Rebuilt decisions get new ids after the
        // notes' kept ones, so rows are compared in content order, not id order.
        "memory_docs",
        "SELECT json_array(CASE kind WHEN 'note' THEN id END, kind, text, tags, source, step_id, workflow, proposal_id, decision, created_at)
         FROM memory_docs WHERE run_id = ?1 ORDER BY 1",
    ),
    (
        "outcomes",
        "SELECT json_array(key, value, step_id, at) FROM outcomes WHERE run_id = ?1 ORDER BY key",
    ),
    (
        "trust_marks",
        "SELECT json_array(workflow, step, level, by, reason, at) FROM trust_marks WHERE run_id = ?1 ORDER BY id",
    ),
    (
        "proposal_snoozes",
        "SELECT json_array(proposal, until, by, at) FROM proposal_snoozes WHERE run_id = ?1 ORDER BY proposal",
    ),
];

fn snapshot(conn: &rusqlite::Connection, run: i64) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for (table, sql) in SNAPSHOT {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map(params![run], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push((table.to_string(), rows));
    }
    Ok(out)
}

impl SqliteJournal {
    /// Rebuild run `run`'s projections from its events and report any difference.
    pub fn replay(&mut self, run: i64) -> Result<ReplayReport> {
        self.run(run)?;
        let events = self.events(run)?;
        let tx = self.conn.transaction()?;
        // Rows outside the projections (a schedule's fires) point at the run: let the
        // rebuild delete and re-insert it; the transaction is rolled back anyway.
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        let before = snapshot(&tx, run)?;
        tx.execute(
            "DELETE FROM proposal_snoozes WHERE run_id = ?1",
            params![run],
        )?;
        tx.execute("DELETE FROM llm_calls WHERE run_id = ?1", params![run])?;
        tx.execute("DELETE FROM trust_marks WHERE run_id = ?1", params![run])?;
        tx.execute("DELETE FROM outcomes WHERE run_id = ?1", params![run])?;
        tx.execute("DELETE FROM memory_docs WHERE run_id = ?1", params![run])?;
        tx.execute(
            "DELETE FROM fact_versions WHERE run_id = ?1 AND source = 'run'",
            params![run],
        )?;
        tx.execute("DELETE FROM proposals WHERE run_id = ?1", params![run])?;
        tx.execute("DELETE FROM steps WHERE run_id = ?1", params![run])?;
        tx.execute("DELETE FROM runs WHERE id = ?1", params![run])?;
        for e in &events {
            project::apply(&tx, run, &e.event, e.at)?;
        }
        let after = snapshot(&tx, run)?;
        tx.rollback()?;
        let differences = differences(&before, &after);
        Ok(ReplayReport {
            run,
            events: events.len(),
            differences,
        })
    }
}

/// The differences between a run's stored rows and the rows rebuilt from its events,
/// table by table (both backends' replay).
pub(crate) fn differences<T: AsRef<str>, R: PartialEq + std::fmt::Display>(
    before: &[(T, Vec<R>)],
    after: &[(T, Vec<R>)],
) -> Vec<String> {
    let mut out = Vec::new();
    for ((table, a), (_, b)) in before.iter().zip(after.iter()) {
        let table = table.as_ref();
        if a.len() != b.len() {
            out.push(format!(
                "{table}: {} stored rows, {} rebuilt",
                a.len(),
                b.len()
            ));
        }
        for (x, y) in a.iter().zip(b.iter()) {
            if x != y {
                out.push(format!(
                    "{table}: stored {x}\n{:>w$}rebuilt {y}",
                    "",
                    w = table.len() + 2
                ));
            }
        }
    }
    out
}
